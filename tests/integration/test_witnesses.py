"""Witnesses over real HTTP (c2sp.org/tlog-witness): they cosign consistent checkpoints, the
ledger keeps and serves their cosignatures, proves each checkpoint from the size a witness last
saw (asking again after a 409), and raises the alarm when a witness refuses a forked log signed
with the real key. `ledger verify` then checks a bundle against a quorum of witnesses."""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import shutil
import socket
import struct
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
import uvicorn
from click.testing import CliRunner
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from litestar.testing import TestClient

from api.app import create_app
from api.cli import main
from api.witness_app import create_witness_app
from application.bootstrap import Database, migrate, open_ledger
from application.ledger import DossierLedger
from application.runtime import Runtime
from application.settings import Settings
from application.transparency.alarms import WITNESS_AHEAD, WITNESS_REFUSED, alarm_reasons
from application.transparency.bundle import encode_bundle
from application.transparency.checkpoints import Checkpointer, CheckpointSchedule, checkpointer_for
from application.transparency.cosignature import (
    CosignatureSigner,
    CosignatureVerifier,
    generate_cosigner,
)
from application.transparency.keyfile import load_or_create_signer
from application.transparency.note import Signer
from application.transparency.proofs import export_bundle
from application.transparency.witness import Witness
from application.transparency.witnessing import HttpAnswer, Witnessing, http_post
from projections.audit_log import (
    AUDIT_LOG,
    AuditLogView,
    catch_up_audit_log,
    open_audit_log,
    witnessing_for,
)
from tests.conftest import create_database, drop_database
from tests.integration.test_projections import append, random_histories

ORIGIN = "ledger.h56.example/v1/audit/log"


@dataclass
class RunningWitness:
    url: str
    witness: Witness
    server: uvicorn.Server
    thread: threading.Thread

    @property
    def verifier(self) -> CosignatureVerifier:
        return self.witness.signer.verifier()

    @property
    def vkey(self) -> str:
        return self.verifier.vkey()

    def size(self) -> int:
        state = (
            json.loads(self.witness.state_path.read_text())
            if self.witness.state_path.exists()
            else {}
        )
        return int(state.get(ORIGIN, {}).get("size", 0))


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_witness(name: str, folder: Path, log_signer: Signer) -> RunningWitness:
    signer = CosignatureSigner.from_key(generate_cosigner(name))
    witness = Witness(
        signer, {ORIGIN: log_signer.verifier()}, folder / f"{name.replace('/', '_')}.json"
    )
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            create_witness_app(witness), host="127.0.0.1", port=port, log_level="warning"
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "the witness did not start"
        time.sleep(0.02)
    return RunningWitness(f"http://127.0.0.1:{port}", witness, server, thread)


# --- Fixtures -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def settings(database: Database, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    data_dir: Path = tmp_path_factory.mktemp("witnessed-log")
    return Settings(database_url=database.url, data_dir=data_dir, log_origin=ORIGIN)


@pytest.fixture(scope="module")
def log_signer(settings: Settings) -> Signer:
    return load_or_create_signer(settings.signing_key_path, ORIGIN)


@pytest.fixture(scope="module")
def witnesses(
    tmp_path_factory: pytest.TempPathFactory, log_signer: Signer
) -> Iterator[list[RunningWitness]]:
    folder = tmp_path_factory.mktemp("witnesses")
    running = [
        start_witness(f"witness.example/{name}", folder, log_signer)
        for name in ("thanh-tra", "h57", "late")
    ]
    yield running
    for witness in running:
        witness.server.should_exit = True
        witness.thread.join(10)


@pytest.fixture(scope="module")
def checkpointer(view: AuditLogView, settings: Settings, log_signer: Signer) -> Checkpointer:
    return checkpointer_for(view.log, settings)


