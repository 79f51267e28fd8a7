"""Inspectors: the steps report (`GET /v1/reports/steps`): which units and steps made dossiers
late (projections.step_report), in JSON or CSV."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from datetime import UTC, date, datetime
from typing import Annotated, Final

import msgspec
from litestar import Controller, Response, get
from litestar.di import NamedDependency
from litestar.params import FromQuery, Parameter, QueryParameter

from api.auth import authorized
from api.inspectors import csv_response
from api.problems import ProblemError
from api.schemas import StepOut, hours, shown, step_out
from application.keys import Role
from application.runtime import Runtime
from domain.calendar import WorkCalendar
from projections.registry import ReadModels
from projections.step_report import ORDERS, LateDossier, Order, StepFigures, StepsReport
from projections.step_report import steps_report as build_steps_report


class StepFiguresOut(msgspec.Struct):
    """A unit of an agency (`step` null) or one of its steps, over the period."""

    agency: str
    agency_name: str | None
    unit: str
    step: str | None
    name: str | None
    late: int
    finished_early: int
    finished_on_time: int
    finished_late: int
    finished_unplanned: int
    open: int
    open_overdue: int
    hours_used: float
    hours_allowed: float
    overrun_hours: float
    unplanned_hours: float
    repeated: int
    out_of_order: int
    skipped: int


class LateDossierOut(msgspec.Struct):
    """A dossier finished late in the period, and its steps that overran."""

    code: str
    agency: str
    agency_name: str | None
    procedure: str | None
    finished_at: datetime
    overrun_hours: float
    steps: list[StepOut]


class StepsReportOut(msgspec.Struct):
    agency: str | None
    agency_name: str | None
    from_: str = msgspec.field(name="from")
    to: str = ""
    as_of: datetime | None = None
    order: str = "late"
    units: list[StepFiguresOut] = msgspec.field(default_factory=list)
    steps: list[StepFiguresOut] = msgspec.field(default_factory=list)
    late_dossiers_total: int = 0
    late_dossiers: list[LateDossierOut] = msgspec.field(default_factory=list)


def figures_out(row: StepFigures, agencies: Mapping[str, str]) -> StepFiguresOut:
    counts = row.counts
    return StepFiguresOut(
        agency=row.agency,
        agency_name=agencies.get(row.agency),
        unit=row.unit,
        step=row.step,
        name=row.name,
        late=row.late,
        finished_early=counts.finished_early,
        finished_on_time=counts.finished_on_time,
        finished_late=counts.finished_late,
        finished_unplanned=counts.finished_unplanned,
        open=row.open,
        open_overdue=row.open_overdue,
        hours_used=hours(counts.working_time_used),
        hours_allowed=hours(counts.working_time_allowed),
        overrun_hours=hours(counts.overrun),
        unplanned_hours=hours(counts.unplanned_working_time),
        repeated=counts.repeated,
        out_of_order=counts.out_of_order,
        skipped=counts.skipped,
    )


def late_dossier_out(
    dossier: LateDossier, calendar: WorkCalendar, agencies: Mapping[str, str]
) -> LateDossierOut:
    return LateDossierOut(
        code=dossier.code,
        agency=dossier.agency,
        agency_name=agencies.get(dossier.agency),
        procedure=dossier.procedure_code,
        finished_at=shown(dossier.finished_at),
        overrun_hours=hours(dossier.overrun),
        steps=[
            step_out(stored.run, dossier.finished_at, calendar, agencies)
            for stored in dossier.overran
        ],
    )


def steps_report_out(
    report: StepsReport, calendar: WorkCalendar, agencies: Mapping[str, str]
) -> StepsReportOut:
    return StepsReportOut(
        agency=report.agency,
        agency_name=None if report.agency is None else agencies.get(report.agency),
        from_=report.first_day.isoformat(),
        to=report.last_day.isoformat(),
        as_of=shown(report.as_of),
        order=report.order,
        units=[figures_out(row, agencies) for row in report.units],
        steps=[figures_out(row, agencies) for row in report.steps],
        late_dossiers_total=report.late_dossiers_total,
        late_dossiers=[late_dossier_out(d, calendar, agencies) for d in report.late_dossiers],
    )


CSV_COLUMNS: Final = (
    "level", "agency", "unit", "step", "name", "late", "finished_early", "finished_on_time",
    "finished_late", "finished_unplanned", "open", "open_overdue", "hours_used",
    "hours_allowed", "overrun_hours", "unplanned_hours", "repeated", "out_of_order", "skipped",
    "agency_name",
)  # fmt: skip
"""The CSV answer's columns: a row per unit (level `unit`), then a row per step (`step`)."""


def csv_rows(body: StepsReportOut) -> list[list[object]]:
    rows = []
    for level, items in (("unit", body.units), ("step", body.steps)):
        for item in items:
            values = msgspec.structs.asdict(item)
            rows.append([level, *(values[column] for column in CSV_COLUMNS[1:])])
    return rows


class StepsReportController(Controller):
    path = "/v1/reports"
    tags = ["inspectors"]
    middleware = [authorized(Role.INSPECTOR)]  # api.auth.Authorized: as a guard, copying nothing

    @get(
        "/steps",
        summary="Which units and steps made dossiers late, over a period",
        description=(
            "The internal procedures' steps (quy trình nội bộ) finished in the period, per "
            "agency (the agency that did the step), unit and step, and per agency and unit: "
            "early, on time, late (the dossier's date rule against each step's own due "
            "instant), not in the internal procedure, the working hours used against those "
            "allowed and the overrun; the steps in progress at the period's end (`as_of`) and "
            "those overdue then. Ranked by late steps, then overrun (`order=late`), or by "
            "overrun (`order=overrun`). And the dossiers finished late in the period, most "
            "overrun first (`limit` of them), each with its steps that overran. `from`/`to` are "
            "local dates (inclusive); the period is reported as it stood at its end. "
            "`format=csv` answers the units' and the steps' rows."
        ),
    )
    async def steps(
        self,
        runtime: NamedDependency[Runtime],
        read_models: NamedDependency[ReadModels],
        from_: Annotated[date, QueryParameter(name="from")],
        to: Annotated[date, QueryParameter(name="to")],
        agency: FromQuery[str | None] = None,
        order: str = Parameter(default="late", pattern="^(late|overrun)$"),
        limit: int = Parameter(default=100, ge=1, le=1000),
        format: str = Parameter(default="json", pattern="^(json|csv)$"),
    ) -> Response[StepsReportOut | str]:  # str: CSV (format=csv)
        if from_ > to:
            raise ProblemError(
                422, "invalid_period", f"the period ends ({to}) before it starts", field="to"
            )
        chosen: Order = "overrun" if order == ORDERS[1] else "late"
        report = await asyncio.to_thread(
            build_steps_report,
            read_models.steps,
            read_models.dossier_status,
            agency=agency,
            first_day=from_,
            last_day=to,
            now=datetime.now(UTC),
            calendar=runtime.rules.calendar,
            order=chosen,
            limit=limit,
        )
        body = steps_report_out(report, runtime.rules.calendar, runtime.agencies)
        if format == "csv":
            return csv_response(CSV_COLUMNS, csv_rows(body), "steps")
        return Response(body)
