"""`/dashboard`: the province's picture, for an inspector's session.

Every figure is `projections.report.timeliness_report`, the function behind
`/v1/reports/timeliness`, asked for the whole period (an agency or all), for each agency, each
month and each procedure; the supplementation rate is `DossierStatusView.supplemented`; the
units ranked by late steps are `projections.step_report.steps_report`, the function behind
`/v1/reports/steps`. The tables are built once (`dashboard_tables`) and shown as HTML with
inline SVG charts or as CSV.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any, Final

from litestar import Request, Response, get
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, QueryParameter

from api.inspectors import csv_response
from api.pages.charts import bar_chart, column_chart
from api.pages.common import page
from api.pages.inspect import _sign_in_redirect, current_session
from api.problems import ProblemError
from application.runtime import Runtime
from application.sessions import PageSessions
from domain.calendar import LOCAL_TZ
from projections.registry import ReadModels
from projections.report import TimelinessReport, timeliness_report
from projections.step_report import StepsReport, steps_report

REPORTS_AT_ONCE: Final = 3  # below the read models' pool of 4 connections
TABLES: Final = ("indicators", "agencies", "months", "procedures", "step_units")
HOURS: Final = timedelta(hours=1)


@dataclass(frozen=True)
class Period:
    first_day: date
    last_day: date
    agency: str | None

    @classmethod
    def of(cls, first: date | None, last: date | None, agency: str | None) -> Period:
        today = datetime.now(UTC).astimezone(LOCAL_TZ).date()
        last = last or today
        if first is None:
            year, month = divmod(last.year * 12 + last.month - 1 - 11, 12)
            first = date(year, month + 1, 1)
        if first > last:
            raise ProblemError(
                422, "invalid_period", f"the period ends ({last}) before it starts", field="to"
            )
        return cls(first, last, agency or None)

    def months(self) -> list[tuple[date, date]]:
        months = []
        start = self.first_day.replace(day=1)
        while start <= self.last_day:
            following = (start + timedelta(days=32)).replace(day=1)
            months.append(
                (max(start, self.first_day), min(following - timedelta(days=1), self.last_day))
            )
            start = following
        return months


@dataclass(frozen=True)
class Table:
    name: str
    header: list[str]
    rows: list[list[Any]]


@dataclass(frozen=True)
class Dashboard:
    period: Period
    report: TimelinessReport
    agencies: list[tuple[str, TimelinessReport]]
    months: list[tuple[date, TimelinessReport]]
    procedures: list[dict[str, Any]]
    steps: StepsReport

    def tables(self) -> dict[str, Table]:
        ratios = (
            "on_time_rate",
            "average_processing_days",
            "online_rate",
            "electronic_result_rate",
        )
        indicators = Table(
            "indicators",
            ["indicator", "value", "numerator", "denominator"],
            [
                [
                    name,
                    getattr(self.report, name).value,
                    getattr(self.report, name).numerator,
                    getattr(self.report, name).denominator,
                ]
                for name in ratios
            ],
        )
        agencies = Table(
            "agencies",
            ["rank", "agency", "on_time_rate", "numerator", "denominator", "open_overdue"],
            [
                [
                    rank,
                    agency,
                    r.on_time_rate.value,
                    r.on_time_rate.numerator,
                    r.on_time_rate.denominator,
                    r.open.overdue,
                ]
                for rank, (agency, r) in enumerate(self.agencies, start=1)
            ],
        )
        months = Table(
            "months",
            ["month", "on_time_rate", "numerator", "denominator"],
            [
                [
                    month.strftime("%Y-%m"),
                    r.on_time_rate.value,
                    r.on_time_rate.numerator,
                    r.on_time_rate.denominator,
                ]
                for month, r in self.months
            ],
        )
        procedures = Table(
            "procedures",
            [
                "procedure",
                "name",
                "received",
                "supplemented",
                "supplementation_rate",
                "resolved",
                "average_processing_time",
                "average_unit",
                "legal_time",
                "legal_unit",
                "average_to_legal",
            ],
            [
                [
                    p["code"],
                    p["name"],
                    p["received"],
                    p["supplemented"],
                    p["supplementation_rate"],
                    p["resolved"],
                    p["average"],
                    p["average_unit"],
                    p["legal_time"],
                    p["legal_unit"],
                    p["average_to_legal"],
                ]
                for p in self.procedures
            ],
        )
        step_units = Table(
            "step_units",
            [
                "rank", "agency", "unit", "late", "finished_late", "open_overdue",
                "overrun_hours", "hours_used", "hours_allowed", "finished",
            ],
            [
                [
                    rank, unit.agency, unit.unit, unit.late, unit.counts.finished_late,
                    unit.open_overdue, unit.counts.overrun / HOURS,
                    unit.counts.working_time_used / HOURS,
                    unit.counts.working_time_allowed / HOURS, unit.counts.finished,
                ]
                for rank, unit in enumerate(self.steps.units, start=1)
            ],
        )  # fmt: skip
        tables = (indicators, agencies, months, procedures, step_units)
        return {table.name: table for table in tables}


def build_dashboard(runtime: Runtime, read_models: ReadModels, period: Period) -> Dashboard:
    now = datetime.now(UTC)
    calendar = runtime.rules.calendar

    def report(first: date, last: date, agency: str | None) -> TimelinessReport:
        return timeliness_report(
            read_models.timeliness,
            agency=agency,
            first_day=first,
            last_day=last,
            now=now,
            calendar=calendar,
            procedures=runtime.rules.procedures,
        )

    first_day, last_day = period.first_day, period.last_day
    agency_codes = [
        agency
        for agency in read_models.timeliness.counted(
            "agency", first_day=first_day, last_day=last_day
        )
        if period.agency is None or agency == period.agency
    ]
    asked = [
        (first_day, last_day, period.agency),
        *((first_day, last_day, agency) for agency in agency_codes),
        *((first, last, period.agency) for first, last in period.months()),
    ]
    # Each report is a few short queries: a handful at a time overlaps their round trips.
    with ThreadPoolExecutor(max_workers=REPORTS_AT_ONCE) as pool:
        reports = list(pool.map(lambda args: report(*args), asked))
    whole = reports[0]
    agencies = list(zip(agency_codes, reports[1 : 1 + len(agency_codes)], strict=True))
    agencies.sort(key=lambda pair: (-(pair[1].on_time_rate.value or 0), pair[0]))
    month_reports = reports[1 + len(agency_codes) :]
    months = [(first, r) for (first, _), r in zip(period.months(), month_reports, strict=True)]
    received_from = datetime.combine(first_day, time(), LOCAL_TZ)
    received_before = datetime.combine(last_day + timedelta(days=1), time(), LOCAL_TZ)
    supplemented = read_models.dossier_status.supplemented(
        agency=period.agency, received_from=received_from, received_before=received_before
    )
    averages = {item.procedure_code: item for item in whole.average_processing_time_by_procedure}
    procedures = []
    for code in sorted(set(supplemented) | set(averages)):
        procedure = runtime.rules.procedures.get(code)
        received, asked_again = supplemented.get(code, (0, 0))
        legal = procedure.processing_time if procedure else None
        mean = averages.get(code)
        average = mean.average.value if mean else None
        procedures.append(
            {
                "code": code,
                "name": procedure.name if procedure else code,
                "received": received,
                "supplemented": asked_again,
                "supplementation_rate": asked_again / received if received else None,
                "resolved": mean.average.denominator if mean else 0,
                "average": average,
                "average_unit": mean.unit.value if mean else None,
                "legal_time": legal.amount if legal else None,
                "legal_unit": legal.unit.value if legal else None,
                # 2.2 is in the procedure's own unit: compared with its legal time in it.
                "average_to_legal": average / legal.amount
                if average is not None
                and legal
                and legal.amount
                and mean
                and mean.unit is legal.unit
                else None,
            }
        )
    steps = steps_report(
        read_models.steps,
        read_models.dossier_status,
        agency=period.agency,
        first_day=first_day,
        last_day=last_day,
        now=now,
        calendar=calendar,
        limit=1,
    )
    return Dashboard(period, whole, agencies, months, procedures, steps)


async def _dashboard(
    runtime: Runtime,
    read_models: ReadModels,
    first: date | None,
    last: date | None,
    agency: str | None,
) -> Dashboard:
    period = Period.of(first, last, agency)
    return await asyncio.to_thread(build_dashboard, runtime, read_models, period)


@get("/dashboard", include_in_schema=False)
async def dashboard(
    request: Request[Any, Any, Any],
    runtime: NamedDependency[Runtime],
    read_models: NamedDependency[ReadModels],
    page_sessions: NamedDependency[PageSessions],
    first: Annotated[date | None, QueryParameter(name="from")] = None,
    last: Annotated[date | None, QueryParameter(name="to")] = None,
    agency: FromQuery[str | None] = None,
) -> Response[Any]:
    session = await current_session(request, page_sessions)
    if session is None:
        return _sign_in_redirect(request)
    board = await _dashboard(runtime, read_models, first, last, agency)
    return page(
        request,
        "dashboard.html",
        agency_names=runtime.agencies,
        session=session,
        board=board,
        all_agencies=runtime.agencies,
        bar_chart=bar_chart,
        column_chart=column_chart,
    )


@get("/dashboard/csv/{table:str}", include_in_schema=False)
async def dashboard_csv(
    request: Request[Any, Any, Any],
    runtime: NamedDependency[Runtime],
    read_models: NamedDependency[ReadModels],
    page_sessions: NamedDependency[PageSessions],
    table: FromPath[str],
    first: Annotated[date | None, QueryParameter(name="from")] = None,
    last: Annotated[date | None, QueryParameter(name="to")] = None,
    agency: FromQuery[str | None] = None,
) -> Response[Any]:
    if await current_session(request, page_sessions) is None:
        return _sign_in_redirect(request)
    if table not in TABLES:
        raise ProblemError(
            404, "no_such_table", f"the tables are {', '.join(TABLES)}", field="table"
        )
    board = await _dashboard(runtime, read_models, first, last, agency)
    chosen = board.tables()[table]
    return csv_response(chosen.header, chosen.rows, f"dashboard-{table}")
