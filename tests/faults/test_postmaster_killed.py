"""The embedded PostgreSQL killed under load: 503 at once, back without a person, nothing lost."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

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
    postmaster_pid,
)

pytestmark = pytest.mark.timeout(120)


def test_a_killed_postmaster_is_answered_503_at_once_and_restarted(data_dir: Path) -> None:
    env = ledger_env(data_dir)
    pgdata = data_dir / "postgres"
    server = Server(env)
    try:
        server.wait_ready()
        load = Load(server.port, issue_handler_key(env), singles=3, batches=2).start()
        time.sleep(1.5)
        killed_pid = postmaster_pid(pgdata)
        killed = time.monotonic()
        os.kill(killed_pid, signal.SIGKILL)

        deadline = killed + 10
        first_refusal = recovered = None
        while time.monotonic() < deadline and recovered is None:
            time.sleep(0.01)
            answers = load.since(killed)
            refusals = [a for a in answers if a.status == 503]
            if first_refusal is None and refusals:
                first_refusal = min(a.answered for a in refusals)
            if first_refusal is not None:
                successes = [a for a in answers if a.status in (200, 201) and a.sent > killed]
                later = [a for a in successes if a.answered > first_refusal]
                recovered = min((a.answered for a in later), default=None)
        assert first_refusal is not None, "no 503 while the database was down"
        assert recovered is not None, "the ledger did not come back within 10 s"
        time.sleep(1)
        load.stop()

        during = [a for a in load.since(killed) if a.answered <= recovered and a.status == 503]
        sent_during = [a for a in during if a.sent >= killed]
        slowest = max((a.seconds for a in sent_during), default=0.0)
        measured = figures("postmaster SIGKILL under load")
        measured.add("first 503 after the kill", first_refusal - killed, "ms")
        measured.add("slowest 503 of a request sent during the outage", slowest, "ms")
        measured.add("503s answered", len(during))
        measured.add("first success after the kill", recovered - killed, "ms")
        bound = latency_bound(0.1)
        measured.add("bound", bound, "ms")
        assert first_refusal - killed < bound
        assert recovered - killed < 10
        assert {a.rule for a in during} == {"database_unavailable"}
        assert not [a for a in load.answers if a.status >= 500 and a.status != 503]
        assert postmaster_pid(pgdata) != killed_pid
        stored = assert_stored_once(embedded_url(pgdata), load.acknowledged)
        measured.add("events acknowledged and stored once", stored)
    finally:
        output = server.stop()
    assert "Traceback" not in output, output
    assert not (pgdata / "postmaster.pid").exists(), "the server outlived its owner"
