"""The two supplement policies across Tết 2026, and how Decision 766 treats the waiting time.

RESTART (the default, the rule in force): once the applicant completes the dossier, the full
processing time counts again from the complete supplement (Decree 61/2018/NĐ-CP art. 19 as
amended by Decree 107/2021/NĐ-CP: the agency asks for the supplement once, and the time is
counted from the receipt of the complete dossier). EXTEND (`LEDGER_SUPPLEMENT_POLICY=extend`):
the due date moves by the time spent waiting, for provinces whose rules say so. Either way the
clock is stopped while the applicant is awaited: Decision 766/QĐ-TTg judges a waiting dossier
at the moment the wait began, and its processing time (2.2) leaves the wait out.

Tết 2026: Mon 16/2 to Fri 20/2 off, then the weekend; work resumes Mon 23/2.
Five working days received Mon 9/2 09:00: 9/2 gives 6 h, 10/2-13/2 32 h (38 h), the last 2 h
after Tết, Mon 23/2 07:00-09:00: due Mon 23/2 09:00. Supplement asked Wed 11/2 09:00 (16 h
used), provided Tue 24/2 09:00: the wait is 11/2 6 h + 12/2 8 h + 13/2 8 h + 23/2 8 h + 24/2
07:00-09:00 2 h = 32 working hours (Tết not counted).
"""

from __future__ import annotations

from datetime import timedelta

from domain.commands import (
    Outcome,
    ResolvedData,
    SupplementProvidedData,
    SupplementRequestedData,
)
from domain.dossier import Dossier
from domain.timeliness import Timeliness
from projections.dossier_rows import advance
from projections.timeliness import Tally, Waits, spell_key
from tests.unit.stories import (
    CALENDAR,
    EXTEND,
    FIVE_WORKING_DAYS,
    RESTART,
    TEN_CALENDAR_DAYS,
    Story,
    at,
    received,
)


def paused_over_tet(procedure: str, rules: object) -> Story:
    story = received(procedure, at(2026, 2, 9, 9), rules)  # type: ignore[arg-type]
    story.then(SupplementRequestedData("thiếu bản sao CCCD"), at(2026, 2, 11, 9))
    return story


def test_the_due_date_before_the_supplement_crosses_tet() -> None:
    story = paused_over_tet(FIVE_WORKING_DAYS, RESTART)
    assert story.dossier is not None and story.dossier.original_due_at == at(2026, 2, 23, 9)


def test_waiting_through_tet_the_dossier_is_judged_when_the_wait_began() -> None:
    """On Wed 25/2, past the due date 23/2, still waiting: judged at 11/2, in time."""
    dossier = paused_over_tet(FIVE_WORKING_DAYS, RESTART).dossier
    assert dossier is not None
    assert dossier.timeliness(at(2026, 2, 25, 9), CALENDAR) is Timeliness.IN_TIME


def test_restart_counts_five_working_days_again_from_the_supplement() -> None:
    """RESTART from Tue 24/2 09:00: 24/2 6 h, 25-27/2 24 h (30 h), Mon 2/3 8 h (38 h), the
    last 2 h Tue 3/3 07:00-09:00: due Tue 3/3 09:00."""
    story = paused_over_tet(FIVE_WORKING_DAYS, RESTART)
    dossier = story.then(SupplementProvidedData(), at(2026, 2, 24, 9))
    assert dossier.due_at == dossier.original_due_at == at(2026, 3, 3, 9)


def test_extend_moves_the_due_date_by_the_working_time_waited_without_tet() -> None:
    """EXTEND: 23/2 09:00 moved by 32 working hours: 23/2 6 h, 24-26/2 24 h (30 h), the last
    2 h Fri 27/2 07:00-09:00: due Fri 27/2 09:00."""
    story = paused_over_tet(FIVE_WORKING_DAYS, EXTEND)
    dossier = story.then(SupplementProvidedData(), at(2026, 2, 24, 9))
    assert dossier.due_at == dossier.original_due_at == at(2026, 2, 27, 9)


def test_calendar_days_across_tet_under_both_policies() -> None:
    """Ten calendar days received Mon 9/2: the last day, Thu 19/2, falls in Tết, so the period
    ends at the close of the next working day, Mon 23/2 17:00 (Civil Code arts. 147-148).
    RESTART from Tue 24/2: the tenth day is Fri 6/3, due 17:00. EXTEND: 13 calendar days waited
    (11/2 to 24/2), 23/2 + 13 = Sun 8/3, so the close of Mon 9/3."""
    restart = paused_over_tet(TEN_CALENDAR_DAYS, RESTART)
    assert restart.dossier is not None
    assert restart.dossier.original_due_at == at(2026, 2, 23, 17)
    assert restart.then(SupplementProvidedData(), at(2026, 2, 24, 9)).original_due_at == at(
        2026, 3, 6, 17
    )
    extend = paused_over_tet(TEN_CALENDAR_DAYS, EXTEND)
    assert extend.then(SupplementProvidedData(), at(2026, 2, 24, 9)).original_due_at == at(
        2026, 3, 9, 17
    )


def test_the_processing_time_of_2_2_leaves_the_wait_out() -> None:
    """Resolved Fri 27/2 10:00 (RESTART: early, due 3/3). Receipt to resolution is 9/2 6 h +
    10-13/2 32 h + 23-26/2 32 h + 27/2 07:00-10:00 3 h = 73 working hours; less the 32 h
    waited: 41 h, 5.125 working days of 8 h."""
    story = paused_over_tet(FIVE_WORKING_DAYS, RESTART)
    story.then(SupplementProvidedData(), at(2026, 2, 24, 9))
    dossier = story.then(ResolvedData(Outcome.APPROVED, True), at(2026, 2, 27, 10))
    assert dossier.timeliness(at(2026, 2, 27, 10), CALENDAR) is Timeliness.EARLY

    tally = Tally(CALENDAR)
    replayed: Dossier | None = None
    for event in dossier.collect_events():
        before, before_spell = (None if replayed is None else replayed.status), spell_key(replayed)
        replayed = advance(replayed, event)  # type: ignore[arg-type]
        tally.waits.setdefault(replayed.id, Waits())
        tally.count(event, before, before_spell, replayed)  # type: ignore[arg-type]
    resolution_day = next(c for key, c in tally.days.items() if key.day.day == 27)
    assert resolution_day.processing_working_time == timedelta(hours=41)
    assert resolution_day.processing_working_time / CALENDAR.working_day_length == 5.125
