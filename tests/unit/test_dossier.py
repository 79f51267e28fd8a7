"""The Dossier aggregate through `record`: idempotency, order in time, its rules, replay."""

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid5
from zoneinfo import ZoneInfo

import pytest
from eventsourcing.application import Application

from domain.calendar import WorkCalendar
from domain.code import DossierCode
from domain.commands import (
    Actor,
    AnnotatedData,
    Channel,
    DeadlineExtendedData,
    EventCommand,
    EventData,
    FeePaidData,
    FeeRequestedData,
    Outcome,
    Rating,
    ReceivedData,
    ResolvedData,
    ResultReturnedData,
    Rules,
    SatisfactionRatedData,
    SubmittedData,
    SupplementProvidedData,
    SupplementRequestedData,
    TransferredData,
)
from domain.dossier import LEDGER_NAMESPACE, Dossier, Recorded, dossier_id, record
from domain.errors import (
    DomainError,
    EventIdReused,
    ExpectedVersionMismatch,
    InvalidEventData,
    OccurredAtBeforePrevious,
    OccurredAtInFuture,
    UnknownProcedure,
)
from domain.procedures import ProcedureCatalogue, ProcessingTime, TimeUnit
from domain.status import EventType, Status
from domain.timeliness import Timeliness

TZ = ZoneInfo("Asia/Ho_Chi_Minh")
CODE = DossierCode.parse("000.00.31.H56-260302-0001")
MONDAY = datetime(2026, 3, 2, 10, tzinfo=TZ)
NOW = datetime(2026, 6, 1, 9, tzinfo=TZ)
CALENDAR = WorkCalendar()
RULES = Rules(
    calendar=CALENDAR,
    procedures=ProcedureCatalogue.from_records(
        [
            {
                "code": "1.001757",
                "name": "Sample",
                "processing_time": 5,
                "unit": "working_days",
                "level": "province",
            }
        ]
    ),
)


def command(
    data: EventData, at: datetime, event_id: str = "evt-1", fingerprint: str | None = None
) -> EventCommand:
    event_type = EventType(type(data).__name__.removesuffix("Data"))
    return EventCommand(
        event_id=event_id,
        type=event_type,
        occurred_at=at,
        actor=Actor("cb-0042", "receiving_officer"),
        source="one-stop-h56",
        data=data,
        fingerprint=fingerprint or f"fp-{event_id}",
    )


RECEIVED = ReceivedData("1.001757", Channel.IN_PERSON, "digest-of-7KQ4M2")


def received(at: datetime = MONDAY) -> Dossier:
    return record(None, CODE, command(RECEIVED, at, "r-1"), RULES, NOW).dossier


def test_a_dossier_id_is_the_uuid5_of_its_code() -> None:
    assert dossier_id(CODE) == uuid5(LEDGER_NAMESPACE, "000.00.31.H56-260302-0001")
    assert received().id == dossier_id(CODE)


def test_a_received_dossier_gets_its_procedure_channel_and_due_date() -> None:
    dossier = received()

    assert dossier.status is Status.RECEIVED
    assert (dossier.code, dossier.agency) == (CODE, "000.00.31.H56")
    assert dossier.receipt_date == CODE.receipt_date
    assert (dossier.procedure_code, dossier.procedure_name) == ("1.001757", "Sample")
    assert dossier.processing_time == ProcessingTime(5, TimeUnit.WORKING_DAYS)
    assert dossier.channel is Channel.IN_PERSON
    assert dossier.lookup_secret_digest == "digest-of-7KQ4M2"
    assert dossier.received_at == MONDAY
    assert dossier.due_at == dossier.original_due_at == datetime(2026, 3, 9, 10, tzinfo=TZ)
    assert dossier.version == 1


def test_events_store_instants_in_utc() -> None:
    (event,) = received().collect_events()

    assert isinstance(event, Dossier.Received)
    assert event.occurred_at.tzinfo is UTC
    assert event.due_at.tzinfo is UTC
    assert event.recorded_at == event.timestamp == NOW


def test_the_same_event_twice_is_recorded_once() -> None:
    dossier = received()
    dossier.collect_events()

    again = record(dossier, CODE, command(RECEIVED, MONDAY, "r-1"), RULES, NOW)

    assert again == Recorded(dossier, version=1, already_recorded=True)
    assert dossier.pending_events == []


def test_a_retry_answers_with_the_version_of_the_first_time() -> None:
    dossier = received()
    transfer = command(TransferredData("desk", "office"), MONDAY + timedelta(hours=1), "t-1")
    record(dossier, CODE, transfer, RULES, NOW)
    record(
        dossier, CODE, command(AnnotatedData("ok"), MONDAY + timedelta(hours=2), "a-1"), RULES, NOW
    )

    retry = record(dossier, CODE, transfer, RULES, NOW)

    assert (retry.version, retry.already_recorded) == (2, True)
    assert dossier.version == 3


