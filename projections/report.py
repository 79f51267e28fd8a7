"""The timeliness report (Decision 766/QĐ-TTg's indicators), as the period stood at its end.

For an agency, a procedure, or both, over the local days first_day..last_day (both included).
The report is taken at `as_of`: the end of the period (the last instant of last_day), or `now`
when the period has not ended yet. What is counted:

- finished: dossiers that finished (resolved, withdrawn, processing stopped) on a day of the
  period, each classified at its finish (the counting rules are in projections.timeliness).
  Dossiers refused at receipt, and dossiers never received, are in no denominator.
- open: dossiers open at `as_of` (received and not finished then; waiting for a supplement
  included), as they stood then (their spell at `as_of`): in time (due soon included) or overdue.
  A dossier finished after the period counts here, as open at its end; a dossier received before
  the period and still open at its start is carried over into it (finished in it, or open at its
  end). So the report of a past period never changes as its dossiers move on.
- 2.1 on-time rate = (finished early + finished on time + open in time) / (finished + open).
- 2.2 average processing time, per procedure in the procedure's own unit (working days, calendar
  days, working hours) = the time from receipt to resolution (the clock's stops excluded), summed
  over the procedure's dossiers resolved in the period / those dossiers. `average_processing_days`
  keeps the same over every procedure together, in working days.
- 3.3 online rate = dossiers received online in the period / dossiers received in the period.
- 4.1 electronic-result rate = dossiers resolved in the period with an electronic result /
  dossiers resolved in the period, both among procedures whose result is a document.

The counters and spells are read at the timeliness projection's position: a lagging projection
makes the figures lag with it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from application.reads import AsyncReads
from domain.calendar import LOCAL_TZ, WorkCalendar
from domain.procedures import Procedure, TimeUnit
from projections.classification import OpenBounds
from projections.timeliness import (
    OpenCounts,
    PeriodCounts,
    TimelinessView,
    counts_of,
    open_counts_of,
)


@dataclass(frozen=True)
class Ratio:
    """An indicator with the figures behind it; `value` is None when nothing was counted."""

    numerator: int | float
    denominator: int

    @property
    def value(self) -> float | None:
        return None if self.denominator == 0 else self.numerator / self.denominator


@dataclass(frozen=True)
class ProcedureAverage:
    """Indicator 2.2 for one procedure: time per resolved dossier, in `unit`."""

    procedure_code: str
    unit: TimeUnit
    average: Ratio


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
    average_processing_days: Ratio  # 2.2 over every procedure, in working days
    average_processing_time_by_procedure: list[ProcedureAverage]  # 2.2, per procedure
    online_rate: Ratio  # 3.3
    electronic_result_rate: Ratio  # 4.1


def period_end(last_day: date) -> datetime:
    """The last instant of `last_day`, local time: when a period ending that day ends."""
    return datetime.combine(last_day + timedelta(days=1), time(), LOCAL_TZ) - timedelta(
        microseconds=1
    )


@dataclass(frozen=True)
class ReportScope:
    """What a report asks the counters: its moment, and the days counted up to it."""

    agency: str | None
    procedure_code: str | None
    first_day: date
    last_day: date
    as_of: datetime
    counted_until: date

    @classmethod
    def of(  # noqa: PLR0917 (the report's own arguments, in their order)
        cls,
        agency: str | None,
        procedure_code: str | None,
        first_day: date,
        last_day: date,
        now: datetime,
        calendar: WorkCalendar,
    ) -> ReportScope:
        if first_day > last_day:
            raise ValueError(f"the period ends ({last_day}) before it starts ({first_day})")
        as_of = min(now, period_end(last_day))
        # A period not over yet is counted up to the day of asking (nothing happens after it).
        counted_until = min(last_day, calendar.local_date(as_of))
        return cls(agency, procedure_code, first_day, last_day, as_of, counted_until)


def timeliness_report(
    counters: TimelinessView,
    *,
    agency: str | None = None,
    procedure_code: str | None = None,
    first_day: date,
    last_day: date,
    now: datetime,
    calendar: WorkCalendar,
    procedures: Mapping[str, Procedure] | None = None,
) -> TimelinessReport:
    """The report's figures, as the module docstring counts them. `procedures` gives each
    procedure's unit for 2.2 (working days for a procedure it does not know)."""
    scope = ReportScope.of(agency, procedure_code, first_day, last_day, now, calendar)
    by_procedure = counters.counts_by_procedure(
        agency=agency, procedure_code=procedure_code, first_day=first_day,
        last_day=scope.counted_until,
    )  # fmt: skip
    open_counts = counters.count_open_at(
        agency=agency, procedure_code=procedure_code, bounds=OpenBounds.at(scope.as_of, calendar)
    )
    return report_of(scope, by_procedure, open_counts, calendar, procedures or {})


