"""A witness (c2sp.org/tlog-witness) cosigns only what extends what it cosigned, and answers
each refusal with the spec's status; its cosignatures are tlog-cosignature/v1."""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path

import pytest
from litestar.testing import TestClient

from api.witness_app import create_witness_app
from application.transparency.cosignature import (
    CosignatureSigner,
    CosignatureVerifier,
    cosignatures_of,
    generate_cosigner,
)
from application.transparency.merkle import MemoryHashStore, consistency_proof, leaf_hash, root_hash
from application.transparency.note import Checkpoint, Signer, generate_signer, sign_checkpoint
from application.transparency.witness import Witness, origin_hash

ORIGIN = "ledger.h56.example/log"


def tree(leaves: list[bytes]) -> MemoryHashStore:
    store = MemoryHashStore()
    store.append([leaf_hash(leaf) for leaf in leaves])
    return store


def note(signer: Signer, store: MemoryHashStore, size: int) -> str:
    return sign_checkpoint(signer, Checkpoint(ORIGIN, size, root_hash(store, size)))


def body(old: int, proof: list[bytes], checkpoint_note: str) -> bytes:
    lines = "".join(base64.b64encode(hash_).decode() + "\n" for hash_ in proof)
    return f"old {old}\n{lines}\n{checkpoint_note}".encode()


@pytest.fixture
def log_signer() -> Signer:
    return Signer.from_key(generate_signer(ORIGIN))


@pytest.fixture
def witness(log_signer: Signer, tmp_path: Path) -> Witness:
    signer = CosignatureSigner.from_key(generate_cosigner("witness.example/w1"))
    return Witness(
        signer, {ORIGIN: log_signer.verifier()}, tmp_path / "state.json", lambda: 1679315147
    )


@pytest.fixture
def client(witness: Witness) -> TestClient:  # type: ignore[type-arg]
    with TestClient(app=create_witness_app(witness)) as test_client:
        return test_client


LOG = [f"leaf {n}".encode() for n in range(20)]
FORK = [*LOG[:5], b"rewritten", *LOG[6:]]


def test_a_witness_cosigns_a_consistent_history_with_the_spec_s_message(
    client: TestClient,
    witness: Witness,
    log_signer: Signer,  # type: ignore[type-arg]
) -> None:
    store = tree(LOG)
    first = client.post("/add-checkpoint", content=body(0, [], note(log_signer, store, 8)))
    assert first.status_code == 200
    assert first.text.startswith("\u2014 witness.example/w1 ")
    second_note = note(log_signer, store, 20)
    second = client.post(
        "/add-checkpoint", content=body(8, consistency_proof(store, 8, 20), second_note)
    )
    assert second.status_code == 200
    raw = base64.b64decode(second.text.split()[-1])
    assert raw[4:12] == (1679315147).to_bytes(8, "big")
    verifier = witness.signer.verifier()
    (cosignature,) = cosignatures_of(second_note + second.text, [verifier])
    assert cosignature.timestamp == 1679315147
    public = verifier.public_key.public_bytes_raw()
    assert raw[:4] == hashlib.sha256(b"witness.example/w1\n\x04" + public).digest()[:4]
    monitored = client.get(f"/{hashlib.sha256(ORIGIN.encode()).hexdigest()}/checkpoint")
    assert monitored.status_code == 200
    assert monitored.text == second_note + second.text
    assert origin_hash(ORIGIN) == hashlib.sha256(ORIGIN.encode()).hexdigest()


def test_a_wrong_old_size_is_answered_409_with_the_witness_s_size(
    client: TestClient,
    log_signer: Signer,  # type: ignore[type-arg]
) -> None:
    store = tree(LOG)
    assert (
        client.post("/add-checkpoint", content=body(0, [], note(log_signer, store, 8))).status_code
        == 200
    )
    answer = client.post("/add-checkpoint", content=body(0, [], note(log_signer, store, 20)))
    assert answer.status_code == 409
    assert answer.headers["content-type"] == "text/x.tlog.size"
    assert answer.text == "8\n"


def test_a_fork_signed_with_the_log_s_key_is_refused_422(
    client: TestClient,
    witness: Witness,
    log_signer: Signer,  # type: ignore[type-arg]
) -> None:
    real, forked = tree(LOG), tree(FORK)
    assert (
        client.post("/add-checkpoint", content=body(0, [], note(log_signer, real, 8))).status_code
        == 200
    )
    answer = client.post(
        "/add-checkpoint",
        content=body(8, consistency_proof(forked, 8, 20), note(log_signer, forked, 20)),
    )
    assert answer.status_code == 422
    same_size = client.post("/add-checkpoint", content=body(8, [], note(log_signer, forked, 8)))
    assert same_size.status_code == 422
    assert witness.latest_note(origin_hash(ORIGIN)).startswith(note(log_signer, real, 8))  # type: ignore[union-attr]


def test_refusals_have_the_spec_s_statuses(
    client: TestClient,
    log_signer: Signer,  # type: ignore[type-arg]
) -> None:
    store = tree(LOG)
    other_log = Signer.from_key(generate_signer("other.example/log"))
    other = sign_checkpoint(other_log, Checkpoint("other.example/log", 8, root_hash(store, 8)))
    impostor = Signer.from_key(generate_signer(ORIGIN))  # the log's name, another key
    cases = {
        404: body(0, [], other),
        403: body(0, [], note(impostor, store, 8)),
        400: body(9, [], note(log_signer, store, 8)),
        422: body(0, [b"\x00" * 32], note(log_signer, store, 8)),
    }
    for status, request in cases.items():
        answer = client.post("/add-checkpoint", content=request)
        assert answer.status_code == status, (status, answer.text)
        assert answer.headers["content-type"] == "text/plain; charset=utf-8"
    empty_root_wrong = sign_checkpoint(log_signer, Checkpoint(ORIGIN, 0, b"\x01" * 32))
    assert client.post("/add-checkpoint", content=body(0, [], empty_root_wrong)).status_code == 422
    assert client.post("/add-checkpoint", content=b"not a request").status_code == 400
    assert client.get(f"/{'0' * 64}/checkpoint").status_code == 404


def test_witness_keys_are_type_0x04_verifier_keys() -> None:
    text = generate_cosigner("witness.example/w2")
    verifier = CosignatureSigner.from_key(text).verifier()
    assert CosignatureVerifier.from_vkey(verifier.vkey()) == verifier
    assert base64.b64decode(verifier.vkey().split("+", 2)[2])[0] == 0x04
    with pytest.raises(ValueError, match="0x04"):
        CosignatureVerifier.from_vkey(
            Signer.from_key(generate_signer("a.example")).verifier().vkey()
        )
