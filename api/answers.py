"""JSON answers sent as their two ASGI messages, encoded once by msgspec.

What a Litestar `Response` does for a struct (the handler's return value encoded, an
`ASGIResponse` with its header and cookie structures built, then sent) took a seventh of a public
lookup's time in the API process. The hot endpoints (the writes, the public lookup, a dossier's
view and history) answer with a `JsonAnswer` instead; their OpenAPI answers are declared with
`ResponseSpec` as the return annotation no longer says. They answer GET or POST only, never a
HEAD, so an answer always has its body.
"""

from __future__ import annotations

from typing import Any

import msgspec
from litestar.types import Receive, Scope, Send

from api.bodies import JSON

_ENCODER = msgspec.json.Encoder()
_JSON_TYPE = (b"content-type", JSON.encode())


class JsonAnswer:
    """An answer of JSON bytes with its status."""

    __slots__ = ("body", "status")

    def __init__(self, body: bytes, status: int) -> None:
        self.body = body
        self.status = status

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": self.status,
                "headers": [_JSON_TYPE, (b"content-length", str(len(self.body)).encode())],
            }
        )
        await send({"type": "http.response.body", "body": self.body, "more_body": False})


def json_answer(answer: Any, status: int = 200) -> JsonAnswer:
    """`answer` (a msgspec struct, or what msgspec encodes natively) as a JSON answer."""
    return JsonAnswer(_ENCODER.encode(answer), status)
