"""Query parameters held to the contract's bounds before any handler sees them.

Litestar converts query text leniently (`1e5` passes as an integer) and lets through what the
database cannot store (a NUL character) or the calendar cannot compute with (the year 9999). One
hook, run for every route, refuses these with a problem naming the parameter, so no handler can
forget it.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Any

import msgspec
from litestar import Request

from api.contract import check_year
from api.problems import ProblemError, wire_name

_WHOLE_NUMBER = re.compile(r"[+-]?[0-9]{1,18}")


async def check_query(request: Request[Any, Any, Any]) -> None:
    """A `before_request` hook: no NUL in any parameter; integers written as integers;
    dates and instants within the ledger's years."""
    if not request.scope["query_string"]:
        return
    query = request.query_params
    for name, value in query.multi_items():
        if "\x00" in value:
            raise _invalid(name, "must not contain a NUL character")
    types = _query_types(request)
    for name, value in query.multi_items():
        wanted = types.get(name)
        if wanted is int and not _WHOLE_NUMBER.fullmatch(value):
            raise _invalid(name, f"must be a whole number, not {value!r}")
        if wanted in (date, datetime):
            _check_year(name, value, wanted)


def _check_year(name: str, value: str, wanted: type[Any]) -> None:
    try:
        parsed = msgspec.convert(value, wanted, strict=False)
    except msgspec.ValidationError:
        return  # not a date at all: Litestar's own conversion names the parameter
    check_year(parsed, name)


def _query_types(request: Request[Any, Any, Any]) -> dict[str, type[Any]]:
    """The handler's query parameters by their wire name, with their (non-None) type."""
    handler = request.route_handler
    known = _TYPES_BY_HANDLER.get(id(handler))
    if known is not None and known[0] is handler:
        return known[1]
    cached: dict[str, type[Any]] = {}
    for key, parameter in handler.parsed_fn_signature.parameters.items():
        kwarg = parameter.kwarg_definition
        wire = wire_name(kwarg, key)
        inner = [t for t in (parameter.args or (parameter.annotation,)) if t is not type(None)]
        if parameter.is_optional and inner:
            cached[wire] = inner[0]
        else:
            cached[wire] = parameter.annotation
    _TYPES_BY_HANDLER[id(handler)] = (handler, cached)
    return cached


_TYPES_BY_HANDLER: dict[int, tuple[object, dict[str, type[Any]]]] = {}
"""By the handler's id, with the handler itself: an app that is gone (tests build many) leaves
its handlers' ids free for another's, which must not find their types."""


def _invalid(name: str, message: str) -> ProblemError:
    return ProblemError(422, "invalid_value", f"{name} {message}", field=name)