async def timeliness_report_async(
    reads: AsyncReads,
    counters: TimelinessView,
    *,
    agency: str | None = None,
    procedure_code: str | None = None,
    first_day: date,
    last_day: date,
    now: datetime,
    calendar: WorkCalendar,
    procedures: Mapping[str, Procedure] | None = None,
) -> TimelinessReport:
    """`timeliness_report` on the asynchronous read pool, its two statements at once."""
    scope = ReportScope.of(agency, procedure_code, first_day, last_day, now, calendar)
    counts_rows, open_rows = await asyncio.gather(
        reads.fetch(
            *counters.counts_statement(agency, procedure_code, first_day, scope.counted_until)
        ),
        reads.fetch(
            *counters.open_statement(agency, procedure_code, OpenBounds.at(scope.as_of, calendar))
        ),
    )
    return report_of(
        scope, counts_of(counts_rows), open_counts_of(open_rows), calendar, procedures or {}
    )


def report_of(
    scope: ReportScope,
    by_procedure: Mapping[str, PeriodCounts],
    open_counts: OpenCounts,
    calendar: WorkCalendar,
    procedures: Mapping[str, Procedure],
) -> TimelinessReport:
    """The indicators from the counters of the period and the dossiers open at its end."""
    counts = PeriodCounts.total(list(by_procedure.values()))
    finished = counts.finished_early + counts.finished_on_time + counts.finished_late
    processing_days = counts.processing_working_time / calendar.working_day_length
    return TimelinessReport(
        agency=scope.agency,
        procedure_code=scope.procedure_code,
        first_day=scope.first_day,
        last_day=scope.last_day,
        as_of=scope.as_of,
        counts=counts,
        open=open_counts,
        on_time_rate=Ratio(
            counts.finished_early + counts.finished_on_time + open_counts.in_time,
            finished + open_counts.open,
        ),
        average_processing_days=Ratio(processing_days, counts.resolved),
        average_processing_time_by_procedure=[
            _procedure_average(code, part, calendar, procedures)
            for code, part in by_procedure.items()
            if part.resolved
        ],
        online_rate=Ratio(counts.received_online, counts.received),
        electronic_result_rate=Ratio(counts.resolved_document_electronic, counts.resolved_document),
    )


def _procedure_average(
    code: str, counts: PeriodCounts, calendar: WorkCalendar, procedures: Mapping[str, Procedure]
) -> ProcedureAverage:
    """2.2 in the procedure's unit: working days of the calendar's day length, elapsed days of
    24 hours, or working hours."""
    procedure = procedures.get(code)
    time = None if procedure is None else procedure.processing_time
    unit = TimeUnit.WORKING_DAYS if time is None else time.unit
    if unit is TimeUnit.CALENDAR_DAYS:
        amount = counts.processing_calendar_time / timedelta(days=1)
    elif unit is TimeUnit.WORKING_HOURS:
        amount = counts.processing_working_time / timedelta(hours=1)
    else:
        amount = counts.processing_working_time / calendar.working_day_length
    return ProcedureAverage(code, unit, Ratio(amount, counts.resolved))
