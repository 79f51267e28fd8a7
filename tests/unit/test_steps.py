"""Internal procedures (quy trình nội bộ): every step's due instant, timeliness and hours.

The worked examples use Monday 2 March 2026 to Friday 6 March 2026 (working days, no holiday),
working hours 07:00-11:30 and 13:30-17:00 (8 hours a day), all times Asia/Ho_Chi_Minh. Every
expected instant and number of hours is worked out by hand in the test's docstring.
"""

from __future__ import annotations

from typing import Any

import pytest

from domain.commands import (
    FeePaidData,
    FeeRequestedData,
    Outcome,
    ResolvedData,
    SupplementProvidedData,
    SupplementRequestedData,
    TransferredData,
    WithdrawnData,
)
from domain.dossier import Dossier
from domain.procedures import CatalogueError, ProcedureCatalogue
from domain.steps import StepFlag, StepRun
from domain.timeliness import Timeliness
from tests.unit.internal_procedures import (
    FOUR_STEPS,
    INTERCONNECTED,
    LAND,
    NO_PLAN,
    OTHER_AGENCY,
    PLAN,
    QUARTERS,
    RECEIVING,
    RULES,
    H,
    procedure,
    step,
)
from tests.unit.stories import CALENDAR, Story, at

CODE = f"{RECEIVING}-260302-0001"


def story(procedure_code: str, received_at: Any = None) -> Story:
    told = Story(RULES, CODE)
    told.received(procedure_code, received_at or at(2026, 3, 2, 7))
    return told


def transfer(to_unit: str, step_name: str | None) -> TransferredData:
    return TransferredData("giao", to_unit, step_name)


def resolved() -> ResolvedData:
    return ResolvedData(Outcome.APPROVED, electronic_result=True)


def facts(run: StepRun) -> tuple[Any, ...]:
    return (
        run.step,
        run.unit,
        run.started_at,
        run.due_at,
        run.ended_at,
        run.timeliness(at(2026, 3, 20), CALENDAR),
        run.working_time_used(CALENDAR),
        run.allowed,
    )


def finished(dossier: Dossier) -> list[tuple[Any, ...]]:
    return [facts(run) for run in dossier.steps]


def m(day: int, hour: int) -> Any:
    """An instant of March 2026."""
    return at(2026, 3, day, hour)


def test_each_step_on_time_by_the_date_rule_yet_the_dossier_late() -> None:
    """Two working days, four steps of 4 h. Received Mon 07:00: due Tue 17:00 (8 h + 8 h).

    a: begun Mon 07:00, due Mon 11:00 (4 h); ended Mon 17:00, the same day: on time, 8 h used.
    b: begun Mon 17:00, due Tue 11:00 (the clock starts Tue 07:00); ended Tue 17:00: on time, 8 h.
    c: begun Tue 17:00, due Wed 11:00; ended Wed 17:00: on time, 8 h.
    d: begun Wed 17:00, due Thu 11:00; resolved Thu 10:00: on time (the same day), 3 h.
    Every step is on time, yet the dossier is late (Thu after Tue): 4 + 4 + 4 h of overrun."""
    told = story(QUARTERS)
    told.then(transfer("u-b", "b"), at(2026, 3, 2, 17))
    told.then(transfer("u-c", "c"), at(2026, 3, 3, 17))
    told.then(transfer("u-d", "d"), at(2026, 3, 4, 17))
    dossier = told.then(resolved(), at(2026, 3, 5, 10))

    on_time = Timeliness.ON_TIME
    assert finished(dossier) == [
        ("a", "u-a", m(2, 7), m(2, 11), m(2, 17), on_time, 8 * H, 4 * H),
        ("b", "u-b", m(2, 17), m(3, 11), m(3, 17), on_time, 8 * H, 4 * H),
        ("c", "u-c", m(3, 17), m(4, 11), m(4, 17), on_time, 8 * H, 4 * H),
        ("d", "u-d", m(4, 17), m(5, 11), m(5, 10), on_time, 3 * H, 4 * H),
    ]
    assert dossier.original_due_at == at(2026, 3, 3, 17)
    assert dossier.timeliness(at(2026, 3, 20), CALENDAR) is Timeliness.LATE
    assert [run.overrun(CALENDAR) for run in dossier.steps] == [4 * H, 4 * H, 4 * H, 0 * H]


