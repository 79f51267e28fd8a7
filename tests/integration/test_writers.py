"""Two ingest writers (two API processes) on one ledger: neither trusts a stale dossier."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from application.bootstrap import Database, open_ledger
from application.catalogue import load_calendar, load_procedures
from application.writer import Appended, IngestWriter, Submission
from domain.code import DossierCode
from domain.commands import (
    Actor,
    AnnotatedData,
    Channel,
    EventCommand,
    EventData,
    ReceivedData,
    Rules,
    SupplementProvidedData,
    SupplementRequestedData,
)
from domain.errors import TransitionNotAllowed
from domain.status import EventType, Status

RULES = Rules(calendar=load_calendar(None), procedures=load_procedures(None))
NOW = datetime(2026, 3, 1, tzinfo=UTC)


def submission(code: str, n: int, event_type: EventType, data: EventData, at: str) -> Submission:
    command = EventCommand(
        event_id=f"{code}-{n}",
        type=event_type,
        occurred_at=datetime.fromisoformat(at),
        actor=Actor("cb-1", "officer"),
        source="test",
        data=data,
        fingerprint=f"fp-{code}-{n}",
    )
    return Submission(DossierCode.parse(code), command)


@pytest.fixture
def writers(database: Database) -> Iterator[tuple[IngestWriter, IngestWriter]]:
    ledgers = [open_ledger(database, pool_size=2) for _ in range(2)]
    pair = tuple(IngestWriter(ledger, RULES, clock=lambda: NOW) for ledger in ledgers)
    for writer in pair:
        writer.start()
    yield pair  # type: ignore[misc]
    for writer, ledger in zip(pair, ledgers, strict=True):
        writer.stop()
        ledger.close()


def test_a_writer_does_not_refuse_an_event_on_its_stale_copy_of_a_dossier(
    writers: tuple[IngestWriter, IngestWriter],
) -> None:
    """Writer A knows the dossier as received; writer B then asks for a supplement (status 5).
    SupplementProvided, sent to A, is allowed in status 5: A must not refuse it on its copy."""
    first, second = writers
    code = "000.00.31.H56-260213-0001"
    received = ReceivedData("1.001757", Channel.ONLINE, "d" * 64)
    [opened] = first.append(
        [submission(code, 1, EventType.RECEIVED, received, "2026-02-13T10:00:00+07:00")]
    )
    assert isinstance(opened, Appended)
    asked = SupplementRequestedData("thiếu giấy tờ")
    second.append(
        [submission(code, 2, EventType.SUPPLEMENT_REQUESTED, asked, "2026-02-23T09:00:00+07:00")]
    )
    [provided] = first.append(
        [
            submission(
                code,
                3,
                EventType.SUPPLEMENT_PROVIDED,
                SupplementProvidedData(),
                "2026-02-24T09:00:00+07:00",
            )
        ]
    )
    assert isinstance(provided, Appended), provided
    assert provided.version == 3 and provided.status is Status.PROCESSING


def test_a_writer_appends_after_events_another_wrote_and_still_refuses_what_is_wrong(
    writers: tuple[IngestWriter, IngestWriter],
) -> None:
    first, second = writers
    code = "000.00.31.H56-260213-0002"
    received = ReceivedData("1.001757", Channel.ONLINE, "d" * 64)
    first.append([submission(code, 1, EventType.RECEIVED, received, "2026-02-13T10:00:00+07:00")])
    second.append(
        [submission(code, 2, EventType.ANNOTATED, AnnotatedData("b"), "2026-02-13T11:00:00+07:00")]
    )
    [third] = first.append(
        [submission(code, 3, EventType.ANNOTATED, AnnotatedData("a"), "2026-02-13T12:00:00+07:00")]
    )
    assert isinstance(third, Appended) and third.version == 3
    [refused] = first.append(
        [
            submission(
                code,
                4,
                EventType.SUPPLEMENT_PROVIDED,
                SupplementProvidedData(),
                "2026-02-13T13:00:00+07:00",
            )
        ]
    )
    assert isinstance(refused, TransitionNotAllowed)
