"""The event loop's writer (as the API runs it) beside a thread writer, on one ledger."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime

import pytest

from application.bootstrap import Database, open_ledger
from application.ledger import DossierLedger
from application.writer import Appended, AsyncIngestWriter, IngestWriter, WriterStopped
from domain.commands import Channel, ReceivedData, SupplementProvidedData, SupplementRequestedData
from domain.errors import TransitionNotAllowed
from domain.status import EventType, Status
from tests.integration.test_writers import RULES, submission

pytestmark = pytest.mark.anyio
NOW = datetime(2026, 3, 1, tzinfo=UTC)
RECEIVED = ReceivedData("1.001757", Channel.ONLINE, "d" * 64)
AT = "2026-02-13T10:00:00+07:00"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def ledgers(database: Database) -> Iterator[tuple[DossierLedger, DossierLedger]]:
    pair = (open_ledger(database, pool_size=2), open_ledger(database, pool_size=2))
    yield pair
    for ledger in pair:
        ledger.close()


@pytest.fixture
def thread_writer(ledgers: tuple[DossierLedger, DossierLedger]) -> Iterator[IngestWriter]:
    writer = IngestWriter(ledgers[0], RULES, clock=lambda: NOW)
    writer.start()
    yield writer
    writer.stop()


@pytest.fixture
async def loop_writer(
    ledgers: tuple[DossierLedger, DossierLedger],
) -> AsyncIterator[AsyncIngestWriter]:
    writer = AsyncIngestWriter(ledgers[1], RULES, clock=lambda: NOW)
    await writer.start()
    yield writer
    await writer.stop()


async def test_the_loop_writer_judges_again_what_another_writer_moved_on(
    loop_writer: AsyncIngestWriter, thread_writer: IngestWriter
) -> None:
    code = "000.00.31.H56-260213-0101"
    [opened] = await loop_writer.submit([submission(code, 1, EventType.RECEIVED, RECEIVED, AT)])
    assert isinstance(opened, Appended) and opened.version == 1 and opened.position
    asked = SupplementRequestedData("thiếu giấy tờ")
    await asyncio.to_thread(
        thread_writer.append,
        [submission(code, 2, EventType.SUPPLEMENT_REQUESTED, asked, "2026-02-23T09:00:00+07:00")],
    )
    provided = SupplementProvidedData()
    [resumed] = await loop_writer.submit(
        [submission(code, 3, EventType.SUPPLEMENT_PROVIDED, provided, "2026-02-24T09:00:00+07:00")]
    )
    assert isinstance(resumed, Appended) and resumed.version == 3
    assert resumed.status is Status.PROCESSING


async def test_a_dossier_assumed_new_that_exists_is_answered_from_the_database(
    loop_writer: AsyncIngestWriter, thread_writer: IngestWriter
) -> None:
    """The loop writer has never seen the code: it takes a Received as opening a new dossier,
    the append meets the stored version 1, and the group is judged again on the stored state."""
    code = "000.00.31.H56-260213-0102"
    first = submission(code, 1, EventType.RECEIVED, RECEIVED, AT)
    [stored] = await asyncio.to_thread(thread_writer.append, [first])
    assert isinstance(stored, Appended)
    [retry, other] = await loop_writer.submit(
        [first, submission(code, 9, EventType.RECEIVED, RECEIVED, AT)]
    )
    assert isinstance(retry, Appended) and retry.already and retry.version == 1
    assert isinstance(other, TransitionNotAllowed)


async def test_stopping_settles_every_request(
    ledgers: tuple[DossierLedger, DossierLedger],
) -> None:
    writer = AsyncIngestWriter(ledgers[1], RULES, clock=lambda: NOW)
    await writer.start()
    futures = [
        writer.submit(
            [submission(f"000.00.31.H56-260213-{n:04d}", 1, EventType.RECEIVED, RECEIVED, AT)]
        )
        for n in range(200, 260)
    ]
    await writer.stop()
    outcomes = await asyncio.gather(*futures, return_exceptions=True)
    assert all(isinstance(o, list | WriterStopped) for o in outcomes), outcomes
    assert any(isinstance(o, list) for o in outcomes)  # the group under way was finished
    with pytest.raises(WriterStopped):
        await writer.submit(
            [submission("000.00.31.H56-260213-0300", 1, EventType.RECEIVED, RECEIVED, AT)]
        )
