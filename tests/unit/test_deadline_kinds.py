"""Finding 4: deadlines in working hours, same-day deadlines with a cutoff, and no deadline.

Catalogues hold all three: "04 giờ làm việc"; certified copies "trong ngày cơ quan tiếp nhận yêu
cầu hoặc trong ngày làm việc tiếp theo, nếu tiếp nhận yêu cầu sau 15 giờ" (Decree 23/2015/NĐ-CP
on certification, art. 7); and procedures with no appointment date at all.
"""

from __future__ import annotations

from datetime import datetime, time
from typing import Any

import pytest

from domain.commands import (
    DeadlineExtendedData,
    Outcome,
    ResolvedData,
    SupplementProvidedData,
    SupplementRequestedData,
)
from domain.errors import InvalidEventData
from domain.procedures import CatalogueError, ProcedureCatalogue, ProcessingTime, TimeUnit
from domain.timeliness import Timeliness
from tests.unit.stories import (
    CALENDAR,
    EXTEND,
    FOUR_WORKING_HOURS,
    NO_DUE_DATE,
    SAME_DAY,
    at,
    received,
)

SAME_DAY_TIME = ProcessingTime(0, TimeUnit.WORKING_DAYS, time(15))


def test_four_working_hours_from_friday_afternoon_end_on_monday_morning() -> None:
    """Received Fri 6/3/2026 15:00, 4 working hours: 15:00-17:00 gives 2 h; the weekend is not
    worked; Mon 9/3 07:00-09:00 the other 2: due Mon 9/3 09:00."""
    dossier = received(FOUR_WORKING_HOURS, at(2026, 3, 6, 15)).dossier
    assert dossier is not None
    assert dossier.processing_time == ProcessingTime(4, TimeUnit.WORKING_HOURS)
    assert dossier.due_at == at(2026, 3, 9, 9)


def test_four_working_hours_skip_the_lunch_break() -> None:
    """Received Tue 3/3 10:00: 10:00-11:30 gives 1.5 h, 13:30-16:00 the other 2.5 h."""
    assert CALENDAR.due_at(at(2026, 3, 3, 10), ProcessingTime(4, TimeUnit.WORKING_HOURS)) == at(
        2026, 3, 3, 16
    )


@pytest.mark.parametrize(
    ("received_at", "due_at", "why"),
    [
        (at(2026, 3, 3, 14, 59), at(2026, 3, 3, 17), "Tuesday before 15:00: that day"),
        (at(2026, 3, 3, 15), at(2026, 3, 4, 17), "at 15:00 sharp: the next working day"),
        (at(2026, 3, 3, 6), at(2026, 3, 3, 17), "before opening: still that day"),
        (at(2026, 3, 6, 16), at(2026, 3, 9, 17), "Friday after 15:00: Monday"),
        (at(2026, 3, 7, 10), at(2026, 3, 9, 17), "a Saturday: the next working day, Monday"),
        (at(2026, 2, 13, 15, 30), at(2026, 2, 23, 17), "Friday before Tết: Tết 16-20/2, weekend"),
        (at(2026, 1, 10, 10), at(2026, 1, 10, 17), "Saturday 10/1/2026, worked by 12729/VPCP"),
        (at(2026, 1, 2, 10), at(2026, 1, 5, 17), "Friday 2/1/2026, off by 12729/VPCP: Monday"),
    ],
)
def test_a_same_day_procedure_is_due_at_the_close_of_the_day_of_receipt(
    received_at: datetime, due_at: datetime, why: str
) -> None:
    """Decree 23/2015/NĐ-CP art. 7: received before 15:00, the result is due that working day
    (its close, 17:00); received at or after 15:00, or on a day off, the next working day."""
    dossier = received(SAME_DAY, received_at).dossier
    assert dossier is not None
    assert dossier.processing_time == SAME_DAY_TIME
    assert dossier.due_at == due_at, why


def test_a_same_day_cutoff_with_days_counts_whole_working_days_after_receipt() -> None:
    """2 working days with a 15:00 cutoff, received Wed 4/3 16:00: the day of receipt is Thu
    5/3; two working days after it, Mon 9/3, closes at 17:00."""
    time_with_cutoff = ProcessingTime(2, TimeUnit.WORKING_DAYS, time(15))
    assert CALENDAR.due_at(at(2026, 3, 4, 16), time_with_cutoff) == at(2026, 3, 9, 17)


def test_a_same_day_dossier_resolved_the_next_morning_is_late() -> None:
    """Received Tue 3/3 10:00 (before the cutoff): due 17:00 that day; resolved Wed 4/3 08:00
    is a later local date than the due date's: late."""
    story = received(SAME_DAY, at(2026, 3, 3, 10))
    dossier = story.then(ResolvedData(Outcome.APPROVED, True), at(2026, 3, 4, 8))
    assert dossier.timeliness(at(2026, 3, 4, 8), CALENDAR) is Timeliness.LATE