def test_a_dossier_late_at_step_two_of_four() -> None:
    """Four working days (32 h), four steps of 8 h. Received Mon 07:00: due Thu 17:00.

    tiep-nhan: due Mon 17:00; handed over Mon 15:00 (6 h): on time.
    tham-dinh: begun Mon 15:00, due Tue 15:00 (Mon 2 h, Tue 6 h); ended Thu 09:00: late;
      used Mon 2 h + Tue 8 h + Wed 8 h + Thu 2 h = 20 h, 12 h over.
    phe-duyet: begun Thu 09:00, due Fri 09:00 (Thu 6 h, Fri 2 h); ended Thu 16:00: early, 5 h.
    tra-ket-qua: begun Thu 16:00, due Fri 16:00 (Thu 1 h, Fri 7 h); resolved Fri 10:00: on
      time, 1 h + 3 h = 4 h. The dossier is late (Fri after Thu): step 2's unit overran."""
    told = story(FOUR_STEPS)
    told.then(transfer("phong-chuyen-mon", "tham-dinh"), at(2026, 3, 2, 15))
    told.then(transfer("lanh-dao", "phe-duyet"), at(2026, 3, 5, 9))
    told.then(transfer("mot-cua", "tra-ket-qua"), at(2026, 3, 5, 16))
    dossier = told.then(resolved(), at(2026, 3, 6, 10))

    early, on_time, late = Timeliness.EARLY, Timeliness.ON_TIME, Timeliness.LATE
    assert finished(dossier) == [
        ("tiep-nhan", "mot-cua", m(2, 7), m(2, 17), m(2, 15), on_time, 6 * H, 8 * H),
        ("tham-dinh", "phong-chuyen-mon", m(2, 15), m(3, 15), m(5, 9), late, 20 * H, 8 * H),
        ("phe-duyet", "lanh-dao", m(5, 9), m(6, 9), m(5, 16), early, 5 * H, 8 * H),
        ("tra-ket-qua", "mot-cua", m(5, 16), m(6, 16), m(6, 10), on_time, 4 * H, 8 * H),
    ]
    assert dossier.timeliness(at(2026, 3, 20), CALENDAR) is Timeliness.LATE
    assert [run.overrun(CALENDAR) for run in dossier.steps] == [0 * H, 12 * H, 0 * H, 0 * H]
    assert all(run.flags == () and run.agency == RECEIVING for run in dossier.steps)


def test_an_interconnected_dossier_late_in_the_second_agency() -> None:
    """Liên thông: the appraisal (16 h) is done by another agency. Received Mon 07:00.

    tiep-nhan (the receiving agency): handed over Mon 11:00, 4 h: on time.
    tham-dinh (000.00.13.H56): begun Mon 11:00, due Wed 11:00 (Mon 4 h, Tue 8 h, Wed 4 h);
      handed back Thu 11:00: late, 24 h used (Mon 4 h, Tue 8 h, Wed 8 h, Thu 4 h), 8 h over.
    tra-ket-qua (the receiving agency): begun Thu 11:00, due Fri 11:00; resolved Thu 15:00."""
    told = story(INTERCONNECTED)
    told.then(transfer("phong-ho-tich", "tham-dinh"), at(2026, 3, 2, 11))
    told.then(transfer("mot-cua", "tra-ket-qua"), at(2026, 3, 5, 11))
    dossier = told.then(resolved(), at(2026, 3, 5, 15))

    first, appraisal, last = dossier.steps
    assert (first.agency, appraisal.agency, last.agency) == (RECEIVING, OTHER_AGENCY, RECEIVING)
    assert appraisal.due_at == at(2026, 3, 4, 11)
    assert appraisal.timeliness(at(2026, 3, 20), CALENDAR) is Timeliness.LATE
    assert appraisal.working_time_used(CALENDAR) == 24 * H
    assert appraisal.overrun(CALENDAR) == 8 * H
    assert first.timeliness(at(2026, 3, 20), CALENDAR) is Timeliness.ON_TIME
    assert last.due_at == at(2026, 3, 6, 11)
    assert last.timeliness(at(2026, 3, 20), CALENDAR) is Timeliness.EARLY


