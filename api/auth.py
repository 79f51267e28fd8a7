"""Bearer API keys: who is calling, and may they do this."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from litestar import Request
from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.handlers.base import BaseRouteHandler
from litestar.middleware import DefineMiddleware
from litestar.types import ASGIApp, Receive, Scope, Send

from api.headers import scope_header
from application.keys import ApiKey, Role
from application.runtime import Runtime


def runtime_of(connection: ASGIConnection[Any, Any, Any, Any]) -> Runtime:
    """The runtime, for the guards and the route middleware below: they run before a handler's
    dependencies are resolved, so they read it where the lifespan put it (handlers take it by
    dependency injection, api/app.py)."""
    runtime: Runtime = connection.app.state.runtime
    return runtime


def bearer_token(header: str) -> str | None:
    """The token of an `Authorization: Bearer <token>` header (None: no bearer token)."""
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


async def caller(connection: ASGIConnection[Any, Any, Any, Any]) -> ApiKey:
    """The key in `Authorization: Bearer …`, or 401."""
    token = bearer_token(scope_header(connection.scope, b"authorization") or "")
    if token is None:
        raise NotAuthorizedException(detail="an API key is required: Authorization: Bearer <key>")
    key = await runtime_of(connection).keys.authenticate_async(token)
    if key is None:
        raise NotAuthorizedException(detail="the API key is unknown or revoked")
    return key


def require(*roles: Role) -> Any:
    """A guard letting through only keys of these roles (admin always)."""

    async def guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
        connection.scope["state"]["api_key"] = allowed(await caller(connection), roles)

    return guard


def allowed(key: ApiKey, roles: tuple[Role, ...]) -> ApiKey:
    """The key, if its role is one of these (admin always); else 403."""
    if key.role is not Role.ADMIN and key.role not in roles:
        names = ", ".join(r.value for r in (*roles, Role.ADMIN))
        raise PermissionDeniedException(
            detail=f"this needs a key with role {names}; yours is {key.role.value}"
        )
    return key


class Authorized:
    """Route middleware doing what `require` does as a guard, for the write endpoints.

    Litestar hands every guard a copy of its route handler (some sixty attributes copied one by
    one: a tenth of a single post's time); a route middleware runs before the handler just as a
    guard does, before the body is read, and copies nothing. `then` judges what the route's
    path says (the dossier's agency) once the key is known.
    """

    def __init__(
        self,
        app: ASGIApp,
        roles: tuple[Role, ...],
        then: Callable[[ASGIConnection[Any, Any, Any, Any], ApiKey], None] | None = None,
    ) -> None:
        self.app = app
        self.roles = roles
        self.then = then

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        connection: ASGIConnection[Any, Any, Any, Any] = ASGIConnection(scope)
        key = allowed(await caller(connection), self.roles)
        if self.then is not None:
            self.then(connection, key)
        scope["state"]["api_key"] = key
        await self.app(scope, receive, send)


def authorized(
    *roles: Role, then: Callable[[ASGIConnection[Any, Any, Any, Any], ApiKey], None] | None = None
) -> DefineMiddleware:
    return DefineMiddleware(Authorized, roles=roles, then=then)


def current_key(request: Request[Any, Any, Any]) -> ApiKey:
    key: ApiKey = request.scope["state"]["api_key"]
    return key
