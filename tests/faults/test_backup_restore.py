"""A backup taken under load, restored into a new data directory: the restored ledger equals
the checkpoint signed before the backup (same tree size and root) and then serves."""

from __future__ import annotations

import re
import shutil
import subprocess
import time
from pathlib import Path

import msgspec
import pytest

from application.transparency.note import Verifier, open_checkpoint
from tests.faults.ledger import (
    LEDGER,
    Load,
    Server,
    embedded_url,
    figures,
    issue_handler_key,
    ledger_env,
    run_ledger,
    stored_event_ids,
)

pytestmark = pytest.mark.timeout(180)


def test_a_backup_taken_under_load_restores_to_its_signed_checkpoint(data_dir: Path) -> None:
    signing_key = data_dir.parent / "signing.key"
    settings = {"LEDGER_SIGNING_KEY": str(signing_key), "LEDGER_CHECKPOINT_EVERY_SECONDS": "0.5"}
    original = ledger_env(data_dir, **settings)
    backup = data_dir.parent / "backup"
    server = Server(original, "--projections")
    try:
        server.wait_ready()
        load = Load(server.port, issue_handler_key(original), singles=2, batches=1).start()
        time.sleep(3)
        started = time.monotonic()
        output = run_ledger(original, "backup", str(backup))
        backup_seconds = time.monotonic() - started
        time.sleep(1)
        load.stop()
    finally:
        server.stop()
    assert "backup written" in output, output
    note = (backup / "checkpoint.txt").read_text()
    verifier = Verifier.from_vkey(run_ledger(original, "audit", "public-key").strip())
    signed = open_checkpoint(note, verifier)  # signed by the original ledger's key
    assert signed.tree_size > 0

    restored_dir = data_dir.parent / "restored"
    restored = ledger_env(restored_dir, **settings)
    started = time.monotonic()
    result = subprocess.run(
        [LEDGER, "restore", str(backup)],
        env=restored,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    restore_seconds = time.monotonic() - started
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"equals the signed checkpoint at tree size {signed.tree_size}" in result.stdout

    server = Server(restored)
    try:
        ready_seconds = server.wait_ready()
        events = len(stored_event_ids(embedded_url(restored_dir / "postgres")))
        check = run_ledger(restored, "audit", "check")
        status, body, _ = server.get("/health")
    finally:
        server.stop()
    assert events >= signed.tree_size
    assert check.startswith("OK"), check
    assert status == 200 and msgspec.json.decode(body)["events"] == events
    measured = figures("backup under load, restore")
    measured.add("backup", backup_seconds, "ms")
    measured.add("restore and check", restore_seconds, "ms")
    measured.add("restored ledger ready", ready_seconds, "ms")
    measured.add("checkpoint tree size / events in the backup", f"{signed.tree_size}/{events}")
    size = sum(f.stat().st_size for f in (backup / "pgdata").rglob("*") if f.is_file())
    measured.add("backup size", f"{size // 2**20} MiB")
    shutil.rmtree(backup, ignore_errors=True)


def restore_command(env: dict[str, str], backup: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [LEDGER, "restore", str(backup)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_restore_refuses_a_data_directory_that_holds_a_database(data_dir: Path) -> None:
    env = ledger_env(data_dir)
    run_ledger(env, "keys", "list")  # creates the database, and stops it again
    assert not (data_dir / "postgres" / "postmaster.pid").exists(), "the server outlived the CLI"
    backup = data_dir.parent / "not-a-backup"
    (backup / "pgdata").mkdir(parents=True)
    (backup / "pgdata" / "PG_VERSION").write_text("18\n")
    result = subprocess.run(
        [LEDGER, "restore", str(backup)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert re.search(r"already holds a database", result.stderr), result.stderr
