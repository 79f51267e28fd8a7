"""A witness run as operators run it (`ledger witness serve`, its own process), cosigning the
checkpoint `ledger audit checkpoint` signs, and an inspector's `ledger verify` with a quorum."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from api.cli import main
from application.bootstrap import Database, open_ledger
from tests.integration.test_projections import append, random_histories

ORIGIN = "ledger.e2e.example/v1/audit/log"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def env(database: Database, tmp_path: Path) -> dict[str, str]:
    return {
        "LEDGER_DATABASE_URL": database.url,
        "LEDGER_DATA_DIR": str(tmp_path / "ledger"),
        "LEDGER_LOG_ORIGIN": ORIGIN,
    }


@pytest.fixture
def witness(env: dict[str, str], tmp_path: Path) -> Iterator[tuple[str, str]]:
    """A witness process of the log: its URL and verifier key."""
    runner = CliRunner(env=env)
    log_key = runner.invoke(main, ["audit", "public-key"]).stdout.strip()
    key_file = tmp_path / "witness.key"
    made = runner.invoke(
        main, ["witness", "keygen", "witness.e2e.example/w1", "--key", str(key_file)]
    )
    assert made.exit_code == 0, made.output
    assert key_file.stat().st_mode & 0o777 == 0o600
    port = free_port()
    ledger = Path(sys.executable).parent / "ledger"
    process = subprocess.Popen(
        [str(ledger), "witness", "serve", "--key", str(key_file), "--state",
         str(tmp_path / "state.json"), "--log", log_key, "--port", str(port)],
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(f"{url}/{'0' * 64}/checkpoint", timeout=1)
            except urllib.error.HTTPError as answer:
                assert answer.code == 404
                break
            except OSError:
                assert time.monotonic() < deadline, "the witness did not start"
                time.sleep(0.1)
        yield url, made.stdout.strip()
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_a_checkpoint_signed_from_the_cli_is_cosigned_and_verifies_against_the_quorum(
    database: Database, env: dict[str, str], witness: tuple[str, str], tmp_path: Path
) -> None:
    url, witness_key = witness
    ledger = open_ledger(database, pool_size=1)
    try:
        histories = random_histories(3, seed=81)
        append(ledger, histories)
    finally:
        ledger.close()
    runner = CliRunner(env={**env, "LEDGER_WITNESSES": f"{url} {witness_key}"})
    signed = runner.invoke(main, ["audit", "checkpoint"])
    assert signed.exit_code == 0, signed.output
    note = signed.stdout
    size = int(note.splitlines()[1])
    assert f"witness {url}: cosigned size {size}" in signed.stderr
    assert [line.split()[1] for line in note.split("\n\n", 1)[1].splitlines()] == [
        ORIGIN,
        "witness.e2e.example/w1",
    ]
    bundle = tmp_path / "bundle.json"
    exported = runner.invoke(main, ["export", str(histories[0].code), "-o", str(bundle)])
    assert exported.exit_code == 0, exported.output
    log_key = runner.invoke(main, ["audit", "public-key"]).stdout.strip()
    verified = runner.invoke(
        main,
        ["verify", str(bundle), "--public-key", log_key, "--witness", witness_key, "--quorum", "1"],
    )
    assert verified.exit_code == 0, verified.output
    assert "cosigned by 1 witness(es): witness.e2e.example/w1" in verified.output
