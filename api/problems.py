"""RFC 9457 problem details: every 4xx and 5xx answer, mapped from errors in one place."""

from __future__ import annotations

import logging
import re
from typing import Any

import msgspec
from litestar import Litestar, Request, Response
from litestar.exceptions import HTTPException, NotAuthorizedException, ValidationException
from litestar.handlers import HTTPRouteHandler
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import OpenAPIMediaType, OpenAPIResponse, OpenAPIType, Schema
from litestar.status_codes import (
    HTTP_400_BAD_REQUEST,
    HTTP_409_CONFLICT,
    HTTP_422_UNPROCESSABLE_ENTITY,
    HTTP_429_TOO_MANY_REQUESTS,
    HTTP_500_INTERNAL_SERVER_ERROR,
)

from api.auth import Authorized
from domain.errors import (
    DomainError,
    EventIdReused,
    ExpectedVersionMismatch,
    OccurredAtBeforePrevious,
    TransitionNotAllowed,
)

PROBLEM_JSON = "application/problem+json"
PROBLEM_BASE = "https://dossier-ledger.example.vn/problems/"

_log = logging.getLogger(__name__)


class Problem(msgspec.Struct, omit_defaults=True):
    """An RFC 9457 problem document: `rule` is a stable slug, `field` the wire field to fix.

    Two rules add members of their own: `transition_not_allowed` (`current_status`,
    `event_type`) and `expected_version_mismatch` (`expected_version`, `current_version`).
    """

    type: str
    title: str
    status: int
    detail: str
    instance: str | None = None
    field: str | None = None
    rule: str | None = None
    current_status: int | None = None
    event_type: str | None = None
    expected_version: int | None = None
    current_version: int | None = None


class RefusedInBatch(Problem, tag_field="outcome", tag="refused"):
    """A refused event in a batch answer: its problem document, with `outcome` refused."""


