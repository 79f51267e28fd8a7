"""The database's disk filled up under load (a 200 MB tmpfs the test mounts; CI runs as root):
writes are refused fast with 503 `storage_full`, readiness says why, and the ledger takes
writes again by itself once space is freed. Nothing acknowledged is lost."""

from __future__ import annotations

import contextlib
import errno
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import msgspec
import pytest

from tests.faults.ledger import (
    Load,
    Server,
    assert_stored_once,
    embedded_url,
    figures,
    issue_handler_key,
    latency_bound,
    ledger_env,
)

pytestmark = pytest.mark.timeout(150)
RESERVE = 16 * 1024 * 1024


@pytest.fixture
def small_disk(data_dir: Path) -> Iterator[Path]:
    disk = data_dir.parent / "disk"
    disk.mkdir()
    subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=200m,mode=0755", "tmpfs", str(disk)], check=True
    )
    try:
        yield disk
    finally:
        for _ in range(20):
            if subprocess.run(["umount", str(disk)], check=False).returncode == 0:
                break
            time.sleep(0.5)
        else:
            subprocess.run(["umount", "-l", str(disk)], check=False)


def fill(disk: Path) -> Path:
    filler = disk / "filler"
    chunk = b"\0" * (1024 * 1024)
    with filler.open("wb") as handle:
        while True:
            try:
                handle.write(chunk)
                handle.flush()
            except OSError as error:
                assert error.errno == errno.ENOSPC
                break
    with contextlib.suppress(OSError), filler.open("ab") as handle:  # the last crumbs too
        while True:
            handle.write(b"\0" * 4096)
            handle.flush()
    return filler


def test_a_full_disk_refuses_writes_fast_and_recovers_when_space_returns(
    small_disk: Path,
) -> None:
    data_dir = small_disk / "data"
    env = ledger_env(data_dir, LEDGER_STORAGE_RESERVE_BYTES=str(RESERVE))
    server = Server(env)
    try:
        server.wait_ready()
        load = Load(server.port, issue_handler_key(env), singles=2, batches=1).start()
        time.sleep(2)
        filler = fill(small_disk)
        full = time.monotonic()
        time.sleep(3)
        status, body, ready_seconds = server.get("/health/ready")
        readiness = msgspec.json.decode(body)
        filler.unlink()
        freed = time.monotonic()
        deadline = freed + 20
        recovered = None
        while time.monotonic() < deadline and recovered is None:
            time.sleep(0.05)
            later = [a for a in load.since(freed) if a.sent > freed and a.status in (200, 201)]
            recovered = min((a.answered for a in later), default=None)
        assert recovered is not None, f"writes did not resume:\n{server.output()[-3000:]}"
        load.stop()

        refused = [a for a in load.answers if full <= a.answered <= freed and a.status == 503]
        storage_full = [a for a in refused if a.rule == "storage_full"]
        settled = [a for a in storage_full if a.sent >= full + 1]
        measured = figures("disk full")
        measured.add(
            "first storage_full after the disk filled", storage_full[0].answered - full, "ms"
        )
        measured.add(
            "slowest storage_full once known",
            max(a.seconds for a in settled),
            "ms",
        )
        measured.add("503s while full (storage_full)", f"{len(refused)} ({len(storage_full)})")
        measured.add("/health/ready while full", f"{status} {readiness['reasons']}")
        measured.add("first success after space was freed", recovered - freed, "ms")
        assert status == 503 and "storage_full" in readiness["reasons"]
        assert ready_seconds < latency_bound(0.1)
        assert readiness["storage_free_bytes"] < RESERVE
        assert storage_full and storage_full[0].answered - full < 1.0
        assert max(a.seconds for a in settled) < latency_bound(0.05)
        assert {a.rule for a in refused} <= {"storage_full", "database_unavailable"}
        assert not [a for a in load.answers if a.status not in (0, 200, 201, 503)]
        stored = assert_stored_once(embedded_url(data_dir / "postgres"), load.acknowledged)
        measured.add("events acknowledged and stored once", stored)
    finally:
        output = server.stop()
    assert "Traceback" not in output, output


def test_a_disk_postgresql_itself_finds_full_is_survived_and_recovered(small_disk: Path) -> None:
    """No reserve: PostgreSQL meets the full disk itself (and may PANIC and be restarted)."""
    data_dir = small_disk / "data"
    env = ledger_env(data_dir, LEDGER_STORAGE_RESERVE_BYTES="0")
    server = Server(env)
    try:
        server.wait_ready()
        load = Load(server.port, issue_handler_key(env), singles=2, batches=1).start()
        time.sleep(2)
        filler = fill(small_disk)
        full = time.monotonic()
        time.sleep(4)
        filler.unlink()
        freed = time.monotonic()
        deadline = freed + 30
        recovered = None
        while time.monotonic() < deadline and recovered is None:
            time.sleep(0.05)
            later = [a for a in load.since(freed) if a.sent > freed and a.status in (200, 201)]
            recovered = min((a.answered for a in later), default=None)
        assert recovered is not None, f"writes did not resume:\n{server.output()[-3000:]}"
        load.stop()
        refused = [a for a in load.answers if full <= a.answered <= freed and a.status == 503]
        measured = figures("disk full, no reserve (PostgreSQL meets it)")
        rules = sorted({str(a.rule) for a in refused})
        measured.add("503s while full", f"{len(refused)} {rules}")
        measured.add("slowest answer while full", max(a.seconds for a in refused), "ms")
        measured.add("first success after space was freed", recovered - freed, "ms")
        assert not [a for a in load.answers if a.status not in (0, 200, 201, 503)]
        assert max(a.seconds for a in refused) < 3.0
        stored = assert_stored_once(embedded_url(data_dir / "postgres"), load.acknowledged)
        measured.add("events acknowledged and stored once", stored)
    finally:
        output = server.stop()
    assert "Traceback" not in output, output
