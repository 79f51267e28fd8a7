"""The transition table, tested pair by pair: generated from `TRANSITIONS`, never restated here."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

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
    ProcessingStoppedData,
    Rating,
    ReceiptRefusedData,
    ReceivedData,
    ResolvedData,
    ResultReturnedData,
    Rules,
    SatisfactionRatedData,
    SubmittedData,
    SupplementProvidedData,
    SupplementRequestedData,
    TransferredData,
    WithdrawnData,
)
from domain.dossier import Dossier, record
from domain.errors import DomainError, TransitionNotAllowed
from domain.procedures import ProcedureCatalogue
from domain.status import (
    OPENING_EVENTS,
    STATUS_AFTER,
    TERMINAL_STATUSES,
    TRANSITIONS,
    EventType,
    Status,
    is_allowed,
    status_after,
)

TZ = ZoneInfo("Asia/Ho_Chi_Minh")
CODE = DossierCode.parse("000.00.31.H56-260302-0001")
START = datetime(2026, 3, 2, 8, tzinfo=TZ)  # a Monday morning, no holiday near
NOW = START + timedelta(days=90)
RULES = Rules(
    calendar=WorkCalendar(),
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

# How to reach each status from nothing (the last event's STATUS_AFTER is the status).
PATHS: dict[Status | None, tuple[EventType, ...]] = {
    None: (),
    Status.SUBMITTED: (EventType.SUBMITTED,),
    Status.RECEIVED: (EventType.RECEIVED,),
    Status.RECEIPT_REFUSED: (EventType.RECEIPT_REFUSED,),
    Status.PROCESSING: (EventType.RECEIVED, EventType.TRANSFERRED),
    Status.SUPPLEMENT_REQUESTED: (EventType.RECEIVED, EventType.SUPPLEMENT_REQUESTED),
    Status.FEE_REQUESTED: (EventType.RECEIVED, EventType.FEE_REQUESTED),
    Status.WITHDRAWN: (EventType.RECEIVED, EventType.WITHDRAWN),
    Status.PROCESSING_STOPPED: (EventType.RECEIVED, EventType.PROCESSING_STOPPED),
    Status.RESOLVED: (EventType.RECEIVED, EventType.RESOLVED),
    Status.RESULT_RETURNED: (EventType.RECEIVED, EventType.RESOLVED, EventType.RESULT_RETURNED),
}


def sample_data(event_type: EventType, at: datetime) -> EventData:
    samples: dict[EventType, EventData] = {
        EventType.SUBMITTED: SubmittedData("1.001757", Channel.ONLINE),
        EventType.RECEIVED: ReceivedData("1.001757", Channel.IN_PERSON, "digest"),
        EventType.RECEIPT_REFUSED: ReceiptRefusedData("not our agency"),
        EventType.TRANSFERRED: TransferredData("one-stop desk", "land office"),
        EventType.SUPPLEMENT_REQUESTED: SupplementRequestedData("copy missing", ("ID copy",)),
        EventType.SUPPLEMENT_PROVIDED: SupplementProvidedData(),
        EventType.FEE_REQUESTED: FeeRequestedData(50_000),
        EventType.FEE_PAID: FeePaidData(50_000),
        EventType.WITHDRAWN: WithdrawnData(),
        EventType.PROCESSING_STOPPED: ProcessingStoppedData("applicant deceased"),
        EventType.RESOLVED: ResolvedData(Outcome.APPROVED, electronic_result=True),
        EventType.RESULT_RETURNED: ResultReturnedData(Channel.IN_PERSON),
        EventType.DEADLINE_EXTENDED: DeadlineExtendedData(at + timedelta(days=400), "backlog"),
        EventType.SATISFACTION_RATED: SatisfactionRatedData(Rating.SATISFIED),
        EventType.ANNOTATED: AnnotatedData("checked"),
    }
    return samples[event_type]


def command(event_type: EventType, step: int) -> EventCommand:
    at = START + timedelta(hours=step)
    return EventCommand(
        event_id=f"evt-{step}",
        type=event_type,
        occurred_at=at,
        actor=Actor("cb-0042", "officer"),
        source="test",
        data=sample_data(event_type, at),
        fingerprint=f"fp-{step}",
    )


def dossier_in(status: Status | None) -> Dossier | None:
    dossier = None
    for step, event_type in enumerate(PATHS[status]):
        dossier = record(dossier, CODE, command(event_type, step), RULES, NOW).dossier
    assert (dossier.status if dossier else None) is status
    return dossier


STATUSES: list[Status | None] = [None, *Status]
PAIRS = [(status, event_type) for status in STATUSES for event_type in EventType]


def _pairs(*, allowed: bool) -> list[object]:
    return [
        pytest.param(status, event_type, id=f"{status or 'new'}-{event_type}")
        for status, event_type in PAIRS
        if is_allowed(status, event_type) is allowed
    ]


@pytest.mark.parametrize(("status", "event_type"), _pairs(allowed=True))
def test_an_allowed_event_is_recorded_and_leads_to_its_status(
    status: Status | None, event_type: EventType
) -> None:
    dossier = dossier_in(status)
    before = 0 if dossier is None else len(dossier.pending_events)

    result = record(dossier, CODE, command(event_type, 10), RULES, NOW)

    assert result.dossier.status is status_after(status, event_type)
    assert len(result.dossier.pending_events) == before + 1
    assert type(result.dossier.pending_events[-1]).__name__ == event_type
    assert result.version == result.dossier.version == len(PATHS[status]) + 1


@pytest.mark.parametrize(("status", "event_type"), _pairs(allowed=False))
def test_a_forbidden_event_is_refused_naming_status_and_event(
    status: Status | None, event_type: EventType
) -> None:
    dossier = dossier_in(status)

    with pytest.raises(TransitionNotAllowed) as refused:
        record(dossier, CODE, command(event_type, 10), RULES, NOW)

    assert refused.value.status is status
    assert refused.value.event_type is event_type
    assert refused.value.rule == "transition_not_allowed"
    assert refused.value.field == "type"
    assert str(event_type) in str(refused.value)
    if status is not None:
        assert f"status {int(status)} ({status.name_vi} / {status.name_en})" in str(refused.value)
    assert dossier == dossier_in(status)  # same state, same pending events


def test_the_message_names_the_status_as_the_portal_does() -> None:
    error = TransitionNotAllowed(Status.SUPPLEMENT_REQUESTED, EventType.RESOLVED)

    assert str(error).startswith(
        "Resolved is not allowed when the dossier is in status 5 "
        "(Yêu cầu bổ sung / Supplement requested)"
    )


def test_the_table_covers_every_status_and_every_event_type() -> None:
    assert set(TRANSITIONS) == {None, *Status}
    assert set(STATUS_AFTER) == set(EventType)
    assert {EventType.SUBMITTED, EventType.RECEIVED, EventType.RECEIPT_REFUSED} == OPENING_EVENTS


def test_terminal_statuses_are_refused_withdrawn_stopped_and_returned() -> None:
    assert {
        Status.RECEIPT_REFUSED,
        Status.WITHDRAWN,
        Status.PROCESSING_STOPPED,
        Status.RESULT_RETURNED,
    } == TERMINAL_STATUSES
    for status in TERMINAL_STATUSES:
        assert EventType.ANNOTATED in TRANSITIONS[status]


def test_every_event_type_has_an_event_class_of_the_same_name() -> None:
    for event_type in EventType:
        event_class = getattr(Dossier, event_type.value)
        assert issubclass(event_class, Dossier.Event)
        assert event_class.__qualname__ == f"Dossier.{event_type.value}"


@settings(max_examples=150, deadline=None)
@given(st.lists(st.sampled_from(list(EventType)), max_size=14))
def test_any_sequence_of_events_follows_the_table(event_types: list[EventType]) -> None:
    """A random walk: each event is recorded exactly when the table allows it in that status."""
    dossier: Dossier | None = None
    status: Status | None = None
    for step, event_type in enumerate(event_types):
        try:
            dossier = record(dossier, CODE, command(event_type, step), RULES, NOW).dossier
        except DomainError as refusal:
            assert isinstance(refusal, TransitionNotAllowed)
            assert not is_allowed(status, event_type)
        else:
            assert is_allowed(status, event_type)
            status = status_after(status, event_type)
        assert (dossier.status if dossier else None) is status
