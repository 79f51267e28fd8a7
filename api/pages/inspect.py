"""`/inspect`: the inspectors' pages. An inspector or admin API key is exchanged once for a session
cookie (HttpOnly, SameSite=Strict, Secure over TLS, 8 hours); every form that changes something
(sign-in, sign-out) carries a CSRF token and must come from this site's own pages.

The lists and the dossier's state are the API's own queries (api.inspectors); the timeline is
projections.timeline over the stored history; the proofs are the export bundle's, checked by the
browser itself (static/verify.js), not taken on the server's word.
"""

from __future__ import annotations

import asyncio
import hmac
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any, Final
from urllib.parse import urlencode

from litestar import Request, Response, get, post
from litestar.di import NamedDependency
from litestar.enums import RequestEncodingType
from litestar.exceptions import PermissionDeniedException
from litestar.params import Body, FromPath, FromQuery, QueryParameter
from litestar.response import Redirect, Template

from api.audit import answer as audit_answer
from api.inspectors import LIST_COLUMNS, _csv_cell, _timeliness_filter, csv_response, dossier_out
from api.pages.common import is_htmx, local_path, page
from api.problems import ProblemError
from application.runtime import Runtime
from application.sessions import PageSession, PageSessions
from application.transparency.bundle import encode_bundle
from application.transparency.proofs import export_bundle
from domain.code import DossierCode
from domain.errors import DomainError
from domain.status import Status
from projections.dossier_status import DossierFilter
from projections.queries import Queries
from projections.timeline import timeline

SESSION_COOKIE: Final = "ledger_session"
SIGN_IN_CSRF_COOKIE: Final = "ledger_sign_in"
PAGE_SIZE: Final = 25


async def current_session(
    request: Request[Any, Any, Any], page_sessions: PageSessions
) -> PageSession | None:
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    return await asyncio.to_thread(page_sessions.find, token)


def _secure(request: Request[Any, Any, Any]) -> bool:
    return request.url.scheme == "https"


def _same_origin(request: Request[Any, Any, Any]) -> bool:
    """A form posted from another site's page is refused (SameSite cookies aside)."""
    origin = request.headers.get("origin")
    if origin is None or origin == "null":
        return origin is None
    return origin == f"{request.url.scheme}://{request.url.netloc}"


def _sign_in_redirect(request: Request[Any, Any, Any]) -> Redirect:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return Redirect("/inspect/sign-in?" + urlencode({"next": target}), status_code=303)


Handler = Callable[..., Awaitable[Any]]


@dataclass
class SignInForm:
    key: str = ""
    csrf: str = ""
    next: str = ""


@dataclass
class SignOutForm:
    csrf: str = ""


@get("/inspect/sign-in", include_in_schema=False)
async def sign_in_page(
    request: Request[Any, Any, Any], next: FromQuery[str | None] = None
) -> Template:
    csrf = secrets.token_urlsafe(24)
    response = page(
        request, "sign_in.html", csrf=csrf, next=local_path(next, "/inspect"), error=None
    )
    response.set_cookie(
        key=SIGN_IN_CSRF_COOKIE,
        value=csrf,
        path="/inspect",
        httponly=True,
        samesite="strict",
        secure=_secure(request),
        max_age=3600,
    )
    return response


