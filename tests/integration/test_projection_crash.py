"""`ledger project` killed with SIGKILL in the middle of catching up loses and doubles nothing.

The projector runs as a real process (the console script); after the kill and a restart, every
read model equals a recomputation from the events: rows from the replayed dossiers, counters
counted again here.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Any, cast
from uuid import UUID

import psycopg
import pytest
from psycopg.rows import dict_row

from application.bootstrap import Database
from application.ledger import APPLICATION_NAME, DossierLedger
from domain.commands import Channel
from domain.dossier import Dossier
from domain.timeliness import FINISHED_STATUSES, classify
from projections.names import ALL
from tests.integration.test_projections import (
    CALENDAR,
    append,
    dossier_ids,
    expected_status_row,
    random_histories,
)

LEDGER = Path(sys.executable).parent / "ledger"
TRACKING = {name: f"{name}_tracking" for name in ALL}
MICRO = timedelta(microseconds=1)


def query(database: Database, statement: str) -> list[dict[str, Any]]:
    with psycopg.connect(database.url, row_factory=dict_row) as connection:
        return connection.execute(statement).fetchall()


def positions(database: Database) -> dict[str, int]:
    found = {}
    with psycopg.connect(database.url, autocommit=True) as connection:
        for name, table in TRACKING.items():
            try:
                row = connection.execute(
                    f"SELECT notification_id FROM {table} WHERE application_name = %s",
                    (APPLICATION_NAME,),
                ).fetchone()
            except psycopg.errors.UndefinedTable:
                row = None
            found[name] = row[0] if row else 0
    return found


def start_projector(database: Database, data_dir: Path) -> subprocess.Popen[bytes]:
    environment = {
        **os.environ,
        "LEDGER_DATABASE_URL": database.url,
        "LEDGER_DATA_DIR": str(data_dir),
    }
    return subprocess.Popen([LEDGER, "project", "--batch", "40"], env=environment)


def expected_counters(ledger: DossierLedger, ids: list[UUID]) -> Counter[tuple[Any, ...]]:
    """The timeliness counters, counted again from each dossier's events."""
    counts: Counter[tuple[Any, ...]] = Counter()
    for dossier_id in ids:
        dossier: Dossier | None = None
        waited = elapsed_wait = timedelta()
        for event in ledger.events.get(dossier_id):
            before = None if dossier is None else dossier.status
            dossier = cast(Dossier.Event, event).mutate(dossier)
            assert dossier is not None

            def at(instant: Any, counter: str, dossier: Dossier = dossier) -> tuple[Any, ...]:
                day = CALENDAR.local_date(instant)
                return (dossier.agency, dossier.procedure_code or "", day, counter)

            if isinstance(event, Dossier.Received):
                counts[at(event.occurred_at, "received")] += 1
                if dossier.channel == Channel.ONLINE:
                    counts[at(event.occurred_at, "received_online")] += 1
            if isinstance(event, Dossier.ReceiptRefused):
                counts[at(event.occurred_at, "refused")] += 1
            resumed = isinstance(event, Dossier.SupplementProvided | Dossier.FeePaid)
            if resumed and event.paused_at is not None:  # type: ignore[attr-defined]
                paused_at = event.paused_at  # type: ignore[attr-defined]
                waited += CALENDAR.working_time_between(paused_at, event.occurred_at)
                elapsed_wait += event.occurred_at - paused_at
            if before not in FINISHED_STATUSES and dossier.status in FINISHED_STATUSES:
                timeliness = classify(dossier, dossier.finished_at, CALENDAR)  # type: ignore[arg-type]
                if timeliness is not None:
                    counts[at(dossier.finished_at, f"finished_{timeliness.value}")] += 1
                if isinstance(event, Dossier.Resolved):
                    counts[at(dossier.finished_at, "resolved")] += 1
                    if dossier.electronic_result:
                        counts[at(dossier.finished_at, "resolved_electronic")] += 1
                    if dossier.result_document:
                        counts[at(dossier.finished_at, "resolved_document")] += 1
                        if dossier.electronic_result:
                            counts[at(dossier.finished_at, "resolved_document_electronic")] += 1
                    received, resolved = dossier.received_at, dossier.resolved_at
                    worked = CALENDAR.working_time_between(received, resolved)  # type: ignore[arg-type]
                    counts[at(dossier.finished_at, "processing_us")] += (worked - waited) // MICRO
                    elapsed = resolved - received - elapsed_wait  # type: ignore[operator]
                    counts[at(dossier.finished_at, "processing_calendar_us")] += elapsed // MICRO
    return counts


def stored_counters(database: Database) -> Counter[tuple[Any, ...]]:
    counts: Counter[tuple[Any, ...]] = Counter()
    for row in query(database, "SELECT * FROM timeliness_counters"):
        key = (row.pop("agency"), row.pop("procedure_code"), row.pop("day"))
        counts[(*key, "processing_us")] += row.pop("processing_working_time") // MICRO
        counts[(*key, "processing_calendar_us")] += row.pop("processing_calendar_time") // MICRO
        for name, value in row.items():
            counts[(*key, name)] += value
    return +counts  # zeros dropped


@pytest.mark.timeout(120)
def test_a_projector_killed_while_catching_up_resumes_without_losing_or_doubling(
    database: Database, ledger: DossierLedger, tmp_path: Path
) -> None:
    head = append(ledger, random_histories(1800, seed=11))
    assert head > 9_000

    first = start_projector(database, tmp_path)
    try:
        deadline = time.monotonic() + 30
        while not all(0.1 * head < at < 0.9 * head for at in positions(database).values()):
            assert time.monotonic() < deadline, f"never all mid-way: {positions(database)}"
            assert first.poll() is None, "the projector exited"
            time.sleep(0.002)
    finally:
        first.kill()
        first.wait()
    time.sleep(0.3)  # a COMMIT sent just before the kill may still complete
    at_kill = positions(database)
    time.sleep(0.5)
    assert positions(database) == at_kill  # the workers died with it
    assert all(0 < at < head for at in at_kill.values()), at_kill

    second = start_projector(database, tmp_path)
    try:
        deadline = time.monotonic() + 60
        while positions(database) != dict.fromkeys(ALL, head):
            assert time.monotonic() < deadline, f"not caught up: {positions(database)}"
            time.sleep(0.05)
    finally:
        second.send_signal(signal.SIGTERM)
        assert second.wait(timeout=30) == 0

    ids = dossier_ids(ledger)
    status_rows = {row["code"]: row for row in query(database, "SELECT * FROM dossier_status")}
    public_rows = {row["code"]: row for row in query(database, "SELECT * FROM public_lookup")}
    versions = {
        row["id"]: row["version"] for row in query(database, "SELECT * FROM timeliness_dossiers")
    }
    assert len(status_rows) == len(public_rows) == len(versions) == len(ids)
    for dossier_id in ids:
        expected = expected_status_row(ledger, dossier_id)
        row = status_rows[expected["code"]]
        assert {key: row[key] for key in expected} == expected
        public = public_rows[expected["code"]]
        assert public["version"] == expected["version"] == versions[dossier_id]
        assert public["status"] == expected["status"]
    assert stored_counters(database) == +expected_counters(ledger, ids)
