"""The steps of a dossier as they happened, each against its share of the time (quy trình nội bộ).

A procedure's internal procedure lists its steps in order, each with the unit that does it and
its working time (domain.procedures.PlannedStep). The first step begins at receipt; a
`Transferred` event that names a step begins it in the unit taking over (`to_unit`), and the step
in progress ends then; the last one ends when the dossier finishes (resolved, withdrawn,
processing stopped).

Each step has its own due instant, counted in working time from its own start on the dossier's
calendar, and stops with the dossier's clock (waiting for a supplement, or for fees that stop
it): when the clock runs again, what was left of the step's time counts from then. A finished
step is early, on time or late by the dossier's date rule (the local date of its end against the
local date of its due instant); an open one is in time or overdue.

The ledger records the steps as they happened and flags the ones that do not follow the
internal procedure (`StepFlag`); it refuses none.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, NamedTuple

from domain.calendar import WorkCalendar
from domain.procedures import PlannedStep
from domain.timeliness import Timeliness

_ZERO = timedelta()


class StepFlag(StrEnum):
    NOT_IN_CATALOGUE = "not_in_catalogue"  # the internal procedure has no such step (no time)
    SKIPPED = "skipped"  # begun after steps of the internal procedure that never ran
    REPEATED = "repeated"  # the step ran before: it has what its earlier runs left of its time
    OUT_OF_ORDER = "out_of_order"  # begun after a step that comes later in the procedure


class Pause(NamedTuple):
    """The clock stopped at `since` and ran again at `until` (None: still stopped); `due_at` is
    the step's due instant from then on (None while stopped, or for a step with no time)."""

    since: datetime
    until: datetime | None = None
    due_at: datetime | None = None


class StepRun(NamedTuple):
    """One step as it happened: the dossier's `number`-th, begun at `started_at` in `unit` of
    `agency`, with `allowed` working time (None: a step not in the internal procedure, which has
    no time and no due instant), due at `initial_due_at` until a pause moves it.

    A tuple of plain values, so that the thousands of dossiers a read model keeps in memory
    cost the garbage collector nothing for their steps (it stops tracking such tuples)."""

    number: int
    step: str
    name: str | None
    unit: str
    agency: str
    started_at: datetime
    allowed: timedelta | None
    initial_due_at: datetime | None
    flags: tuple[StepFlag, ...] = ()
    skipped: tuple[str, ...] = ()
    """The steps of the internal procedure it jumped over (flag SKIPPED)."""
    pauses: tuple[Pause, ...] = ()
    finished_at: datetime | None = None

    @property
    def due_at(self) -> datetime | None:
        for pause in reversed(self.pauses):
            if pause.until is not None:
                return pause.due_at
        return self.initial_due_at

    @property
    def paused_at(self) -> datetime | None:
        """When the clock stopped, while it is stopped (a step finished while stopped ended
        then)."""
        if self.pauses and self.pauses[-1].until is None:
            return self.pauses[-1].since
        return None

    @property
    def ended_at(self) -> datetime | None:
        """The instant a finished step is judged at: its finish, or the start of the wait it
        finished in."""
        if self.finished_at is None:
            return None
        return self.paused_at or self.finished_at

    def _but(self, **changes: Any) -> StepRun:
        return self._replace(**changes)

    def paused(self, at: datetime) -> StepRun:
        if self.finished_at is not None or self.paused_at is not None:
            return self
        return self._but(pauses=(*self.pauses, Pause(at)))

    def resumed(self, at: datetime, due_at: datetime | None) -> StepRun:
        """The clock runs again at `at`; the step is due at `due_at` (see `resumed_due`)."""
        if self.finished_at is not None or self.paused_at is None:
            return self
        last = self.pauses[-1]
        due = self.initial_due_at if self.allowed is None else due_at
        return self._but(pauses=(*self.pauses[:-1], Pause(last.since, at, due)))

    def finished(self, at: datetime) -> StepRun:
        return self if self.finished_at is not None else self._but(finished_at=at)

    def as_of(self, instant: datetime) -> StepRun | None:
        """The step as it stood at `instant` (None: not begun): what had happened by then."""
        if self.started_at > instant:
            return None
        pauses = []
        for pause in self.pauses:
            if pause.since > instant:
                break
            resumed = pause.until is not None and pause.until <= instant
            pauses.append(pause if resumed else Pause(pause.since))
        finished = self.finished_at if self.finished_at and self.finished_at <= instant else None
        return self._but(pauses=tuple(pauses), finished_at=finished)

    def working_time_used(self, calendar: WorkCalendar, now: datetime | None = None) -> timedelta:
        """Working time from its start to its end (or to `now`, or to the stopped clock, while
        open), the time the clock was stopped left out."""
        end = self.ended_at or self.paused_at or now or self.started_at
        used = calendar.working_time_between(self.started_at, end)
        for pause in self.pauses:
            if pause.since < end:
                until = end if pause.until is None else min(pause.until, end)
                used -= calendar.working_time_between(pause.since, until)
        return max(used, _ZERO)

    def overrun(self, calendar: WorkCalendar, now: datetime | None = None) -> timedelta | None:
        """Working time used beyond the time allowed (None: a step with no time)."""
        if self.allowed is None:
            return None
        return self.beyond_allowed(self.working_time_used(calendar, now))

    def beyond_allowed(self, used: timedelta) -> timedelta | None:
        """The overrun of a step that used `used` (None: a step with no time)."""
        return None if self.allowed is None else max(used - self.allowed, _ZERO)

    def timeliness(self, now: datetime, calendar: WorkCalendar) -> Timeliness | None:
        """The dossier's date rule applied to the step: finished, the local date of its end
        against that of its due instant (earlier early, the same day on time, later late); open,
        overdue once the local date of `now` (of the stopped clock, while stopped) is past its
        due date's, else in time. None for a step with no time."""
        due = self.due_at
        if due is None:
            return None
        due_on = calendar.local_date(due)
        ended = self.ended_at
        if ended is not None:
            ended_on = calendar.local_date(ended)
            if ended_on < due_on:
                return Timeliness.EARLY
            return Timeliness.ON_TIME if ended_on == due_on else Timeliness.LATE
        moment = self.paused_at or now
        return Timeliness.OVERDUE if calendar.local_date(moment) > due_on else Timeliness.IN_TIME