def test_a_reused_event_id_with_other_content_is_refused() -> None:
    dossier = received()
    other = command(TransferredData("desk", "office"), MONDAY, "r-1", fingerprint="other")

    with pytest.raises(EventIdReused) as refused:
        record(dossier, CODE, other, RULES, NOW)

    assert (refused.value.rule, refused.value.field) == ("event_id_reused", "event_id")
    assert refused.value.version == 1


def test_an_event_may_not_go_back_in_time() -> None:
    dossier = received()
    earlier = command(AnnotatedData("late note"), MONDAY - timedelta(seconds=1), "a-1")

    with pytest.raises(OccurredAtBeforePrevious) as refused:
        record(dossier, CODE, earlier, RULES, NOW)

    assert refused.value.field == "occurred_at"
    assert record(dossier, CODE, command(AnnotatedData("same time"), MONDAY, "a-2"), RULES, NOW)


def test_an_event_may_be_ahead_of_the_ledger_clock_by_the_clock_skew_only() -> None:
    skew = RULES.max_clock_skew

    with pytest.raises(OccurredAtInFuture) as refused:
        record(None, CODE, command(RECEIVED, NOW + skew + timedelta(seconds=1)), RULES, NOW)

    assert refused.value.rule == "occurred_at_in_future"
    assert record(None, CODE, command(RECEIVED, NOW + skew), RULES, NOW).version == 1


@pytest.mark.parametrize(
    "data",
    [
        ReceivedData("9.999999", Channel.ONLINE, "digest"),
        SubmittedData("9.999999", Channel.ONLINE),
    ],
)
def test_a_dossier_needs_a_procedure_of_the_catalogue(data: EventData) -> None:
    with pytest.raises(UnknownProcedure) as refused:
        record(None, CODE, command(data, MONDAY), RULES, NOW)

    assert refused.value.field == "data.procedure_code"
    assert "9.999999" in str(refused.value)


def test_expected_version_zero_means_a_new_dossier() -> None:
    assert record(None, CODE, command(RECEIVED, MONDAY), RULES, NOW, expected_version=0)

    with pytest.raises(ExpectedVersionMismatch) as refused:
        record(received(), CODE, command(AnnotatedData("x"), MONDAY, "a-1"), RULES, NOW, 0)

    assert (refused.value.expected, refused.value.actual) == (0, 1)
    assert refused.value.field == "expected_version"


def test_expected_version_must_be_the_current_version() -> None:
    note = command(AnnotatedData("x"), MONDAY, "a-1")

    with pytest.raises(ExpectedVersionMismatch):
        record(received(), CODE, note, RULES, NOW, expected_version=2)
    with pytest.raises(ExpectedVersionMismatch):
        record(None, CODE, note, RULES, NOW, expected_version=1)
    assert record(received(), CODE, note, RULES, NOW, expected_version=1).version == 2
    assert record(received(), CODE, note, RULES, NOW, expected_version=None).version == 2


def test_a_retry_is_answered_even_when_its_expected_version_is_now_stale() -> None:
    dossier = received()

    retry = record(dossier, CODE, command(RECEIVED, MONDAY, "r-1"), RULES, NOW, expected_version=0)

    assert retry.already_recorded


def test_a_refused_command_leaves_the_dossier_unchanged() -> None:
    dossier = received()
    before = dict(vars(dossier))
    before_applied = dict(dossier.applied)

    with pytest.raises(DomainError):
        record(dossier, CODE, command(FeePaidData(1), MONDAY, "f-1"), RULES, NOW)
    with pytest.raises(DomainError):
        past = DeadlineExtendedData(MONDAY, "too early")
        record(dossier, CODE, command(past, MONDAY, "d-1"), RULES, NOW)

    assert vars(dossier) == before
    assert dossier.applied == before_applied
    assert len(dossier.pending_events) == 1


def test_a_new_deadline_must_be_after_the_current_one() -> None:
    dossier = received()
    same = DeadlineExtendedData(dossier.due_at or NOW, "apology")

    with pytest.raises(InvalidEventData) as refused:
        record(dossier, CODE, command(same, MONDAY, "d-1"), RULES, NOW)

    assert (refused.value.rule, refused.value.field) == ("new_due_at_not_later", "data.new_due_at")


def test_a_note_may_refer_only_to_an_existing_version() -> None:
    with pytest.raises(InvalidEventData) as refused:
        record(received(), CODE, command(AnnotatedData("fix", 2), MONDAY, "a-1"), RULES, NOW)

    assert refused.value.field == "data.refers_to_version"
    assert record(received(), CODE, command(AnnotatedData("fix", 1), MONDAY, "a-1"), RULES, NOW)


