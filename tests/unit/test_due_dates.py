"""Due dates worked by hand: the clock at receipt, supplementation pauses, apology letters.

Working hours are 07:00-11:30 and 13:30-17:00 (8 hours a day), Monday to Friday minus Vietnam's
public holidays. All times are Asia/Ho_Chi_Minh. March 2026 has no public holiday.
"""

from dataclasses import replace
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.calendar import WorkCalendar
from domain.code import DossierCode
from domain.commands import (
    Actor,
    Channel,
    DeadlineExtendedData,
    EventCommand,
    EventData,
    Outcome,
    ReceivedData,
    ResolvedData,
    Rules,
    SupplementPolicy,
    SupplementProvidedData,
    SupplementRequestedData,
)
from domain.dossier import Dossier, record
from domain.procedures import ProcedureCatalogue
from domain.status import EventType
from domain.timeliness import Timeliness

TZ = ZoneInfo("Asia/Ho_Chi_Minh")
CODE = DossierCode.parse("000.00.31.H56-260302-0001")
CALENDAR = WorkCalendar()
FIVE_WORKING_DAYS = "1.001757"
THREE_WORKING_DAYS = "1.000003"
FIFTEEN_DAYS = "2.000015"
RULES = Rules(
    calendar=CALENDAR,
    procedures=ProcedureCatalogue.from_records(
        [
            {
                "code": code,
                "name": code,
                "processing_time": amount,
                "unit": unit,
                "level": "province",
            }
            for code, amount, unit in [
                (FIVE_WORKING_DAYS, 5, "working_days"),
                (THREE_WORKING_DAYS, 3, "working_days"),
                (FIFTEEN_DAYS, 15, "calendar_days"),
            ]
        ]
    ),
)
RESTART = RULES
EXTEND = replace(RULES, supplement_policy=SupplementPolicy.EXTEND)
RECORDED_AT = datetime(2030, 1, 1, tzinfo=TZ)


def at(month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=TZ)


class History:
    """Records events on one dossier, numbering their event_ids."""

    def __init__(self, rules: Rules = RULES) -> None:
        self.rules = rules
        self.dossier: Dossier | None = None
        self.count = 0

    def then(self, data: EventData, occurred_at: datetime) -> Dossier:
        self.count += 1
        command = EventCommand(
            event_id=f"e-{self.count}",
            type=EventType(type(data).__name__.removesuffix("Data")),
            occurred_at=occurred_at,
            actor=Actor("cb-1", "officer"),
            source="test",
            data=data,
            fingerprint=f"fp-{self.count}",
        )
        self.dossier = record(self.dossier, CODE, command, self.rules, RECORDED_AT).dossier
        return self.dossier


def received(procedure: str, occurred_at: datetime, rules: Rules = RULES) -> History:
    history = History(rules)
    history.then(ReceivedData(procedure, Channel.IN_PERSON, "digest"), occurred_at)
    return history


def test_five_working_days_from_a_monday_morning() -> None:
    """Received Mon 2/3 10:00. Mon 10:00-17:00 gives 5 h (lunch excluded), Tue to Fri 8 h each
    (37 h by Fri 17:00), the last 3 h on Mon 9/3 07:00-10:00: due Mon 9/3 10:00."""
    dossier = received(FIVE_WORKING_DAYS, at(3, 2, 10)).dossier

    assert dossier is not None
    assert dossier.due_at == dossier.original_due_at == at(3, 9, 10)


def test_received_on_a_saturday_the_clock_starts_on_monday() -> None:
    """Received Sat 7/3 09:00: the clock starts at the next working moment, Mon 9/3 07:00;
    5 x 8 h ends exactly at Fri 13/3 17:00 (the end of the period, not Monday's start)."""
    dossier = received(FIVE_WORKING_DAYS, at(3, 7, 9)).dossier

    assert dossier is not None
    assert dossier.due_at == at(3, 13, 17)


def test_public_holidays_do_not_count() -> None:
    """Received Wed 29/4 10:00 for 3 working days: Wed gives 5 h; Thu 30/4 and Fri 1/5 are
    holidays, then the weekend; Mon 4/5 and Tue 5/5 give 16 h (21 h); the last 3 h end on
    Wed 6/5 at 10:00."""
    dossier = received(THREE_WORKING_DAYS, at(4, 29, 10)).dossier

    assert dossier is not None
    assert dossier.due_at == at(5, 6, 10)


