"""Finding 5: waiting for the applicant's fees stops the clock where the procedure's law says so.

Land procedures: "không tính thời gian ... thực hiện nghĩa vụ tài chính của người sử dụng đất"
(Decree 43/2014/NĐ-CP art. 61(4); the decrees under the Land Law 2024 keep the rule). A procedure
says `fee_pauses_clock: true`; then FeeRequested (status 6) stops the clock like a supplement
request and FeePaid starts it again by the supplement policy's rule. Other procedures keep the
clock running while the fees are awaited.

The worked example: a 10-working-day land procedure received Mon 2/3/2026 09:00 is due Mon 16/3
09:00 (Mon 6 h, Tue-Fri 32 h, Mon 9/3-Fri 13/3 40 h: 78 h; the last 2 h Mon 16/3 07:00-09:00).
Fees requested Wed 4/3 09:00, paid Wed 11/3 09:00: the wait is 5 working days (40 h).
"""

from __future__ import annotations

from dataclasses import replace

from domain.commands import FeePaidData, FeeRequestedData, Outcome, ResolvedData
from domain.procedures import ProcedureCatalogue
from domain.status import Status
from domain.timeliness import Timeliness
from tests.unit.stories import CALENDAR, EXTEND, LAND, PROCEDURES, RESTART, Story, at, received

FEE = 1_200_000


def land_story(rules: object = RESTART) -> Story:
    story = received(LAND, at(2026, 3, 2, 9), rules)  # type: ignore[arg-type]
    assert story.dossier is not None and story.dossier.due_at == at(2026, 3, 16, 9)
    story.then(FeeRequestedData(FEE), at(2026, 3, 4, 9))
    return story


def test_waiting_for_fees_stops_the_clock_of_a_land_procedure() -> None:
    """Fees requested Wed 4/3 09:00: the clock stops then. On Tue 17/3, past the original due
    date (16/3) but still waiting for the fees, the dossier is judged at 4/3: in time, not
    overdue."""
    story = land_story()
    dossier = story.dossier
    assert dossier is not None
    assert dossier.status is Status.FEE_REQUESTED
    assert dossier.paused_at == at(2026, 3, 4, 9)
    assert dossier.timeliness(at(2026, 3, 17, 9), CALENDAR) is Timeliness.IN_TIME


def test_restart_counts_the_full_time_again_from_the_payment() -> None:
    """RESTART: paid Wed 11/3 09:00, 10 working days again: Wed 6 h, Thu-Fri 16 h, Mon 16/3-
    Fri 20/3 40 h, Mon 23/3-Tue 24/3 16 h (78 h), the last 2 h Wed 25/3 07:00-09:00."""
    story = land_story(RESTART)
    dossier = story.then(FeePaidData(FEE), at(2026, 3, 11, 9))
    assert dossier.paused_at is None
    assert dossier.due_at == dossier.original_due_at == at(2026, 3, 25, 9)


def test_extend_moves_the_due_date_by_the_working_time_waited_for_the_fees() -> None:
    """EXTEND: the due date Mon 16/3 09:00 moves by the 40 working hours waited: Mon 16/3 6 h,
    Tue-Fri 32 h (38 h), the last 2 h Mon 23/3 07:00-09:00. Resolved Fri 20/3: early."""
    story = land_story(EXTEND)
    dossier = story.then(FeePaidData(FEE), at(2026, 3, 11, 9))
    assert dossier.original_due_at == at(2026, 3, 23, 9)
    dossier = story.then(ResolvedData(Outcome.APPROVED, True), at(2026, 3, 20, 10))
    assert dossier.timeliness(at(2026, 3, 20, 10), CALENDAR) is Timeliness.EARLY


def test_without_the_flag_the_clock_runs_while_the_fees_are_awaited() -> None:
    """The same procedure without `fee_pauses_clock`: the due date stays Mon 16/3 09:00, and a
    resolution on Fri 20/3 is late, as before this rule existed."""
    running = ProcedureCatalogue([replace(PROCEDURES[LAND], fee_pauses_clock=False)])
    story = land_story(replace(RESTART, procedures=running))
    assert story.dossier is not None and story.dossier.paused_at is None
    dossier = story.then(FeePaidData(FEE), at(2026, 3, 11, 9))
    assert dossier.original_due_at == at(2026, 3, 16, 9)
    dossier = story.then(ResolvedData(Outcome.APPROVED, True), at(2026, 3, 20, 10))
    assert dossier.timeliness(at(2026, 3, 20, 10), CALENDAR) is Timeliness.LATE
    assert dossier.timeliness(at(2026, 3, 20, 10), CALENDAR).counts_in_time is False