def test_a_dossier_submitted_online_is_received_later() -> None:
    submitted = record(
        None, CODE, command(SubmittedData("1.001757", Channel.ONLINE), MONDAY, "s-1"), RULES, NOW
    )
    dossier = submitted.dossier

    assert (dossier.status, dossier.submitted_at, dossier.due_at) == (
        Status.SUBMITTED,
        MONDAY,
        None,
    )
    assert dossier.timeliness(NOW, CALENDAR) is None

    tuesday = MONDAY + timedelta(days=1)
    record(
        dossier,
        CODE,
        command(replace(RECEIVED, channel=Channel.ONLINE), tuesday, "r-1"),
        RULES,
        NOW,
    )

    assert (dossier.status, dossier.received_at, dossier.submitted_at) == (
        Status.RECEIVED,
        tuesday,
        MONDAY,
    )
    assert dossier.version == 2


def full_history() -> Dossier:
    """A dossier through most events: supplement, fee, resolution, return, rating, a note."""
    at = iter(MONDAY + timedelta(hours=hours) for hours in range(100))
    dossier = received(next(at))
    steps: list[EventData] = [
        TransferredData("one-stop desk", "land office", step="appraisal"),
        SupplementRequestedData("map missing", ("cadastral map",)),
        SupplementProvidedData(),
        FeeRequestedData(120_000),
        FeePaidData(120_000),
        DeadlineExtendedData(MONDAY + timedelta(days=30), "site visit needed"),
        ResolvedData(Outcome.APPROVED, electronic_result=True, result_ref="GCN-1"),
        ResultReturnedData(Channel.POSTAL),
        SatisfactionRatedData(Rating.VERY_SATISFIED),
        AnnotatedData("returned by post", refers_to_version=9),
    ]
    for index, data in enumerate(steps):
        record(dossier, CODE, command(data, next(at), f"e-{index}"), RULES, NOW)
    return dossier


def test_the_collected_events_replay_into_an_equal_dossier() -> None:
    dossier = full_history()
    events = dossier.collect_events()

    replayed = None
    for event in events:
        replayed = event.mutate(replayed)

    assert replayed == dossier
    assert isinstance(replayed, Dossier)
    assert replayed.status is Status.RESULT_RETURNED
    assert (replayed.version, replayed.supplement_requests) == (11, 1)
    assert replayed.rating is Rating.VERY_SATISFIED
    assert replayed.outcome is Outcome.APPROVED
    assert replayed.return_channel is Channel.POSTAL
    assert replayed.timeliness(NOW, CALENDAR) is Timeliness.EARLY


def test_the_application_repository_reconstructs_a_dossier() -> None:
    """Through eventsourcing's own persistence (in memory, its default JSON transcoding)."""
    dossier = full_history()
    app = Application[UUID]()
    app.save(dossier)

    stored: Dossier = app.repository.get(dossier.id)
    first: Dossier = app.repository.get(dossier.id, version=1)

    assert isinstance(stored, Dossier)
    assert vars(stored) == vars(dossier)
    assert first.status is Status.RECEIVED


def test_an_event_needs_an_id_of_the_wire_alphabet_and_an_aware_time() -> None:
    with pytest.raises(InvalidEventData) as refused:
        command(RECEIVED, MONDAY, event_id="has space")
    assert refused.value.field == "event_id"

    with pytest.raises(InvalidEventData) as refused:
        command(RECEIVED, MONDAY.replace(tzinfo=None))
    assert refused.value.field == "occurred_at"

    with pytest.raises(InvalidEventData) as refused:
        replace(command(RECEIVED, MONDAY), type=EventType.RESOLVED)
    assert refused.value.field == "data"


@pytest.mark.parametrize(
    ("build", "field"),
    [
        (lambda: FeeRequestedData(-1), "data.amount_vnd"),
        (lambda: SupplementRequestedData("  "), "data.reason"),
        (lambda: SupplementRequestedData("why", ("",)), "data.items[0]"),
        (lambda: SubmittedData("1.001757", Channel.IN_PERSON), "data.channel"),
        (lambda: DeadlineExtendedData(datetime(2026, 3, 20), "naive"), "data.new_due_at"),
        (lambda: AnnotatedData("x", refers_to_version=0), "data.refers_to_version"),
        (lambda: TransferredData("", "office"), "data.from_unit"),
        (lambda: Actor("", "officer"), "actor.id"),
    ],
)
def test_invalid_data_is_refused_naming_the_wire_field(build: object, field: str) -> None:
    with pytest.raises(InvalidEventData) as refused:
        build()  # type: ignore[operator]

    assert refused.value.field == field
    assert refused.value.rule == "invalid_value"
