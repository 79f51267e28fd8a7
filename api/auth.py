"""Bearer API keys: who is calling, and may they do this."""

from __future__ import annotations

from typing import Any

from litestar import Request
from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.handlers.base import BaseRouteHandler

from application.keys import ApiKey, Role
from application.runtime import Runtime


def runtime_of(connection: ASGIConnection[Any, Any, Any, Any]) -> Runtime:
    runtime: Runtime = connection.app.state.runtime
    return runtime


def bearer_token(header: str) -> str | None:
    """The token of an `Authorization: Bearer <token>` header (None: no bearer token)."""
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


async def caller(connection: ASGIConnection[Any, Any, Any, Any]) -> ApiKey:
    """The key in `Authorization: Bearer …`, or 401."""
    token = bearer_token(connection.headers.get("authorization", ""))
    if token is None:
        raise NotAuthorizedException(detail="an API key is required: Authorization: Bearer <key>")
    key = await runtime_of(connection).keys.authenticate_async(token)
    if key is None:
        raise NotAuthorizedException(detail="the API key is unknown or revoked")
    return key


def require(*roles: Role) -> Any:
    """A guard letting through only keys of these roles (admin always)."""

    async def guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
        key = await caller(connection)
        if key.role is not Role.ADMIN and key.role not in roles:
            allowed = ", ".join(r.value for r in (*roles, Role.ADMIN))
            raise PermissionDeniedException(
                detail=f"this needs a key with role {allowed}; yours is {key.role.value}"
            )
        connection.scope["state"]["api_key"] = key

    return guard


def current_key(request: Request[Any, Any, Any]) -> ApiKey:
    key: ApiKey = request.scope["state"]["api_key"]
    return key