class RecordingPost:
    """The real HTTP post, remembering each request's old-size line and answer status."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, int]] = []

    def __call__(self, url: str, body: bytes, timeout: float) -> HttpAnswer:
        answer = http_post(url, body, timeout)
        self.calls.append((body.split(b"\n", 1)[0].decode(), answer.status))
        return answer


def witnessing(view: AuditLogView, settings: Settings, *witnesses: RunningWitness) -> Witnessing:
    configured = Settings.from_environ(
        {"LEDGER_WITNESSES": "; ".join(f"{w.url} {w.vkey}" for w in witnesses)}
    )
    found = witnessing_for(view.log, replace(settings, witnesses=configured.witnesses))
    assert found is not None
    return found


def grow_and_sign(
    ledger: DossierLedger,
    view: AuditLogView,
    checkpointer: Checkpointer,
    database: Database,
    seed: int,
) -> int:
    append(ledger, random_histories(4, seed=seed))
    catch_up_audit_log(database, view)
    signed = checkpointer.checkpoint()
    assert signed is not None
    return signed.tree_size


def verify_cosignature_by_hand(line: str, note_body: str, verifier: CosignatureVerifier) -> int:
    """c2sp.org/tlog-cosignature, read independently: key id, u64 timestamp, Ed25519 signature
    over "cosignature/v1\\ntime <t>\\n" and the checkpoint body. The timestamp."""
    prefix = f"\u2014 {verifier.name} "
    assert line.startswith(prefix)
    raw = base64.b64decode(line.removeprefix(prefix).strip())
    assert len(raw) == 4 + 8 + 64
    public = verifier.public_key.public_bytes_raw()
    key_id = hashlib.sha256(verifier.name.encode() + b"\n\x04" + public).digest()[:4]
    assert raw[:4] == key_id
    (timestamp,) = struct.unpack(">Q", raw[4:12])
    message = f"cosignature/v1\ntime {timestamp}\n{note_body}".encode()
    Ed25519PublicKey.from_public_bytes(public).verify(raw[12:], message)  # raises if wrong
    return int(timestamp)


# --- Cosigning ------------------------------------------------------------------------------


def test_witnesses_cosign_a_consistent_checkpoint_and_it_is_served_with_their_cosignatures(
    ledger: DossierLedger,
    view: AuditLogView,
    checkpointer: Checkpointer,
    database: Database,
    settings: Settings,
    witnesses: list[RunningWitness],
) -> None:
    size = grow_and_sign(ledger, view, checkpointer, database, seed=61)
    first, second, _ = witnesses
    outcomes = witnessing(view, settings, first, second).witness_latest()
    assert outcomes == {first.url: f"cosigned size {size}", second.url: f"cosigned size {size}"}
    assert first.size() == second.size() == size

    runtime = Runtime.start(settings)
    try:
        with TestClient(app=create_app(settings, runtime=runtime)) as client:
            runtime.views[AUDIT_LOG] = view
            note = client.get("/v1/audit/checkpoint").text
            assert client.get("/v1/audit/log/checkpoint").text == note
            assert client.get(f"/v1/audit/checkpoints/{size}").text == note
    finally:
        runtime.close()
    body, _, signatures = note.partition("\n\n")
    lines = signatures.splitlines()
    assert len(lines) == 3  # the log's, then one per witness
    for witness in (first, second):
        (line,) = [line for line in lines if line.startswith(f"\u2014 {witness.verifier.name} ")]
        timestamp = verify_cosignature_by_hand(line, body + "\n", witness.verifier)
        assert abs(timestamp - time.time()) < 60


def test_the_next_checkpoint_is_proven_from_the_size_each_witness_cosigned(
    ledger: DossierLedger,
    view: AuditLogView,
    checkpointer: Checkpointer,
    database: Database,
    settings: Settings,
    witnesses: list[RunningWitness],
) -> None:
    before = witnesses[0].size()
    size = grow_and_sign(ledger, view, checkpointer, database, seed=62)
    client = witnessing(view, settings, *witnesses[:2])
    client.post = recorder = RecordingPost()
    client.witness_latest()
    assert recorder.calls == [(f"old {before}", 200), (f"old {before}", 200)]
    assert witnesses[0].size() == witnesses[1].size() == size


def test_a_witness_that_saw_a_later_checkpoint_answers_409_and_is_proven_from_its_size(
    ledger: DossierLedger,
    view: AuditLogView,
    checkpointer: Checkpointer,
    database: Database,
    settings: Settings,
    witnesses: list[RunningWitness],
) -> None:
    late = witnesses[2]
    relayed = checkpointer.latest()
    assert relayed is not None
    late.witness.add_checkpoint(f"old 0\n\n{relayed.note}".encode())  # a monitor relayed it
    size = grow_and_sign(ledger, view, checkpointer, database, seed=63)
    client = witnessing(view, settings, *witnesses)
    client.post = recorder = RecordingPost()
    outcomes = client.witness_latest()
    assert set(outcomes.values()) == {f"cosigned size {size}"}
    assert recorder.calls[-2:] == [("old 0", 409), (f"old {relayed.tree_size}", 200)]
    assert late.size() == size


# --- A fork ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def fork(
    postgres_url: str, settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Settings, Database]]:
    """Another database holding another history, signed with a copy of the real key (but
    without the key's local record of the last checkpoint it signed)."""
    name = f"t_fork_{uuid.uuid4().hex[:8]}"
    url = create_database(postgres_url, name)
    data_dir: Path = tmp_path_factory.mktemp("forked-log")
    shutil.copy(settings.signing_key_path, data_dir / "signing.key")
    try:
        yield replace(settings, database_url=url, data_dir=data_dir), migrate(url, "ledger_app")
    finally:
        drop_database(postgres_url, name)


def test_a_forked_log_signed_with_the_real_key_is_refused_and_raises_the_alarm(
    view: AuditLogView,
    settings: Settings,
    witnesses: list[RunningWitness],
    fork: tuple[Settings, Database],
    caplog: pytest.LogCaptureFixture,
) -> None:
    fork_settings, fork_database = fork
    witnessed = witnesses[0].size()
    forked_ledger = open_ledger(fork_database, pool_size=1)
    forked_view = open_audit_log(fork_database.ledger_env(pool_size=1))
    try:
        append(forked_ledger, random_histories(30, seed=71))
        catch_up_audit_log(fork_database, forked_view)
        signed = checkpointer_for(forked_view.log, fork_settings).checkpoint()
        assert signed is not None and signed.tree_size > witnessed
        client = witnessing(forked_view, fork_settings, witnesses[0])
        client.post = recorder = RecordingPost()
        with caplog.at_level(logging.CRITICAL):
            (outcome,) = client.witness_latest().values()
        assert recorder.calls == [("old 0", 409), (f"old {witnessed}", 422)]
        assert outcome.startswith("ALARM")
        assert witnesses[0].size() == witnessed  # the witness kept the real log's checkpoint
        critical = [r for r in caplog.records if r.levelno == logging.CRITICAL]
        assert critical and "another history" in critical[0].getMessage()
        (reason,) = alarm_reasons(fork_database.url, fork_database.app_role)
        assert reason.startswith(f"{WITNESS_REFUSED} at tree size {signed.tree_size}")
        assert client.witness_latest() == {}  # raised once for this checkpoint, not again

        runtime = Runtime.start(fork_settings)
        try:
            with TestClient(app=create_app(fork_settings, runtime=runtime)) as http:
                assert http.get("/health").json()["alarms"] == [reason]
                metrics = http.get("/metrics").text
                assert "ledger_audit_log_alarms 1.0" in metrics
        finally:
            runtime.close()
    finally:
        forked_view.datastore.close()
        forked_ledger.close()
    assert alarm_reasons(settings.database_url or "", "ledger_app") == []  # the real log's


def test_a_witness_that_cosigned_a_larger_tree_than_the_log_has_raises_the_alarm(
    ledger: DossierLedger,
    view: AuditLogView,
    checkpointer: Checkpointer,
    database: Database,
    settings: Settings,
    witnesses: list[RunningWitness],
) -> None:
    grow_and_sign(ledger, view, checkpointer, database, seed=64)

    def ahead(url: str, body: bytes, timeout: float) -> HttpAnswer:
        return HttpAnswer(409, "text/x.tlog.size", b"1000000\n")

    client = witnessing(view, settings, witnesses[0])
    client.post = ahead
    (outcome,) = client.witness_latest().values()
    assert outcome.startswith("ALARM") and "rolled back" in outcome
    with view.log.reading() as store:
        assert [alarm.kind for alarm in store.open_alarms()] == [WITNESS_AHEAD]
    with view.log.writing() as store:
        assert store.acknowledge_alarms() == 1
    assert alarm_reasons(settings.database_url or "", "ledger_app") == []


# --- An inspector's quorum ------------------------------------------------------------------


def test_verify_with_a_quorum_of_two_fails_with_one_cosignature_and_passes_with_two(
    view: AuditLogView,
    settings: Settings,
    log_signer: Signer,
    witnesses: list[RunningWitness],
    tmp_path: Path,
) -> None:
    first, second, _ = witnesses
    witnessing(view, settings, first, second).witness_latest()
    code = random_histories(4, seed=61)[0].code  # logged before the first checkpoint
    bundle = tmp_path / "history.bundle.json"
    bundle.write_bytes(encode_bundle(export_bundle(view.log, code)))
    unknown = CosignatureSigner.from_key(generate_cosigner("witness.example/never")).verifier()
    key = log_signer.verifier().vkey()
    runner = CliRunner()

    def verify(*witness_keys: str) -> tuple[int, str]:
        options = [arg for vkey in witness_keys for arg in ("--witness", vkey)]
        result = runner.invoke(
            main, ["verify", str(bundle), "--public-key", key, *options, "--quorum", "2"]
        )
        return result.exit_code, result.output

    status, output = verify(first.vkey, unknown.vkey())
    assert status == 1, output
    assert "1 valid cosignature(s)" in output and "quorum of 2" in output
    status, output = verify(first.vkey, second.vkey)
    assert status == 0, output
    assert output.startswith("OK:") and "cosigned by 2 witness(es)" in output
    one = runner.invoke(main, ["verify", str(bundle), "--public-key", key, "--witness", first.vkey])
    assert one.exit_code == 0, one.output  # the default quorum: every witness given


def test_the_checkpoint_schedule_asks_the_witnesses_after_signing(
    ledger: DossierLedger,
    view: AuditLogView,
    checkpointer: Checkpointer,
    database: Database,
    settings: Settings,
    witnesses: list[RunningWitness],
) -> None:
    schedule = CheckpointSchedule(
        checkpointer,
        every_events=1,
        every_seconds=3600,
        witnessing=witnessing(view, settings, witnesses[0]),
    )
    append(ledger, random_histories(2, seed=65))
    catch_up_audit_log(database, view)
    schedule.step()
    latest = checkpointer.latest()
    assert latest is not None and witnesses[0].size() == latest.tree_size