class StepChange(NamedTuple):
    """What one event does to a dossier's steps: the step it ended (None: none), and the step
    in progress after it (None: none)."""

    ended: StepRun | None
    current: StepRun | None


def start_step(
    plan: Sequence[PlannedStep],
    runs: Sequence[StepRun],
    *,
    step: str,
    unit: str,
    at: datetime,
    agency: str,
    calendar: WorkCalendar,
) -> StepRun:
    """The step `step` begun at `at` in `unit`, after `runs` (the one in progress ends at `at`).

    In the internal procedure `plan`: its name, agency (the dossier's `agency` when the plan
    names none) and time, due from `at`; flagged REPEATED when it ran before (then it has what
    its earlier runs left of its time), OUT_OF_ORDER when a step later in the plan already ran,
    SKIPPED when steps between the furthest one reached and it never ran. Not in the plan:
    NOT_IN_CATALOGUE, no time, in the agency of the step before it (the dossier's when first).
    """
    ended = [run.finished(at) for run in runs]
    number = ended[-1].number + 1 if ended else 1
    index = _index(plan, step)
    if index is None:
        in_agency = ended[-1].agency if ended else agency
        flags = (StepFlag.NOT_IN_CATALOGUE,)
        return StepRun(number, step, None, unit, in_agency, at, None, None, flags)
    planned = plan[index]
    ran = {run.step for run in ended}
    reached = max((i for run in ended if (i := _index(plan, run.step)) is not None), default=-1)
    found: list[StepFlag] = []
    if step in ran:
        found.append(StepFlag.REPEATED)
    elif index < reached:
        found.append(StepFlag.OUT_OF_ORDER)
    skipped = tuple(other.step for other in plan[reached + 1 : index] if other.step not in ran)
    if skipped:
        found.append(StepFlag.SKIPPED)
    used = sum((run.working_time_used(calendar) for run in ended if run.step == step), _ZERO)
    allowed = max(planned.working_time - used, _ZERO)
    due = calendar.add_working_time(at, allowed).astimezone(UTC)
    return StepRun(
        number,
        step,
        planned.name,
        unit,
        planned.agency or agency,
        at,
        allowed,
        due,
        tuple(found),
        skipped,
    )


def resumed_due(run: StepRun | None, at: datetime, calendar: WorkCalendar) -> datetime | None:
    """The due instant of the step in progress when the stopped clock runs again at `at`: the
    working time that was left of it when the clock stopped, counted from `at` (unchanged when
    none was left). None without a stopped step with a due instant."""
    if run is None or run.paused_at is None or run.due_at is None:
        return None
    due, paused_at = run.due_at, run.paused_at
    if due <= paused_at:
        return due
    left = calendar.working_time_between(paused_at, due)
    return calendar.add_working_time(at, left).astimezone(UTC)


def _index(plan: Sequence[PlannedStep], step: str) -> int | None:
    for index, planned in enumerate(plan):
        if planned.step == step:
            return index
    return None