@post("/inspect/sign-in", include_in_schema=False, status_code=303)
async def sign_in(
    request: Request[Any, Any, Any],
    data: Annotated[SignInForm, Body(media_type=RequestEncodingType.URL_ENCODED)],
    runtime: NamedDependency[Runtime],
    page_sessions: NamedDependency[PageSessions],
) -> Response[Any]:
    expected = request.cookies.get(SIGN_IN_CSRF_COOKIE, "")
    if not (_same_origin(request) and expected and hmac.compare_digest(expected, data.csrf)):
        raise PermissionDeniedException(detail="the sign-in form must come from this site")
    key = await asyncio.to_thread(runtime.keys.authenticate, data.key.strip())
    target = local_path(data.next, "/inspect")
    try:
        if key is None:
            raise PermissionError("unknown")
        token, _session = await asyncio.to_thread(page_sessions.open, key)
    except PermissionError as refusal:
        error = "role" if str(refusal) != "unknown" else "unknown"
        return page(request, "sign_in.html", 401, csrf=expected, next=target, error=error)
    response = Redirect(target, status_code=303)
    response.set_cookie(
        key=SESSION_COOKIE,
        value=token,
        path="/",
        httponly=True,
        samesite="strict",
        secure=_secure(request),
        max_age=8 * 3600,
    )
    response.delete_cookie(SIGN_IN_CSRF_COOKIE, path="/inspect")
    return response


