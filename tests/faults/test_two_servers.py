"""Two `ledger serve` on one database, their writers contending for one dossier: never a 500.

Each writer appends to the dossier it has in memory; the other keeps moving it on, so appends
conflict on the version key again and again. A conflict is retried a bounded number of times;
after that the answer is 503 `write_contention` with Retry-After, and the sender's retry (same
event_id) goes through. Every event ends up stored once, versions without a gap."""

from __future__ import annotations

import http.client
import time
from pathlib import Path

import msgspec
import psycopg
import pytest

from application.bootstrap import Database
from tests.faults.ledger import (
    AGENCY,
    Load,
    Server,
    assert_stored_once,
    figures,
    issue_handler_key,
    ledger_env,
)

pytestmark = pytest.mark.timeout(120)
CODE = f"{AGENCY}-260213-0000001"


def open_dossier(port: int, token: str) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    body = {
        "event_id": "contended-0",
        "type": "Received",
        "occurred_at": "2026-02-13T10:00:00+07:00",
        "actor": {"id": "cb-1", "role": "officer"},
        "data": {"procedure_code": "1.001757", "channel": "online", "lookup_secret": "7KQ4M2"},
    }
    connection.request(
        "POST",
        f"/v1/dossiers/{CODE}/events",
        body=msgspec.json.encode(body),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    assert connection.getresponse().status == 201
    connection.close()


def test_two_servers_contending_for_one_dossier_never_answer_500(
    database: Database, data_dir: Path
) -> None:
    env = ledger_env(data_dir, LEDGER_DATABASE_URL=database.url)
    servers = [Server(env), Server(env)]
    try:
        for server in servers:
            server.wait_ready()
        token = issue_handler_key(env)
        open_dossier(servers[0].port, token)
        loads = [
            Load(s.port, token, singles=3, batches=1, batch_size=5, dossier=CODE).start()
            for s in servers
        ]
        time.sleep(6)
        for load in loads:
            load.stop()
    finally:
        outputs = [server.stop() for server in servers]
    answers = [a for load in loads for a in load.answers]
    contended = [a for a in answers if a.rule == "write_contention"]
    measured = figures("two servers, one dossier")
    measured.add("requests", len(answers))
    measured.add("503 write_contention", len(contended))
    measured.add("slowest answer", max(a.seconds for a in answers), "ms")
    assert {a.status for a in answers} <= {200, 201, 503}, "an answer other than 2xx or 503"
    assert {a.rule for a in answers if a.status == 503} <= {"write_contention"}
    acknowledged = {"contended-0"}.union(*(load.acknowledged for load in loads))
    stored = assert_stored_once(database.url, acknowledged)
    with psycopg.connect(database.url) as connection:
        versions = [
            row[0]
            for row in connection.execute(
                "SELECT originator_version FROM ledger_events ORDER BY originator_version"
            )
        ]
    assert versions == list(range(1, stored + 1)), "a version gap"
    measured.add("events stored once, versions 1..N", stored)
    for output in outputs:
        assert "Traceback" not in output, output
