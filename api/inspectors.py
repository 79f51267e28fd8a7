"""Inspectors: a dossier's full history, its state at any past moment, lists and reports."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any

import msgspec
from litestar import Controller, Response, get
from litestar.di import NamedDependency
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromPath, FromQuery, Parameter, QueryParameter

from api.answers import JsonAnswer, json_answer
from api.auth import authorized
from api.ingest import status_out
from api.problems import ProblemError
from api.schemas import DossierOut, StatusOut, shown, step_out
from application.keys import Role
from application.ledger import HistoryEntry, replay
from application.runtime import Runtime
from domain.calendar import WorkCalendar
from domain.code import DossierCode
from domain.dossier import Dossier
from domain.status import Status
from domain.timeliness import Timeliness
from projections.dossier_status import DossierFilter, DossierStatusRow
from projections.queries import Queries
from projections.report import Ratio, TimelinessReport, timeliness_report_async


class HistoryEventOut(msgspec.Struct):
    version: int
    position: int
    type: str
    event_id: str
    occurred_at: datetime
    recorded_at: datetime
    actor: dict[str, str]
    source: str
    data: dict[str, Any]


class HistoryOut(msgspec.Struct):
    dossier_code: str
    events: list[HistoryEventOut]


_ENVELOPE = {"event_id", "occurred_at", "recorded_at", "actor_id", "actor_role", "source"}


def history_event(entry: HistoryEntry) -> HistoryEventOut:
    fields = entry.fields()
    return HistoryEventOut(
        version=entry.version,
        position=entry.position,
        type=entry.type,
        event_id=fields["event_id"],
        occurred_at=shown(fields["occurred_at"]),
        recorded_at=shown(fields["recorded_at"]),
        actor={"id": fields["actor_id"], "role": fields["actor_role"]},
        source=fields["source"],
        data={
            key: shown(value) if isinstance(value, datetime) else value
            for key, value in fields.items()
            if key not in _ENVELOPE
        },
    )


def dossier_out(
    dossier: Dossier | DossierStatusRow,
    now: datetime,
    calendar: WorkCalendar,
    agencies: Mapping[str, str],
) -> DossierOut:
    """The inspector's view of a dossier, replayed (an aggregate) or read (a read-model row).

    `extensions` counts its apology letters; `extended_after_due` says one came after the due
    date then in force (the national rule allows one, before the due date). A replayed dossier
    shows its steps as they stood at `now`."""
    timeliness = dossier.timeliness(now, calendar)
    steps = None
    if isinstance(dossier, Dossier):
        steps = [step_out(run, now, calendar, agencies) for run in dossier.steps]
    return DossierOut(
        code=str(dossier.code),
        procedure=dossier.procedure_code,
        agency=dossier.agency,
        agency_name=agencies.get(dossier.agency),
        channel=None if dossier.channel is None else dossier.channel.value,
        status=status_out(dossier.status),
        received_at=shown(dossier.received_at),
        due_at=shown(dossier.due_at),
        original_due_at=shown(dossier.original_due_at),
        resolved_at=shown(dossier.resolved_at),
        returned_at=shown(dossier.returned_at),
        supplement_requests=dossier.supplement_requests,
        extensions=dossier.extensions,
        extended_after_due=dossier.extended_after_due,
        timeliness=None if timeliness is None else timeliness.value,
        version=dossier.version,
        steps=steps,
    )


def parse_code(code: str) -> DossierCode:
    return DossierCode.parse(code)  # a malformed code is a DomainError: 422 naming the part


def _not_found(code: str) -> ProblemError:
    return ProblemError(404, "dossier_not_found", f"no dossier {code} in the ledger", field="code")


class InspectorController(Controller):
    """For inspectors (role `inspector`): read everything, change nothing."""

    path = "/v1/dossiers"
    tags = ["inspectors"]
    middleware = [authorized(Role.INSPECTOR)]  # api.auth.Authorized: as a guard, copying nothing

    @get(
        "/{code:str}",
        summary="One dossier as it stands now",
        responses={200: ResponseSpec(DossierOut, description="The dossier now")},
    )
    async def dossier(
        self,
        runtime: NamedDependency[Runtime],
        queries: NamedDependency[Queries],
        code: FromPath[str],
    ) -> JsonAnswer:
        entries = await queries.histories.history(parse_code(code))
        dossier = replay(entries)
        if dossier is None:
            raise _not_found(code)
        now = datetime.now(UTC)
        return json_answer(dossier_out(dossier, now, runtime.rules.calendar, runtime.agencies))

    @get(
        "/{code:str}/history",
        summary="Every event of a dossier, in order, with its position",
        responses={200: ResponseSpec(HistoryOut, description="The dossier's events")},
    )
    async def history(self, queries: NamedDependency[Queries], code: FromPath[str]) -> JsonAnswer:
        entries = await queries.histories.history(parse_code(code))
        if not entries:
            raise _not_found(code)
        return json_answer(
            HistoryOut(dossier_code=code, events=[history_event(e) for e in entries])
        )

    @get(
        "/{code:str}/state",
        summary="The dossier as it stood after a version, or at an instant",
        description=(
            "`version=N`: replayed up to version N. `at=INSTANT` (RFC 3339): replayed with the "
            "events that had occurred by then, and classified for timeliness at that instant."
        ),
    )
    async def state(
        self,
        runtime: NamedDependency[Runtime],
        queries: NamedDependency[Queries],
        code: FromPath[str],
        version: int | None = Parameter(
            default=None, ge=1, description="replay up to this version"
        ),
        at: datetime | None = Parameter(default=None, description="replay up to this instant"),
    ) -> DossierOut:
        if (version is None) == (at is None):
            raise ProblemError(
                422, "invalid_value", "give exactly one of version= or at=", field="version"
            )
        if at is not None and at.tzinfo is None:
            raise ProblemError(422, "invalid_value", "at= needs an offset, e.g. +07:00", field="at")
        entries = await queries.histories.history(parse_code(code))
        if not entries:
            raise _not_found(code)
        if version is not None:
            if version > entries[-1].version:
                raise ProblemError(
                    404,
                    "version_not_found",
                    f"{code} has {entries[-1].version} versions",
                    field="version",
                )
            chosen = [e for e in entries if e.version <= version]
            moment = chosen[-1].event.occurred_at
        else:
            assert at is not None
            chosen = [e for e in entries if e.event.occurred_at <= at]
            moment = at
        dossier = replay(chosen)
        if dossier is None:
            raise ProblemError(404, "not_yet_existing", f"{code} did not exist at {at}", field="at")
        return dossier_out(dossier, moment, runtime.rules.calendar, runtime.agencies)


class DossierListOut(msgspec.Struct):
    items: list[DossierOut]
    total: int
    next_after: str | None


LIST_COLUMNS = (
    "code", "procedure", "agency", "channel", "status", "received_at", "due_at",
    "original_due_at", "resolved_at", "returned_at", "supplement_requests", "timeliness", "version",
    "agency_name", "extensions", "extended_after_due",
)  # fmt: skip
"""The CSV columns of a list: the first ones as they always were, later ones added at the end."""


def csv_response(
    header: Sequence[str], rows: Iterable[Sequence[object]], name: str
) -> Response[Any]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    for row in rows:
        writer.writerow("" if cell is None else cell for cell in row)
    return Response(
        buffer.getvalue(),
        media_type="text/csv",  # Litestar appends "; charset=utf-8"
        headers={"Content-Disposition": f'attachment; filename="{name}.csv"'},
    )


def _csv_cell(value: object) -> object:
    if isinstance(value, StatusOut):
        return value.code
    if isinstance(value, datetime):
        return value.isoformat()
    return value


TIMELINESS_FILTERS = {t.value: t for t in Timeliness}


class DossierListController(Controller):
    path = "/v1/dossiers"
    tags = ["inspectors"]
    middleware = [authorized(Role.INSPECTOR)]  # api.auth.Authorized: as a guard, copying nothing

    @get(
        "/",
        summary="Dossiers by agency, procedure, status or timeliness, a page at a time",
        description=(
            "Ordered by code. `overdue=true` / `due_soon=true` (or `timeliness=`) judge at the "
            "moment of asking. `min_extensions=2` lists dossiers with two apology letters or "
            "more, `extended_after_due=true` those with one sent after the due date then in "
            "force (the national rule allows one, before the due date). Pass `next_after` back "
            "as `after` for the next page. `format=csv` answers the page as CSV."
        ),
    )
    async def list_dossiers(
        self,
        runtime: NamedDependency[Runtime],
        queries: NamedDependency[Queries],
        agency: FromQuery[str | None] = None,
        procedure: FromQuery[str | None] = None,
        status: int | None = Parameter(default=None, ge=1, le=10),
        overdue: FromQuery[bool] = False,
        due_soon: FromQuery[bool] = False,
        timeliness: str | None = Parameter(default=None, description="early, on_time, …"),
        min_extensions: int | None = Parameter(default=None, ge=0, le=1000),
        extended_after_due: FromQuery[bool | None] = None,
        after: FromQuery[str | None] = None,
        limit: int = Parameter(default=50, ge=1, le=1000),
        format: str = Parameter(default="json", pattern="^(json|csv)$"),
    ) -> Response[DossierListOut | str]:  # str: CSV (format=csv)
        wanted = _timeliness_filter(overdue, due_soon, timeliness)
        filters = DossierFilter(
            agency=agency,
            procedure_code=procedure,
            status=None if status is None else Status(status),
            timeliness=wanted,
            min_extensions=min_extensions,
            extended_after_due=extended_after_due,
        )
        now = datetime.now(UTC)
        page = await queries.read_models.dossier_status.list_dossiers_async(
            queries.reads,
            filters,
            now=now,
            calendar=runtime.rules.calendar,
            after=after,
            limit=limit,
        )
        items = [
            dossier_out(row, now, runtime.rules.calendar, runtime.agencies) for row in page.rows
        ]
        if format == "csv":
            rows = ([_csv_cell(getattr(item, column)) for column in LIST_COLUMNS] for item in items)
            return csv_response(LIST_COLUMNS, rows, "dossiers")
        return Response(DossierListOut(items=items, total=page.total, next_after=page.next_after))


def _timeliness_filter(overdue: bool, due_soon: bool, named: str | None) -> Timeliness | None:
    chosen = [t for t, on in ((Timeliness.OVERDUE, overdue), (Timeliness.DUE_SOON, due_soon)) if on]
    if named is not None:
        if named not in TIMELINESS_FILTERS:
            known = ", ".join(TIMELINESS_FILTERS)
            raise ProblemError(
                422, "invalid_value", f"timeliness is one of {known}", field="timeliness"
            )
        chosen.append(TIMELINESS_FILTERS[named])
    if len(set(chosen)) > 1:
        raise ProblemError(
            422,
            "invalid_value",
            "choose one of overdue, due_soon or timeliness",
            field="timeliness",
        )
    return chosen[0] if chosen else None


class RatioOut(msgspec.Struct):
    value: float | None
    numerator: float
    denominator: int


class ProcedureAverageOut(msgspec.Struct):
    """Indicator 2.2 of one procedure, in its own unit."""

    procedure: str
    unit: str
    value: float | None
    numerator: float
    denominator: int


class ReportOut(msgspec.Struct):
    agency: str | None
    agency_name: str | None
    procedure: str | None
    from_: str = msgspec.field(name="from")
    to: str = ""
    as_of: datetime | None = None
    on_time_rate: RatioOut | None = None
    average_processing_days: RatioOut | None = None
    online_rate: RatioOut | None = None
    electronic_result_rate: RatioOut | None = None
    counts: dict[str, Any] = msgspec.field(default_factory=dict)
    average_processing_time_by_procedure: list[ProcedureAverageOut] = msgspec.field(
        default_factory=list
    )


def _ratio(ratio: Ratio) -> RatioOut:
    return RatioOut(value=ratio.value, numerator=ratio.numerator, denominator=ratio.denominator)


def report_out(report: TimelinessReport, agencies: Mapping[str, str]) -> ReportOut:
    counts = _counts(report)
    return ReportOut(
        agency=report.agency,
        agency_name=None if report.agency is None else agencies.get(report.agency),
        procedure=report.procedure_code,
        from_=report.first_day.isoformat(),
        to=report.last_day.isoformat(),
        as_of=shown(report.as_of),
        on_time_rate=_ratio(report.on_time_rate),
        average_processing_days=_ratio(report.average_processing_days),
        online_rate=_ratio(report.online_rate),
        electronic_result_rate=_ratio(report.electronic_result_rate),
        counts=counts,
        average_processing_time_by_procedure=[
            ProcedureAverageOut(
                procedure=average.procedure_code,
                unit=average.unit.value,
                value=average.average.value,
                numerator=average.average.numerator,
                denominator=average.average.denominator,
            )
            for average in report.average_processing_time_by_procedure
        ],
    )


def _counts(report: TimelinessReport) -> dict[str, Any]:
    counts: dict[str, Any] = {}
    for key, value in vars(report.counts).items():
        counts[key] = value.total_seconds() / 3600 if isinstance(value, timedelta) else value
    counts["open"] = report.open.open
    counts["open_overdue"] = report.open.overdue
    counts["open_in_time"] = report.open.in_time
    return counts


class ReportController(Controller):
    path = "/v1/reports"
    tags = ["inspectors"]
    middleware = [authorized(Role.INSPECTOR)]  # api.auth.Authorized: as a guard, copying nothing

    @get(
        "/timeliness",
        summary="Timeliness indicators of an agency or a procedure over a period",
        description=(
            "Indicators of Decision 766/QĐ-TTg: on-time rate (2.1), average processing time in "
            "working days (2.2) and per procedure in its own unit, online rate (3.3), "
            "electronic-result rate over procedures whose result is a document (4.1), each with "
            "its numerator and denominator, and the counts behind them. `from`/`to` are local "
            "dates (inclusive). The period is reported as it stood at its end (`as_of`): a "
            "dossier finished after `to` counts as open then, so a past period's figures do "
            "not change. `format=csv` answers one CSV row."
        ),
    )
    async def timeliness(
        self,
        runtime: NamedDependency[Runtime],
        queries: NamedDependency[Queries],
        from_: Annotated[date, QueryParameter(name="from")],
        to: Annotated[date, QueryParameter(name="to")],
        agency: FromQuery[str | None] = None,
        procedure: FromQuery[str | None] = None,
        format: str = Parameter(default="json", pattern="^(json|csv)$"),
    ) -> Response[ReportOut | str]:  # str: CSV (format=csv)
        if from_ > to:
            raise ProblemError(
                422, "invalid_period", f"the period ends ({to}) before it starts", field="to"
            )
        report = await timeliness_report_async(
            queries.reads,
            queries.read_models.timeliness,
            agency=agency,
            procedure_code=procedure,
            first_day=from_,
            last_day=to,
            now=datetime.now(UTC),
            calendar=runtime.rules.calendar,
            procedures=runtime.rules.procedures,
        )
        body = report_out(report, runtime.agencies)
        if format == "csv":
            header, row = _report_row(body)
            return csv_response(header, [row], "timeliness")
        return Response(body)


def _report_row(body: ReportOut) -> tuple[list[str], list[object]]:
    header: list[str] = ["agency", "procedure", "from", "to"]
    row: list[object] = [body.agency, body.procedure, body.from_, body.to]
    for name in (
        "on_time_rate",
        "average_processing_days",
        "online_rate",
        "electronic_result_rate",
    ):
        ratio: RatioOut = getattr(body, name)
        header += [name, f"{name}_numerator", f"{name}_denominator"]
        row += [ratio.value, ratio.numerator, ratio.denominator]
    header += list(body.counts)
    row += list(body.counts.values())
    header.append("agency_name")
    row.append(body.agency_name)
    return header, row
