"""The timeliness report (Decision 766/QĐ-TTg's indicators).

For an agency, a procedure, or both, over the local days first_day..last_day (both included),
at the moment `now`. What is counted:

- finished: dossiers that finished (resolved, withdrawn, processing stopped) on a day of the
  period, each classified at its finish (the counting rules are in projections.timeliness).
  Dossiers refused at receipt, and dossiers never received, are in no denominator.
- open: dossiers received on or before last_day that are open at `now` (received and not
  finished, waiting for a supplement included), classified at `now` from `dossier_status`:
  in time (due soon included) or overdue. Older backlog counts too, whatever its receipt day.
- 2.1 on-time rate = (finished early + finished on time + open in time) / (finished + open).
- 2.2 average processing time, in working days = the working time from receipt to resolution
  (supplement waits excluded) summed over the dossiers resolved in the period / those dossiers.
- 3.3 online rate = dossiers received online in the period / dossiers received in the period.
- 4.1 electronic-result rate = dossiers resolved in the period with an electronic result /
  dossiers resolved in the period.

The counters and dossier_status are read each at its own projection's position: a lagging
projection makes the figures lag with it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from domain.calendar import LOCAL_TZ, WorkCalendar
from projections.classification import OpenBounds
from projections.dossier_status import DossierStatusView, OpenCounts
from projections.timeliness import PeriodCounts, TimelinessView


@dataclass(frozen=True)
class Ratio:
    """An indicator with the figures behind it; `value` is None when nothing was counted."""

    numerator: int | float
    denominator: int

    @property
    def value(self) -> float | None:
        return None if self.denominator == 0 else self.numerator / self.denominator


@dataclass(frozen=True)
class TimelinessReport:
    agency: str | None
    procedure_code: str | None
    first_day: date
    last_day: date
    as_of: datetime
    counts: PeriodCounts
    open: OpenCounts
    on_time_rate: Ratio  # 2.1
    average_processing_days: Ratio  # 2.2: working days per resolved dossier
    online_rate: Ratio  # 3.3
    electronic_result_rate: Ratio  # 4.1


def timeliness_report(
    counters: TimelinessView,
    dossiers: DossierStatusView,
    *,
    agency: str | None = None,
    procedure_code: str | None = None,
    first_day: date,
    last_day: date,
    now: datetime,
    calendar: WorkCalendar,
) -> TimelinessReport:
    """The report's figures, as the module docstring counts them."""
    if first_day > last_day:
        raise ValueError(f"the period ends ({last_day}) before it starts ({first_day})")
    counts = counters.period_counts(
        agency=agency, procedure_code=procedure_code, first_day=first_day, last_day=last_day
    )
    day_after = datetime.combine(last_day + timedelta(days=1), time(), LOCAL_TZ)
    open_counts = dossiers.count_open(
        agency=agency,
        procedure_code=procedure_code,
        received_before=day_after,
        bounds=OpenBounds.at(now, calendar),
    )
    finished = counts.finished_early + counts.finished_on_time + counts.finished_late
    processing_days = counts.processing_working_time / calendar.working_day_length
    return TimelinessReport(
        agency=agency,
        procedure_code=procedure_code,
        first_day=first_day,
        last_day=last_day,
        as_of=now,
        counts=counts,
        open=open_counts,
        on_time_rate=Ratio(
            counts.finished_early + counts.finished_on_time + open_counts.in_time,
            finished + open_counts.open,
        ),
        average_processing_days=Ratio(processing_days, counts.resolved),
        online_rate=Ratio(counts.received_online, counts.received),
        electronic_result_rate=Ratio(counts.resolved_electronic, counts.resolved),
    )
