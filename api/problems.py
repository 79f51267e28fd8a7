"""RFC 9457 problem details: every 4xx and 5xx answer, mapped from errors in one place."""

from __future__ import annotations

import logging
from typing import Any

import msgspec
from eventsourcing.persistence import InterfaceError, OperationalError
from litestar import Request, Response
from litestar.exceptions import HTTPException, NotAuthorizedException, ValidationException
from litestar.status_codes import (
    HTTP_400_BAD_REQUEST,
    HTTP_409_CONFLICT,
    HTTP_422_UNPROCESSABLE_ENTITY,
    HTTP_429_TOO_MANY_REQUESTS,
    HTTP_500_INTERNAL_SERVER_ERROR,
    HTTP_503_SERVICE_UNAVAILABLE,
)
from psycopg import OperationalError as PsycopgOperationalError
from psycopg_pool import PoolTimeout

from application.database import DatabaseUnavailable
from application.writer import WriterStopped
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
    """An RFC 9457 problem document, with `field` and `rule` naming what to fix."""

    type: str
    title: str
    status: int
    detail: str
    instance: str | None = None
    field: str | None = None
    rule: str | None = None
    extensions: dict[str, Any] | None = None


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
    extensions: dict[str, Any] = {}
    if isinstance(error, TransitionNotAllowed):
        extensions = {
            "current_status": int(error.status) if error.status is not None else None,
            "event_type": str(error.event_type),
        }
    elif isinstance(error, ExpectedVersionMismatch):
        extensions = {"expected_version": error.expected, "current_version": error.actual}
    return Problem(
        type=PROBLEM_BASE + error.rule,
        title=error.rule.replace("_", " ").capitalize(),
        status=status,
        detail=str(error),
        instance=instance,
        field=error.field,
        rule=error.rule,
        extensions=extensions or None,
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


def problem_response(problem: Problem, headers: dict[str, str] | None = None) -> Response[bytes]:
    body = msgspec.json.encode(_flatten(problem))
    return Response(body, status_code=problem.status, media_type=PROBLEM_JSON, headers=headers)


def _flatten(problem: Problem) -> dict[str, Any]:
    document = msgspec.structs.asdict(problem)
    extensions = document.pop("extensions") or {}
    document.update(extensions)
    return {key: value for key, value in document.items() if value is not None}


def problem_document(problem: Problem) -> dict[str, Any]:
    """A problem as a plain mapping, for answers that embed problems (the batch endpoint)."""
    return _flatten(problem)


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
        429: "too_many_requests",
    }.get(status, "http_error")
    detail = error.detail or rule.replace("_", " ")
    field = None
    if isinstance(error, ValidationException):
        status, rule, field, detail = _validation_problem(error)
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


def _validation_problem(error: ValidationException) -> tuple[int, str, str | None, str]:
    """The body did not decode: 400 when it is not JSON, 422 naming the field otherwise."""
    first = error.extra[0] if isinstance(error.extra, list) and error.extra else None
    if not isinstance(first, dict) or not first.get("key"):
        return (
            HTTP_400_BAD_REQUEST,
            "malformed_json",
            None,
            f"the body is not valid JSON: {error.detail}",
        )
    message = str(first.get("message", ""))
    field = str(first["key"])
    if "unknown field `" in message:
        unknown = message.split("unknown field `", 1)[1].split("`", 1)[0]
        field = unknown if field == "data" else f"{field}.{unknown}"
    return HTTP_422_UNPROCESSABLE_ENTITY, "invalid_value", field, f"{field}: {message}"


def _on_unavailable(request: Request[Any, Any, Any], error: Exception) -> Response[bytes]:
    _log.warning("database unavailable: %s", error)
    problem = Problem(
        type=PROBLEM_BASE + "database_unavailable",
        title="Database unavailable",
        status=HTTP_503_SERVICE_UNAVAILABLE,
        detail=(
            "the ledger's database cannot be reached; retry later with the same event_id "
            "(an event is never stored twice)"
        ),
        instance=request.url.path,
        rule="database_unavailable",
    )
    return problem_response(problem, {"Retry-After": "5"})


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


UNAVAILABLE = (
    OperationalError,
    InterfaceError,
    PsycopgOperationalError,
    PoolTimeout,
    DatabaseUnavailable,
    WriterStopped,
)

exception_handlers: dict[Any, Any] = {
    ProblemError: _on_problem,
    DomainError: _on_domain_error,
    HTTPException: _on_http_exception,
    **dict.fromkeys(UNAVAILABLE, _on_unavailable),
    Exception: _on_unexpected,
}