def test_a_supplement_pause_inside_a_step_moves_its_due_instant() -> None:
    """tham-dinh begun Mon 15:00, due Tue 15:00. A supplement is asked Tue 09:00 (4 h used:
    Mon 15:00-17:00 and Tue 07:00-09:00; 4 h left: Tue 09:00-11:30 and 13:30-15:00) and given
    Thu 09:00: the 4 h left count from then, due Thu 15:00. Handed over Thu 14:00: on time (it
    would be late against Tue), 4 h + 3 h (Thu 09:00-11:30, 13:30-14:00) = 7 h used."""
    told = story(FOUR_STEPS)
    told.then(transfer("phong-chuyen-mon", "tham-dinh"), at(2026, 3, 2, 15))
    paused = told.then(SupplementRequestedData("thiếu bản sao"), at(2026, 3, 3, 9))
    assert paused.current_step is not None
    assert paused.current_step.paused_at == at(2026, 3, 3, 9)
    # Waiting, on Wed 13:00 (past the due date of Tue): judged when the wait began, in time.
    assert paused.current_step.timeliness(at(2026, 3, 4, 13), CALENDAR) is Timeliness.IN_TIME
    told.then(SupplementProvidedData(), at(2026, 3, 5, 9))
    dossier = told.then(transfer("lanh-dao", "phe-duyet"), at(2026, 3, 5, 14))

    appraisal = dossier.steps[1]
    assert appraisal.initial_due_at == at(2026, 3, 3, 15)
    assert appraisal.due_at == at(2026, 3, 5, 15)
    assert appraisal.timeliness(at(2026, 3, 20), CALENDAR) is Timeliness.ON_TIME
    assert appraisal.working_time_used(CALENDAR) == 7 * H
    # As it stood on Tue 10:00 (waiting) and on Thu 10:00 (running again, due Thu 15:00).
    waiting = appraisal.as_of(at(2026, 3, 3, 10))
    assert waiting is not None and waiting.paused_at == at(2026, 3, 3, 9)
    assert waiting.due_at == at(2026, 3, 3, 15) and waiting.finished_at is None
    running = appraisal.as_of(at(2026, 3, 5, 10))
    assert running is not None and running.paused_at is None
    assert running.due_at == at(2026, 3, 5, 15)


def test_fees_that_stop_the_clock_stop_the_step() -> None:
    """A land procedure: fees asked Tue 09:00 in tham-dinh (begun Mon 15:00, due Tue 15:00),
    paid Wed 13:30: the 4 h left count from then, due Wed 17:00 (13:30-17:00 is 3.5 h) then Thu
    07:30."""
    told = story(LAND)
    told.then(transfer("phong-chuyen-mon", "tham-dinh"), at(2026, 3, 2, 15))
    told.then(FeeRequestedData(100_000), at(2026, 3, 3, 9))
    dossier = told.then(FeePaidData(100_000), at(2026, 3, 4, 13, 30))

    assert dossier.current_step is not None
    assert dossier.current_step.due_at == at(2026, 3, 5, 7, 30)


def test_a_repeated_step_has_what_its_earlier_run_left() -> None:
    """tiep-nhan Mon 07:00-09:00 (2 h), tham-dinh Mon 09:00-11:00 (2 h), back to tiep-nhan at
    Mon 11:00: repeated, 6 h left, due Tue 09:00 (Mon 11:00-11:30 and 13:30-17:00, Tue
    07:00-09:00); tham-dinh again Mon 14:00: repeated, 6 h left, due Tue 10:00 (Mon 3 h, Tue 3 h);
    phe-duyet Tue 09:00: tham-dinh's second run used 5 h, on time; nothing is skipped."""
    told = story(FOUR_STEPS)
    told.then(transfer("phong-chuyen-mon", "tham-dinh"), at(2026, 3, 2, 9))
    told.then(transfer("mot-cua", "tiep-nhan"), at(2026, 3, 2, 11))
    told.then(transfer("phong-chuyen-mon", "tham-dinh"), at(2026, 3, 2, 14))
    dossier = told.then(transfer("lanh-dao", "phe-duyet"), at(2026, 3, 3, 9))

    runs = dossier.steps
    assert [(run.step, run.flags) for run in runs] == [
        ("tiep-nhan", ()),
        ("tham-dinh", ()),
        ("tiep-nhan", (StepFlag.REPEATED,)),
        ("tham-dinh", (StepFlag.REPEATED,)),
        ("phe-duyet", ()),
    ]
    assert (runs[2].allowed, runs[2].due_at) == (6 * H, at(2026, 3, 3, 9))
    assert (runs[3].allowed, runs[3].due_at) == (6 * H, at(2026, 3, 3, 10))
    assert runs[3].working_time_used(CALENDAR) == 5 * H
    assert runs[3].timeliness(at(2026, 3, 20), CALENDAR) is Timeliness.ON_TIME
    assert [run.number for run in runs] == [1, 2, 3, 4, 5]


