"""Headers on every answer: no content sniffing, and no caching of anything not public.

A hook on every message sent (Litestar's `before_send`), so answers that no route handler made
(404 for an unknown path, 405, 429) carry them too. And `scope_header`: one request header,
read where the write path needs it before any header mapping is built.
"""

from __future__ import annotations

from litestar.types import Message, Scope


def scope_header(scope: Scope, name: bytes) -> str | None:
    """The request header `name` (lowercase) read straight from the scope (None: not sent).
    ASGI servers give header names in lowercase."""
    for header, value in scope["headers"]:
        if header == name:
            return value.decode("latin-1")
    return None


PUBLIC_UNDER_V1 = frozenset({"/v1/audit/checkpoint", "/v1/audit/public-key"})
"""What a shared cache may keep: the transparency log's signed head and key, its checkpoints
and its hash tiles (PUBLIC_PREFIXES; not its entry bundles, the events). The rest of /v1 is
about people's dossiers, the public lookup included."""
PUBLIC_PREFIXES = ("/v1/audit/checkpoints", "/v1/audit/log/checkpoint", "/v1/audit/log/tile/")
NOT_PUBLIC_PREFIX = "/v1/audit/log/tile/entries/"

_NOSNIFF = (b"x-content-type-options", b"nosniff")
_NO_STORE = (b"cache-control", b"no-store")


def _private(path: str) -> bool:
    if not path.startswith("/v1/") or path in PUBLIC_UNDER_V1:
        return False
    return not path.startswith(PUBLIC_PREFIXES) or path.startswith(NOT_PUBLIC_PREFIX)


async def security_headers(message: Message, scope: Scope) -> None:
    if message["type"] != "http.response.start":
        return
    headers = [
        (name, value)
        for name, value in message.get("headers", ())
        if name.lower() != b"x-content-type-options"
    ]
    headers.append(_NOSNIFF)
    if _private(scope["path"]):
        headers = [(name, value) for name, value in headers if name.lower() != b"cache-control"]
        headers.append(_NO_STORE)
    message["headers"] = headers