def test_a_dossier_without_a_due_date_is_recorded_and_never_overdue() -> None:
    """A procedure with no appointment date (processing_time null): received 2/3/2026, the
    ledger stores no due date; a year later it is still in time, and resolved then it is on
    time. Nothing in law makes it late, so nothing in the ledger does."""
    story = received(NO_DUE_DATE, at(2026, 3, 2))
    dossier = story.dossier
    assert dossier is not None
    assert dossier.processing_time is None
    assert dossier.due_at is None and dossier.original_due_at is None
    assert dossier.timeliness(at(2027, 3, 2), CALENDAR) is Timeliness.IN_TIME

    story.then(SupplementRequestedData("thiếu giấy tờ"), at(2026, 3, 3))
    dossier = story.then(SupplementProvidedData(), at(2026, 3, 10))
    assert dossier.due_at is None
    dossier = story.then(ResolvedData(Outcome.APPROVED, False), at(2027, 3, 2))
    assert dossier.timeliness(at(2027, 3, 2), CALENDAR) is Timeliness.ON_TIME


def test_a_dossier_without_a_due_date_has_no_deadline_to_extend() -> None:
    story = received(NO_DUE_DATE, at(2026, 3, 2))
    with pytest.raises(InvalidEventData, match="sets no due date") as refused:
        story.then(DeadlineExtendedData(at(2026, 3, 20), "thư xin lỗi"), at(2026, 3, 5))
    assert refused.value.rule == "no_due_date"


def test_extend_moves_a_working_hours_due_date_by_the_working_time_waited() -> None:
    """4 working hours, received Mon 2/3 09:00: 09:00-11:30 gives 2.5 h, 13:30-15:00 the rest:
    due 15:00. Paused at 10:00, supplemented Tue 3/3 10:00: the wait is Mon 10:00-11:30 (1.5 h)
    + 13:30-17:00 (3.5 h) + Tue 07:00-10:00 (3 h) = 8 working hours. EXTEND moves 15:00 by 8
    working hours: Mon 15:00-17:00 2 h, Tue 07:00-11:30 4.5 h, 13:30-15:00 1.5 h: Tue 15:00."""
    story = received(FOUR_WORKING_HOURS, at(2026, 3, 2, 9), EXTEND)
    assert story.dossier is not None and story.dossier.due_at == at(2026, 3, 2, 15)
    story.then(SupplementRequestedData("thiếu giấy tờ"), at(2026, 3, 2, 10))
    dossier = story.then(SupplementProvidedData(), at(2026, 3, 3, 10))
    assert dossier.original_due_at == at(2026, 3, 3, 15)


def record(**fields: Any) -> dict[str, Any]:
    return {"code": "1.000001", "name": "x", "level": "commune"} | fields


@pytest.mark.parametrize(
    ("fields", "says"),
    [
        ({"processing_time": 0, "unit": "working_days"}, "must be from 1 to 365"),
        ({"processing_time": 3000, "unit": "working_hours"}, "must be from 1 to 2920"),
        ({"processing_time": 0, "unit": "calendar_days", "same_day_cutoff": "15:00"},
         "needs the unit 'working_days'"),
        ({"processing_time": 0, "unit": "working_days", "same_day_cutoff": "3pm"}, "HH:MM"),
        ({"processing_time": None, "same_day_cutoff": "15:00"}, "needs a processing time"),
        ({"processing_time": 5}, "field 'unit' is missing"),
        ({"processing_time": 5, "unit": "working_days", "fee_pauses_clock": "yes"},
         "true or false"),
    ],
)  # fmt: skip
def test_the_catalogue_refuses_deadlines_it_cannot_mean(fields: dict[str, Any], says: str) -> None:
    with pytest.raises(CatalogueError, match=says):
        ProcedureCatalogue.from_records([record(**fields)])


def test_the_catalogue_reads_hours_same_day_and_no_due_date() -> None:
    catalogue = ProcedureCatalogue.from_records(
        [
            record(code="1.000001", processing_time=4, unit="working_hours"),
            record(
                code="1.000002", processing_time=0, unit="working_days", same_day_cutoff="15:00"
            ),
            record(code="1.000003", processing_time=None),
        ]
    )
    assert catalogue["1.000001"].processing_time == ProcessingTime(4, TimeUnit.WORKING_HOURS)
    assert catalogue["1.000002"].processing_time == SAME_DAY_TIME
    assert catalogue["1.000003"].processing_time is None
