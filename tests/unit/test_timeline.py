"""A dossier's history read for people: the public's milestones and the inspector's timeline.

The worked example (working hours 07:00-11:30 and 13:30-17:00, no holiday in early March 2026):
received Monday 2 March 10:00, 5 working days; asked for a supplement Tuesday 3 March 10:00
(8 working hours used: Monday 5 h, Tuesday 3 h); supplemented Thursday 5 March 10:00, when
the full 5 days count again (due Thursday 12 March 10:00); resolved Monday 9 March 16:00.
Used: 8 h + Thursday 5 h + Friday 8 h + Monday 7 h = 28 h. Allowed: 8 h + 40 h = 48 h.
"""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from application.ledger import HistoryEntry
from domain.calendar import WorkCalendar
from domain.code import DossierCode
from domain.commands import (
    Actor,
    Channel,
    EventCommand,
    EventData,
    Outcome,
    ReceivedData,
    ResolvedData,
    Rules,
    SupplementProvidedData,
    SupplementRequestedData,
    TransferredData,
)
from domain.dossier import Dossier, record
from domain.procedures import ProcedureCatalogue
from domain.status import EventType, Status
from projections.timeline import public_milestones, timeline

TZ = ZoneInfo("Asia/Ho_Chi_Minh")
CODE = DossierCode.parse("000.00.31.H56-260302-0001")
CALENDAR = WorkCalendar()
RULES = Rules(
    calendar=CALENDAR,
    procedures=ProcedureCatalogue.from_records(
        [
            {
                "code": "1.001757",
                "name": "S",
                "processing_time": 5,
                "unit": "working_days",
                "level": "province",
            }
        ]
    ),
)
STORY: list[tuple[EventData, datetime]] = [
    (ReceivedData("1.001757", Channel.IN_PERSON, "digest"), datetime(2026, 3, 2, 10, tzinfo=TZ)),
    (TransferredData("mot-cua", "chuyen-mon"), datetime(2026, 3, 2, 11, tzinfo=TZ)),
    (SupplementRequestedData("thiếu giấy tờ"), datetime(2026, 3, 3, 10, tzinfo=TZ)),
    (SupplementProvidedData(), datetime(2026, 3, 5, 10, tzinfo=TZ)),
    (ResolvedData(Outcome.APPROVED, True), datetime(2026, 3, 9, 16, tzinfo=TZ)),
]


def entries() -> list[HistoryEntry]:
    dossier: Dossier | None = None
    history = []
    for version, (data, at) in enumerate(STORY, start=1):
        command = EventCommand(
            event_id=f"e-{version}",
            type=EventType(type(data).__name__.removesuffix("Data")),
            occurred_at=at,
            actor=Actor("cb-0042", "officer"),
            source="test",
            data=data,
            fingerprint=f"fp-{version}",
        )
        dossier = record(dossier, CODE, command, RULES, datetime(2026, 6, 1, tzinfo=TZ)).dossier
        (event,) = dossier.collect_events()
        history.append(HistoryEntry(version, version * 10, "topic", event))
    return history


def test_the_timeline_says_the_state_after_each_event_and_the_working_time() -> None:
    lines = timeline(entries(), CALENDAR)

    assert [line.status for line in lines] == [
        Status.RECEIVED, Status.PROCESSING, Status.SUPPLEMENT_REQUESTED, Status.PROCESSING,
        Status.RESOLVED,
    ]  # fmt: skip
    assert [line.paused for line in lines] == [False, False, True, False, False]
    assert [line.due_changed for line in lines] == [False, False, False, True, False]
    assert lines[0].due_at == datetime(2026, 3, 9, 10, tzinfo=TZ)
    assert lines[3].due_at == datetime(2026, 3, 12, 10, tzinfo=TZ)
    assert lines[-1].working_used == timedelta(hours=28)
    assert lines[-1].working_allowed == timedelta(hours=48)
    assert lines[2].working_used == timedelta(hours=8)  # the clock stops at the request
    assert [line.actor_role for line in lines] == ["officer"] * 5


def test_the_timeline_keeps_each_events_own_state() -> None:
    lines = timeline(entries(), CALENDAR)

    assert lines[0].dossier.status is Status.RECEIVED and lines[0].dossier.version == 1
    assert lines[-1].dossier.resolved_at == datetime(2026, 3, 9, 16, tzinfo=TZ)


def test_the_public_milestones_are_status_changes_with_their_time_and_nothing_else() -> None:
    milestones = public_milestones(entries())

    assert [(m.status, m.at) for m in milestones] == [
        (Status.RECEIVED, datetime(2026, 3, 2, 10, tzinfo=TZ)),
        (Status.PROCESSING, datetime(2026, 3, 2, 11, tzinfo=TZ)),
        (Status.SUPPLEMENT_REQUESTED, datetime(2026, 3, 3, 10, tzinfo=TZ)),
        (Status.PROCESSING, datetime(2026, 3, 5, 10, tzinfo=TZ)),
        (Status.RESOLVED, datetime(2026, 3, 9, 16, tzinfo=TZ)),
    ]
    assert set(vars(milestones[0])) == {"status", "at"}