class ProblemError(Exception):
    """Raised by handlers to answer with a problem document."""

    def __init__(
        self,
        status: int,
        rule: str,
        detail: str,
        *,
        title: str | None = None,
        field: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.rule = rule
        self.detail = detail
        self.title = title or rule.replace("_", " ").capitalize()
        self.field = field
        self.headers = headers or {}

    def problem(self, instance: str | None = None) -> Problem:
        return Problem(
            type=PROBLEM_BASE + self.rule,
            title=self.title,
            status=self.status,
            detail=self.detail,
            instance=instance,
            field=self.field,
            rule=self.rule,
        )


CONFLICTS = (TransitionNotAllowed, ExpectedVersionMismatch, EventIdReused, OccurredAtBeforePrevious)


def domain_problem(error: DomainError, instance: str | None = None) -> Problem:
    """A refused event as a problem: 409 when it conflicts with the history, else 422."""
    status = HTTP_409_CONFLICT if isinstance(error, CONFLICTS) else HTTP_422_UNPROCESSABLE_ENTITY
    members: dict[str, Any] = {}
    if isinstance(error, TransitionNotAllowed):
        members = {
            "current_status": int(error.status) if error.status is not None else None,
            "event_type": str(error.event_type),
        }
    elif isinstance(error, ExpectedVersionMismatch):
        members = {"expected_version": error.expected, "current_version": error.actual}
    return Problem(
        type=PROBLEM_BASE + error.rule,
        title=error.rule.replace("_", " ").capitalize(),
        status=status,
        detail=str(error),
        instance=instance,
        field=error.field,
        rule=error.rule,
        **members,
    )


def decode_problem(
    error: msgspec.DecodeError | msgspec.ValidationError, prefix: str = ""
) -> ProblemError:
    """msgspec's message names the path (`$.actor.id`): turn it into the field name."""
    message = str(error)
    field = None
    if " - at `$" in message:
        message, path = message.rsplit(" - at `$", 1)
        field = (prefix + path.rstrip("`").lstrip(".")).strip(".") or None
    if isinstance(error, msgspec.ValidationError):
        return ProblemError(HTTP_422_UNPROCESSABLE_ENTITY, "invalid_value", message, field=field)
    return ProblemError(
        HTTP_400_BAD_REQUEST, "malformed_json", f"the body is not valid JSON: {message}"
    )


_DESCRIPTIONS = {
    400: "The request is malformed (`malformed_json`, `missing_parameter`)",
    401: "No API key, or an unknown or revoked one (`unauthenticated`)",
    403: "The key may not do this (`forbidden`, `agency_not_allowed`)",
    404: "Not found (`dossier_not_found`, `version_not_found`, …)",
    409: "The event conflicts with the dossier's history (`transition_not_allowed`, …)",
    413: "The body or the batch is too large (`body_too_large`, `batch_too_large`)",
    415: "The body is not `application/json` (`unsupported_media_type`)",
    422: "A value breaks a rule of the contract; `field` names it (`invalid_value`, …)",
    429: "Too many requests; wait `Retry-After` seconds (`too_many_requests`)",
    500: "The ledger could not answer; the error is logged (`internal_error`)",
    503: (
        "The database is unavailable, its disk is full, or writers contend: nothing to fix; "
        "retry after `Retry-After` seconds with the same event_id "
        "(`database_unavailable`, `storage_full`, `write_contention`)"
    ),
}


def problem_responses(*statuses: int) -> dict[int, ResponseSpec]:
    """OpenAPI answers of an operation: each status a problem document, with 500 always."""
    return {
        status: ResponseSpec(
            data_container=Problem,
            media_type=PROBLEM_JSON,
            description=_DESCRIPTIONS[status],
            generate_examples=False,
        )
        for status in sorted({*statuses, 500})
    }


def document_problems(app: Litestar) -> None:
    """Declare on every operation the problem answers it can give (unless it declares them),
    and the bearer scheme where a guard asks for a key.

    Judged from the handler itself: parameters can be missing (400) or wrong (422), guards can
    refuse (401, 403), what is asked for may not exist (404), a body can be too large
    or not JSON (413, 415), the public pages are rate-limited (429), and anything may meet an
    unreachable database (503) or a bug (500).
    """
    for route in app.routes:
        for handler in getattr(route, "route_handlers", ()):
            if not isinstance(handler, HTTPRouteHandler) or not handler.include_in_schema:
                continue
            statuses = {404, 500, 503}
            parameters = handler.parsed_fn_signature.parameters
            wire = set(parameters) - {"request", "state", "data", *handler.resolve_dependencies()}
            if wire or "data" in parameters:
                statuses |= {400, 422}
            if "data" in parameters:
                statuses |= {413, 415}
            if handler.resolve_guards() or _authorized(handler):
                statuses |= {401, 403}
                handler.security = handler.security or [{"bearer": []}]
            if route.path.startswith("/v1/public/"):
                statuses.add(429)
            handler.responses = {**problem_responses(*statuses), **(handler.responses or {})}
    _document_csv(app)


def _authorized(handler: HTTPRouteHandler) -> bool:
    return any(getattr(m, "middleware", None) is Authorized for m in handler.resolve_middleware())


def _document_csv(app: Litestar) -> None:
    """Operations with `format=csv` answer text/csv too (one media type per ResponseSpec)."""
    for operations in (app.openapi_schema.paths or {}).values():
        operation = operations.get
        if operation is None or not operation.parameters or operation.responses is None:
            continue
        if any(getattr(p, "name", None) == "format" for p in operation.parameters):
            success = operation.responses.get("200")
            if isinstance(success, OpenAPIResponse) and success.content is not None:
                success.content["text/csv"] = OpenAPIMediaType(
                    schema=Schema(type=OpenAPIType.STRING, description="CSV, a header row first")
                )


def problem_response(problem: Problem, headers: dict[str, str] | None = None) -> Response[bytes]:
    body = msgspec.json.encode(problem)
    return Response(body, status_code=problem.status, media_type=PROBLEM_JSON, headers=headers)


def refused_in_batch(problem: Problem) -> RefusedInBatch:
    """A problem as one result of a batch answer."""
    return RefusedInBatch(**msgspec.structs.asdict(problem))


def _on_problem(request: Request[Any, Any, Any], error: ProblemError) -> Response[bytes]:
    return problem_response(error.problem(request.url.path), error.headers)


def _on_domain_error(request: Request[Any, Any, Any], error: DomainError) -> Response[bytes]:
    return problem_response(domain_problem(error, request.url.path))


def _on_http_exception(request: Request[Any, Any, Any], error: HTTPException) -> Response[bytes]:
    status = error.status_code
    rule = {
        400: "bad_request",
        401: "unauthenticated",
        403: "forbidden",
        404: "not_found",
        405: "method_not_allowed",
        413: "body_too_large",
        415: "unsupported_media_type",
        429: "too_many_requests",
    }.get(status, "http_error")
    detail = error.detail or rule.replace("_", " ")
    field = None
    if isinstance(error, ValidationException):
        status, rule, field, detail = _validation_problem(request, error)
    headers = dict(error.headers or {})
    if isinstance(error, NotAuthorizedException):
        headers.setdefault("WWW-Authenticate", 'Bearer realm="dossier-ledger"')
    if status == HTTP_429_TOO_MANY_REQUESTS:  # the rate limit's reset, in the standard header
        headers.setdefault("Retry-After", str(max(1, int(headers.get("RateLimit-Reset", 60)))))
    problem = Problem(
        type=PROBLEM_BASE + rule,
        title=rule.replace("_", " ").capitalize(),
        status=status,
        detail=detail,
        instance=request.url.path,
        field=field,
        rule=rule,
    )
    return problem_response(problem, headers)


_MISSING = re.compile(r"Missing required (\w+) parameter '([^']+)'")


def _validation_problem(
    request: Request[Any, Any, Any], error: ValidationException
) -> tuple[int, str, str | None, str]:
    """A parameter is missing or out of its bounds: the wire name of the parameter, the rule."""
    if missing := _MISSING.search(error.detail or ""):
        where, name = missing.groups()
        return 400, "missing_parameter", name, f"the {where} parameter {name} is required"
    first = error.extra[0] if isinstance(error.extra, list) and error.extra else None
    if not isinstance(first, dict) or not first.get("key"):
        return HTTP_400_BAD_REQUEST, "bad_request", None, error.detail or "bad request"
    if first.get("key") == "data":  # the body did not reach its decoder: there is none
        return HTTP_400_BAD_REQUEST, "malformed_json", None, "the body is empty; send a JSON object"
    field = _wire_name(request, str(first["key"]))
    message = str(first.get("message", ""))
    return HTTP_422_UNPROCESSABLE_ENTITY, "invalid_value", field, f"{field}: {message}"


def _wire_name(request: Request[Any, Any, Any], key: str) -> str:
    """A handler's parameter by the name it has on the wire (`from`, `X-Lookup-Secret`)."""
    try:
        parameter = request.route_handler.parsed_fn_signature.parameters[key]
    except (AttributeError, KeyError):
        return key
    kwarg = parameter.kwarg_definition
    return wire_name(kwarg, key)


def wire_name(kwarg: object, key: str) -> str:
    """A parameter's name on the wire: its header or query name, else its declared name."""
    for attribute in ("header", "query", "cookie", "name"):
        if name := getattr(kwarg, attribute, None):
            return str(name)
    return key


def _on_unexpected(request: Request[Any, Any, Any], error: Exception) -> Response[bytes]:
    _log.exception("unexpected error on %s", request.url.path, exc_info=error)
    problem = Problem(
        type=PROBLEM_BASE + "internal_error",
        title="Internal error",
        status=HTTP_500_INTERNAL_SERVER_ERROR,
        detail="the ledger could not answer; the error is logged",
        instance=request.url.path,
        rule="internal_error",
    )
    return problem_response(problem)


exception_handlers: dict[Any, Any] = {
    ProblemError: _on_problem,
    DomainError: _on_domain_error,
    HTTPException: _on_http_exception,
    Exception: _on_unexpected,
}
"""The ledger's errors as problem documents; the database's faults (503) are mapped in
api/availability.py."""