def test_a_step_not_in_the_catalogue_is_recorded_and_flagged() -> None:
    """xin-y-kien is not in the internal procedure: recorded in the unit that took it, in the
    agency of the step before it, with no time, no due instant and no class; 3 h used (Mon
    13:30-16:30). The next planned step follows it without a flag."""
    told = story(FOUR_STEPS)
    told.then(transfer("phong-chuyen-mon", "tham-dinh"), at(2026, 3, 2, 9))
    told.then(transfer("so-tai-nguyen", "xin-y-kien"), at(2026, 3, 2, 13, 30))
    dossier = told.then(transfer("lanh-dao", "phe-duyet"), at(2026, 3, 2, 16, 30))

    unplanned = dossier.steps[2]
    assert (unplanned.step, unplanned.unit, unplanned.agency) == (
        "xin-y-kien",
        "so-tai-nguyen",
        RECEIVING,
    )
    assert unplanned.flags == (StepFlag.NOT_IN_CATALOGUE,)
    assert (unplanned.name, unplanned.allowed, unplanned.due_at) == (None, None, None)
    assert unplanned.timeliness(at(2026, 3, 20), CALENDAR) is None
    assert unplanned.working_time_used(CALENDAR) == 3 * H
    assert unplanned.overrun(CALENDAR) is None
    assert dossier.steps[3].flags == ()


def test_skipped_and_out_of_order_steps_are_flagged() -> None:
    """tiep-nhan, then phe-duyet (tham-dinh never ran: skipped), then tham-dinh (a later step
    already ran: out of order), then tra-ket-qua (nothing left behind it)."""
    told = story(FOUR_STEPS)
    told.then(transfer("lanh-dao", "phe-duyet"), at(2026, 3, 2, 9))
    told.then(transfer("phong-chuyen-mon", "tham-dinh"), at(2026, 3, 2, 10))
    dossier = told.then(transfer("mot-cua", "tra-ket-qua"), at(2026, 3, 2, 11))

    assert [(run.step, run.flags, run.skipped) for run in dossier.steps] == [
        ("tiep-nhan", (), ()),
        ("phe-duyet", (StepFlag.SKIPPED,), ("tham-dinh",)),
        ("tham-dinh", (StepFlag.OUT_OF_ORDER,), ()),
        ("tra-ket-qua", (), ()),
    ]


def test_a_procedure_without_steps_records_named_handovers_as_unplanned_steps() -> None:
    told = story(NO_PLAN)
    assert told.dossier is not None and told.dossier.steps == ()
    told.then(transfer("phong-a", None), at(2026, 3, 2, 8))
    dossier = told.then(transfer("phong-b", "tham-dinh"), at(2026, 3, 2, 9))
    assert [(run.step, run.unit, run.flags) for run in dossier.steps] == [
        ("tham-dinh", "phong-b", (StepFlag.NOT_IN_CATALOGUE,))
    ]


def test_a_handover_without_a_step_changes_no_step() -> None:
    told = story(FOUR_STEPS)
    dossier = told.then(transfer("phong-khac", None), at(2026, 3, 2, 9))
    assert [(run.step, run.unit, run.finished_at) for run in dossier.steps] == [
        ("tiep-nhan", "mot-cua", None)
    ]


def test_a_withdrawal_while_waiting_ends_the_step_when_the_wait_began() -> None:
    told = story(FOUR_STEPS)
    told.then(SupplementRequestedData("thiếu"), at(2026, 3, 2, 9))
    dossier = told.then(WithdrawnData(None), at(2026, 3, 10, 9))
    (run,) = dossier.steps
    assert (run.finished_at, run.ended_at) == (at(2026, 3, 10, 9), at(2026, 3, 2, 9))
    assert run.working_time_used(CALENDAR) == 2 * H
    assert run.timeliness(at(2026, 3, 20), CALENDAR) is Timeliness.ON_TIME