def test_a_pause_across_a_weekend_restarts_the_full_time() -> None:
    """RESTART, the rule in force. Received Mon 2/3 10:00 (due Mon 9/3 10:00); a supplement is
    requested Thu 5/3 15:00 and provided Mon 9/3 09:00. The full 5 working days count again from
    Mon 9/3 09:00: Mon 9/3 09:00-17:00 is 6 h, Tue to Fri 32 h (38 h), the last 2 h end on
    Mon 16/3 09:00."""
    history = received(FIVE_WORKING_DAYS, at(3, 2, 10), RESTART)
    paused = history.then(SupplementRequestedData("cadastral map missing"), at(3, 5, 15))

    assert (paused.paused_at, paused.due_at) == (at(3, 5, 15), at(3, 9, 10))

    resumed = history.then(SupplementProvidedData(), at(3, 9, 9))

    assert resumed.paused_at is None
    assert resumed.due_at == resumed.original_due_at == at(3, 16, 9)
    assert resumed.supplement_requests == 1


def test_a_pause_across_a_weekend_extends_by_the_working_time_waited() -> None:
    """EXTEND. Same dossier: the wait from Thu 5/3 15:00 to Mon 9/3 09:00 holds Thu 15:00-17:00
    (2 h), Fri (8 h), no weekend hours, Mon 07:00-09:00 (2 h): 12 working hours. The old due date,
    Mon 9/3 10:00, moves by 12 h: Mon 10:00-17:00 gives 5 h, Tue 07:00-11:30 4.5 h (9.5 h), the
    last 2.5 h end on Tue 10/3 at 16:00."""
    history = received(FIVE_WORKING_DAYS, at(3, 2, 10), EXTEND)
    history.then(SupplementRequestedData("cadastral map missing"), at(3, 5, 15))

    resumed = history.then(SupplementProvidedData(), at(3, 9, 9))

    assert resumed.due_at == resumed.original_due_at == at(3, 10, 16)


def test_a_calendar_day_procedure_extends_by_the_calendar_days_waited() -> None:
    """15 calendar days from Mon 2/3 10:00: due at the close of Tue 17/3, 17:00. Paused Thu 5/3,
    resumed Mon 9/3:
    4 calendar days. Sat 21/3 is no working day, so the period ends at the end of the next
    working day (Civil Code art. 148): Mon 23/3 17:00."""
    history = received(FIFTEEN_DAYS, at(3, 2, 10), EXTEND)
    assert history.dossier is not None
    assert history.dossier.due_at == at(3, 17, 17)
    history.then(SupplementRequestedData("stamp missing"), at(3, 5, 15))

    resumed = history.then(SupplementProvidedData(), at(3, 9, 9))

    assert resumed.due_at == at(3, 23, 17)


def test_an_apology_letter_does_not_make_a_late_dossier_timely() -> None:
    """Received Mon 2/3 10:00, due Mon 9/3 10:00. On Fri 6/3 the agency sends an apology letter
    (DeadlineExtended) with a new appointment, Fri 13/3 17:00. Resolved Wed 11/3 14:00: before
    the new date, but the local date 11/3 is after the original due date 9/3, so late."""
    history = received(FIVE_WORKING_DAYS, at(3, 2, 10))
    extended = history.then(DeadlineExtendedData(at(3, 13, 17), "site visit"), at(3, 6, 15))

    assert (extended.due_at, extended.original_due_at) == (at(3, 13, 17), at(3, 9, 10))
    assert extended.timeliness(at(3, 11, 9), CALENDAR) is Timeliness.OVERDUE

    resolved = history.then(ResolvedData(Outcome.APPROVED, electronic_result=False), at(3, 11, 14))

    assert resolved.resolved_at == resolved.finished_at == at(3, 11, 14)
    assert resolved.timeliness(RECORDED_AT, CALENDAR) is Timeliness.LATE


_RECEIVED_AT = st.integers(0, 2 * 365 * 24 * 60).map(lambda m: at(1, 1, 0) + timedelta(minutes=m))
_WAIT = st.integers(0, 40 * 24 * 60).map(lambda minutes: timedelta(minutes=minutes))


@pytest.mark.parametrize("procedure", [FIVE_WORKING_DAYS, FIFTEEN_DAYS])
@pytest.mark.parametrize("rules", [RESTART, EXTEND], ids=["restart", "extend"])
@settings(max_examples=150, deadline=None)
@given(received_at=_RECEIVED_AT, before_pause=_WAIT, waited=_WAIT)
def test_a_pause_never_makes_a_due_date_earlier(
    procedure: str, rules: Rules, received_at: datetime, before_pause: timedelta, waited: timedelta
) -> None:
    history = received(procedure, received_at, rules)
    assert history.dossier is not None
    due_at, original_due_at = history.dossier.due_at, history.dossier.original_due_at
    assert due_at is not None
    assert original_due_at is not None
    history.then(SupplementRequestedData("missing"), received_at + before_pause)

    resumed = history.then(SupplementProvidedData(), received_at + before_pause + waited)

    assert resumed.due_at is not None
    assert resumed.original_due_at is not None
    assert resumed.due_at >= due_at
    assert resumed.original_due_at >= original_due_at