@post("/inspect/sign-out", include_in_schema=False, status_code=303)
async def sign_out(
    request: Request[Any, Any, Any],
    data: Annotated[SignOutForm, Body(media_type=RequestEncodingType.URL_ENCODED)],
    page_sessions: NamedDependency[PageSessions],
) -> Response[Any]:
    session = await current_session(request, page_sessions)
    if session is not None:
        if not (_same_origin(request) and hmac.compare_digest(session.csrf_token, data.csrf)):
            raise PermissionDeniedException(detail="the sign-out form must come from this site")
        await asyncio.to_thread(page_sessions.end, request.cookies[SESSION_COOKIE])
    response = Redirect("/inspect/sign-in", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


LISTS: Final = {
    "overdue": {"timeliness": "overdue"},
    "due_soon": {"timeliness": "due_soon"},
    "late": {"timeliness": "late"},
}


def _list_filter(
    agency: str | None, procedure: str | None, status: int | None, timeliness: str | None
) -> DossierFilter:
    return DossierFilter(
        agency=agency or None,
        procedure_code=procedure or None,
        status=None if status is None else Status(status),
        timeliness=_timeliness_filter(False, False, timeliness or None),
    )


async def _list_page(
    runtime: Runtime, queries: Queries, filters: DossierFilter, after: str | None, limit: int
) -> Any:
    return await queries.read_models.dossier_status.list_dossiers_async(
        queries.reads,
        filters,
        now=datetime.now(UTC),
        calendar=runtime.rules.calendar,
        after=after or None,
        limit=limit,
    )


@get("/inspect", include_in_schema=False)
async def inspect_home(
    request: Request[Any, Any, Any],
    runtime: NamedDependency[Runtime],
    queries: NamedDependency[Queries],
    page_sessions: NamedDependency[PageSessions],
    code: FromQuery[str | None] = None,
    agency: FromQuery[str | None] = None,
    procedure: FromQuery[str | None] = None,
    status: Annotated[int | None, QueryParameter(ge=1, le=10)] = None,
    timeliness: FromQuery[str | None] = None,
    after: FromQuery[str | None] = None,
) -> Response[Any]:
    """Search by code, and the lists: overdue, due soon, late, by agency, procedure, status."""
    session = await current_session(request, page_sessions)
    if session is None:
        return _sign_in_redirect(request)
    if code:
        try:
            parsed = DossierCode.parse(code.strip())
        except DomainError as error:
            return _home(request, runtime, session, search_error=str(error), code=code)
        return Redirect(f"/inspect/dossiers/{parsed}", status_code=303)
    filters = _list_filter(agency, procedure, status, timeliness)
    listing = await _list_page(runtime, queries, filters, after, PAGE_SIZE)
    query = {
        name: value
        for name, value in (
            ("agency", agency),
            ("procedure", procedure),
            ("status", status),
            ("timeliness", timeliness),
        )
        if value
    }
    return _home(request, runtime, session, listing=listing, query=query, after=after)


def _home(
    request: Request[Any, Any, Any], runtime: Runtime, session: PageSession, **context: Any
) -> Template:
    context.setdefault("listing", None)
    context.setdefault("query", {})
    template = (
        "_list.html" if is_htmx(request) and context["listing"] is not None else "inspect.html"
    )
    return page(
        request,
        template,
        session=session,
        procedures=runtime.rules.procedures,
        statuses=list(Status),
        agencies=runtime.agencies,
        now=datetime.now(UTC),
        calendar=runtime.rules.calendar,
        urlencode=urlencode,
        **context,
    )


@get("/inspect/dossiers.csv", include_in_schema=False)
async def list_csv(
    request: Request[Any, Any, Any],
    runtime: NamedDependency[Runtime],
    queries: NamedDependency[Queries],
    page_sessions: NamedDependency[PageSessions],
    agency: FromQuery[str | None] = None,
    procedure: FromQuery[str | None] = None,
    status: Annotated[int | None, QueryParameter(ge=1, le=10)] = None,
    timeliness: FromQuery[str | None] = None,
) -> Response[Any]:
    """Every dossier of the list as CSV (the API's columns)."""
    if await current_session(request, page_sessions) is None:
        return _sign_in_redirect(request)
    listing = await _list_page(
        runtime, queries, _list_filter(agency, procedure, status, timeliness), None, 100_000
    )
    now = datetime.now(UTC)
    items = [
        dossier_out(row, now, runtime.rules.calendar, runtime.agencies) for row in listing.rows
    ]
    rows = ([_csv_cell(getattr(item, column)) for column in LIST_COLUMNS] for item in items)
    return csv_response(LIST_COLUMNS, rows, "dossiers")


def _parse(code: str) -> DossierCode:
    try:
        return DossierCode.parse(code)
    except DomainError as error:
        raise ProblemError(422, "invalid_dossier_code", str(error), field="code") from None


@get("/inspect/dossiers/{code:str}", include_in_schema=False)
async def dossier_timeline(
    request: Request[Any, Any, Any],
    runtime: NamedDependency[Runtime],
    queries: NamedDependency[Queries],
    page_sessions: NamedDependency[PageSessions],
    code: FromPath[str],
    version: Annotated[int | None, QueryParameter(ge=1)] = None,
) -> Response[Any]:
    """One dossier's timeline; `version`: the state right after that event."""
    session = await current_session(request, page_sessions)
    if session is None:
        return _sign_in_redirect(request)
    parsed = _parse(code)
    entries = await queries.histories.history(parsed)
    if not entries:
        return page(request, "not_found.html", 404, session=session, code=str(parsed))
    lines = timeline(entries, runtime.rules.calendar)
    chosen = next((line for line in lines if line.version == version), lines[-1])
    at = datetime.now(UTC) if version is None else chosen.occurred_at
    state = dossier_out(chosen.dossier, at, runtime.rules.calendar, runtime.agencies)
    template = "_state.html" if is_htmx(request) else "timeline.html"
    return page(
        request,
        template,
        agency_names=runtime.agencies,
        session=session,
        code=str(parsed),
        lines=lines,
        chosen=chosen,
        state=state,
        state_at=at,
        latest=version is None,
        procedures=runtime.rules.procedures,
        working_day=runtime.rules.calendar.working_day_length,
    )


@get("/inspect/dossiers/{code:str}/bundle.json", include_in_schema=False)
async def dossier_bundle(
    request: Request[Any, Any, Any],
    runtime: NamedDependency[Runtime],
    page_sessions: NamedDependency[PageSessions],
    code: FromPath[str],
) -> Response[Any]:
    """The export bundle (events as stored, their proofs, the signed checkpoint) for verify.js."""
    if await current_session(request, page_sessions) is None:
        raise PermissionDeniedException(detail="sign in first")
    parsed = _parse(code)
    bundle = await audit_answer(runtime, lambda log: export_bundle(log, parsed))
    return Response(
        encode_bundle(bundle),
        media_type="application/json",
        headers={"Cache-Control": "no-store"},
    )
