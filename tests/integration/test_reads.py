"""The read endpoints' asynchronous pool: lookups asked together share a statement, each gets
its own answer, and a connection the server dropped is replaced without failing the read."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest

from application.bootstrap import Database
from application.ledger import DossierLedger, Histories, history
from application.reads import AsyncReads
from application.runtime import load_rules
from application.settings import Settings
from application.writer import IngestWriter, Submission
from domain.code import DossierCode
from domain.commands import Actor, AnnotatedData, Channel, EventCommand, ReceivedData
from domain.status import EventType

pytestmark = pytest.mark.anyio

AGENCY = "000.00.31.H56"
RECEIVED = datetime(2026, 2, 13, 3, 0, tzinfo=UTC)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
async def reads(database: Database) -> AsyncIterator[AsyncReads]:
    opened = AsyncReads(database.url, app_role=database.app_role, size=4)
    await opened.open()
    yield opened
    await opened.close()


def submission(code: str, n: int, kind: EventType, data: object) -> Submission:
    return Submission(
        DossierCode.parse(code),
        EventCommand(
            event_id=f"r-{code}-{n}",
            type=kind,
            occurred_at=RECEIVED + timedelta(minutes=n),
            actor=Actor("cb-1", "officer"),
            source="test",
            data=data,  # type: ignore[arg-type]
            fingerprint=f"r-{code}-{n}",
        ),
    )


@pytest.fixture(scope="module")
def codes(ledger: DossierLedger) -> list[str]:
    """Ten dossiers, the k-th with k + 1 events."""
    made = [f"{AGENCY}-260213-{9100 + k}" for k in range(10)]
    writer = IngestWriter(ledger, load_rules(Settings()))
    writer.start()
    try:
        for k, code in enumerate(made):
            events = [
                submission(
                    code, 1, EventType.RECEIVED, ReceivedData("1.001757", Channel.ONLINE, "d" * 64)
                )
            ]
            events += [
                submission(code, n, EventType.ANNOTATED, AnnotatedData(f"note {n}"))
                for n in range(2, k + 2)
            ]
            writer.append(events)
    finally:
        writer.stop()
    return made


async def test_histories_asked_together_are_read_in_one_statement(
    reads: AsyncReads, ledger: DossierLedger, codes: list[str]
) -> None:
    statements: list[Any] = []
    fetch = reads.fetch

    async def counted(statement: Any, parameters: Any) -> Any:
        statements.append(parameters)
        return await fetch(statement, parameters)

    reads.fetch = counted  # type: ignore[method-assign]
    histories = Histories(reads, ledger)
    unknown = f"{AGENCY}-260213-9999"
    asked = [*codes, unknown, codes[3]]
    answers = await asyncio.gather(*(histories.history(DossierCode.parse(c)) for c in asked))
    assert len(statements) == 1
    for code, entries in zip(asked, answers, strict=True):
        expected = history(ledger, DossierCode.parse(code))  # the synchronous path, one by one
        assert [(e.version, e.position, e.event) for e in entries] == [
            (e.version, e.position, e.event) for e in expected
        ]
    assert [len(entries) for entries in answers[:10]] == list(range(1, 11))
    assert answers[10] == []


async def test_a_connection_the_server_dropped_does_not_fail_a_read(
    reads: AsyncReads, database: Database, ledger: DossierLedger, codes: list[str]
) -> None:
    histories = Histories(reads, ledger)
    assert len(await histories.history(DossierCode.parse(codes[2]))) == 3
    with psycopg.connect(database.url, autocommit=True) as admin:
        dropped = admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            " AND state = 'idle' AND query LIKE %s",
            ("%originator_id = ANY%",),
        ).fetchall()
    assert dropped, "the pooled connection was found and dropped"
    assert len(await histories.history(DossierCode.parse(codes[4]))) == 5