def test_an_open_step_is_overdue_once_its_due_date_has_passed() -> None:
    told = story(FOUR_STEPS)
    dossier = told.then(transfer("phong-chuyen-mon", "tham-dinh"), at(2026, 3, 2, 15))
    current = dossier.current_step
    assert current is not None and current.due_at == at(2026, 3, 3, 15)
    assert current.timeliness(at(2026, 3, 3, 16), CALENDAR) is Timeliness.IN_TIME
    assert current.timeliness(at(2026, 3, 4, 7), CALENDAR) is Timeliness.OVERDUE
    assert current.working_time_used(CALENDAR, at(2026, 3, 3, 16)) == 9 * H


def test_the_steps_replay_from_the_events_alone() -> None:
    told = story(FOUR_STEPS)
    told.then(transfer("phong-chuyen-mon", "tham-dinh"), at(2026, 3, 2, 15))
    told.then(SupplementRequestedData("thiếu"), at(2026, 3, 3, 9))
    told.then(SupplementProvidedData(), at(2026, 3, 5, 9))
    dossier = told.then(resolved(), at(2026, 3, 6, 9))
    replayed = None
    for event in dossier.collect_events():
        replayed = event.mutate(replayed)
    assert isinstance(replayed, Dossier)
    assert replayed.steps == dossier.steps
    assert replayed.step_plan == dossier.step_plan


# The catalogue's steps, checked when it loads.


def catalogue_error(steps: object, days: int = 4, **extra: Any) -> str:
    record = procedure("1.100009", days, [], **extra)
    record["steps"] = steps
    with pytest.raises(CatalogueError) as refused:
        ProcedureCatalogue.from_records([record])
    return str(refused.value)


def test_steps_longer_than_the_procedure_are_refused_when_the_catalogue_loads() -> None:
    message = catalogue_error([step("a", "u", 20), step("b", "u", 12.5)])
    assert message == (
        "record 0: the steps take 32.5 working hours, more than the processing time "
        "(4 working_days, 32 working hours)"
    )


def test_steps_may_take_the_whole_time_and_keep_their_order() -> None:
    catalogue = ProcedureCatalogue.from_records([procedure("1.100009", 4, PLAN)])
    steps = catalogue["1.100009"].steps
    assert [(s.step, s.unit, s.working_time) for s in steps] == [
        ("tiep-nhan", "mot-cua", 8 * H),
        ("tham-dinh", "phong-chuyen-mon", 8 * H),
        ("phe-duyet", "lanh-dao", 8 * H),
        ("tra-ket-qua", "mot-cua", 8 * H),
    ]


@pytest.mark.parametrize(
    ("steps", "expected"),
    [
        ("tiep-nhan", "record 0: field 'steps' must be a list of step records"),
        ([{"step": "a", "name": "A", "unit": "u"}], "steps[0]: field 'working_hours' is missing"),
        ([step("a", "u", 4), step("a", "v", 4)], "steps[1]: step 'a' appears twice"),
        ([step("a", "u", 0)], "steps[0]: field 'working_hours' must be a number above 0: 0"),
        ([step("a", "u", 0.001)], "steps[0]: field 'working_hours' must be whole minutes"),
        ([{**step("a", "u", 4), "owner": "x"}], "field 'owner' is not a field of a step record"),
        ([step("a", "u", 4, agency="H56")], "steps[0]: field 'agency' must be an agency code"),
        ([step(" ", "u", 4)], "steps[0]: field 'step' must be a non-empty string"),
    ],
)
def test_malformed_steps_are_refused_with_the_rule_they_break(steps: object, expected: str) -> None:
    assert expected in catalogue_error(steps)


def test_a_procedure_in_working_hours_or_the_same_day_bounds_its_steps() -> None:
    hours = {"unit": "working_hours"}
    assert "(4 working_hours, 4 working hours)" in catalogue_error(
        [step("a", "u", 5)], days=4, **hours
    )
    same_day = {"same_day_cutoff": "15:00"}
    ok = procedure("1.100009", 0, [step("a", "u", 8)], **same_day)
    assert ProcedureCatalogue.from_records([ok])["1.100009"].steps
    assert "8 working hours" in catalogue_error([step("a", "u", 9)], days=0, **same_day)
