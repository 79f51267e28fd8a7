"""The steps report: which units and steps made dossiers late, over a period as it stood at its end.

For an agency (the agency that did the step) or all, over the local days first_day..last_day
(both included), taken at `as_of`: the end of the period (the last instant of last_day), or `now`
while the period lasts, as the timeliness report is (projections.report). Per agency, unit and
step, and per agency and unit:

- finished: the steps finished on a day of the period, each classified at its finish by the
  dossier's date rule (early, on time, late; `finished_unplanned` for steps not in the internal
  procedure, which have no time), with the working time they used, the time they were allowed
  and the overrun (used beyond allowed) of the planned ones;
- open: the steps in progress at `as_of`, as they stood then, and how many were overdue then; a
  step finished after the period counts here, so a past period's figures never change;
- late = finished late + open and overdue. Rows are ranked by late steps, then by overrun
  (`order="late"`), or by overrun, then by late steps (`order="overrun"`).

And the dossiers finished late in the period (the class the inspectors' lists show:
dossier_status's), each attributed to its steps that overran: the planned steps that used more
than their time, and the steps not in the internal procedure (time the plan never gave). With
an agency, the late dossiers with a step in that agency.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Final, Literal

from domain.calendar import LOCAL_TZ, WorkCalendar
from domain.steps import StepFlag
from domain.timeliness import Timeliness
from projections.dossier_status import DossierStatusView
from projections.report import period_end
from projections.steps import StepCounts, StepKey, StepsView, StoredRun

Order = Literal["late", "overrun"]
ORDERS: Final = ("late", "overrun")


@dataclass
class StepFigures:
    """A row of the report: an agency's unit (`step` None) or one of its steps."""

    agency: str
    unit: str
    step: str | None
    name: str | None = None
    counts: StepCounts = field(default_factory=StepCounts)
    open: int = 0
    open_overdue: int = 0

    @property
    def late(self) -> int:
        return self.counts.finished_late + self.open_overdue

    def rank(self, order: Order) -> tuple[object, ...]:
        overrun = -self.counts.overrun
        first = (-self.late, overrun) if order == "late" else (overrun, -self.late)
        return (*first, self.agency, self.unit, self.step or "")


@dataclass(frozen=True)
class LateDossier:
    code: str
    agency: str
    procedure_code: str | None
    finished_at: datetime
    overrun: timedelta
    overran: list[StoredRun]
    """Its steps that overran, in order."""


@dataclass(frozen=True)
class StepsReport:
    agency: str | None
    first_day: date
    last_day: date
    as_of: datetime
    order: Order
    units: list[StepFigures]
    steps: list[StepFigures]
    late_dossiers_total: int
    late_dossiers: list[LateDossier]


def steps_report(
    steps: StepsView,
    dossiers: DossierStatusView,
    *,
    agency: str | None = None,
    first_day: date,
    last_day: date,
    now: datetime,
    calendar: WorkCalendar,
    order: Order = "late",
    limit: int = 100,
) -> StepsReport:
    """The report's figures, as the module docstring counts them; the first `limit` late
    dossiers (most overrun first)."""
    if first_day > last_day:
        raise ValueError(f"the period ends ({last_day}) before it starts ({first_day})")
    as_of = min(now, period_end(last_day))
    counted_until = min(last_day, calendar.local_date(as_of))
    rows: dict[StepKey, StepFigures] = {}

    def row(key: StepKey) -> StepFigures:
        found = rows.get(key)
        if found is None:
            found = rows[key] = StepFigures(key.agency, key.unit, key.step)
        return found

    counted = steps.counts_by_step(agency=agency, first_day=first_day, last_day=counted_until)
    for key, (name, counts) in counted.items():
        figures = row(key)
        figures.name, figures.counts = name, counts
    for run in steps.held_at(agency=agency, instant=as_of):
        figures = row(StepKey(run.agency, run.unit, run.step))
        figures.name = figures.name or run.name
        figures.open += 1
        figures.open_overdue += run.timeliness(as_of, calendar) is Timeliness.OVERDUE
    total, late = _late_dossiers(
        steps, dossiers, agency=agency, first_day=first_day, as_of=as_of, limit=limit
    )
    return StepsReport(
        agency=agency,
        first_day=first_day,
        last_day=last_day,
        as_of=as_of,
        order=order,
        units=sorted(_by_unit(rows.values()), key=lambda r: r.rank(order)),
        steps=sorted(rows.values(), key=lambda r: r.rank(order)),
        late_dossiers_total=total,
        late_dossiers=late,
    )


def _by_unit(rows: Iterable[StepFigures]) -> list[StepFigures]:
    units: dict[tuple[str, str], StepFigures] = {}
    for figures in rows:
        unit = units.get((figures.agency, figures.unit))
        if unit is None:
            unit = units[figures.agency, figures.unit] = StepFigures(
                figures.agency, figures.unit, None
            )
        unit.counts.add(figures.counts)
        unit.open += figures.open
        unit.open_overdue += figures.open_overdue
    return list(units.values())


def _late_dossiers(
    steps: StepsView,
    dossiers: DossierStatusView,
    *,
    agency: str | None,
    first_day: date,
    as_of: datetime,
    limit: int,
) -> tuple[int, list[LateDossier]]:
    total, rows = steps.late_dossiers(
        dossiers.table,
        agency=agency,
        finished_from=datetime.combine(first_day, time(), LOCAL_TZ),
        finished_until=as_of,
        limit=limit,
    )
    runs: dict[object, list[StoredRun]] = {}
    for stored in steps.runs_of(row["id"] for row in rows):
        if overran(stored):
            runs.setdefault(stored.dossier_id, []).append(stored)
    late = [
        LateDossier(
            code=row["code"],
            agency=row["agency"],
            procedure_code=row["procedure_code"],
            finished_at=row["finished_at"],
            overrun=row["overrun"],
            overran=runs.get(row["id"], []),
        )
        for row in rows
    ]
    return total, late


def overran(stored: StoredRun) -> bool:
    """A step a late dossier is attributed to: it used more than its time, or it is not in the
    internal procedure (the plan gave it no time) and used some."""
    if StepFlag.NOT_IN_CATALOGUE in stored.run.flags:
        return bool(stored.working_time_used)
    return bool(stored.overrun)
