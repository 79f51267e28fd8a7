"""`ledger witness serve`: a witness of other bodies' logs over HTTP (c2sp.org/tlog-witness).

    POST /add-checkpoint           old size, consistency proof, checkpoint -> cosignature line
    GET  /<origin hash>/checkpoint the last checkpoint cosigned for that log, with cosignatures

A refusal answers the spec's status with a line of plain text saying why; a 409 answers the
size of the last checkpoint cosigned, as `text/x.tlog.size`.
"""

from __future__ import annotations

import asyncio
from typing import Any

from litestar import Litestar, Request, Response, get, post
from litestar.params import FromPath

from application.transparency.witness import OldSizeMismatch, Witness, WitnessRefusal

SIZE_TYPE = "text/x.tlog.size"
TEXT = "text/plain; charset=utf-8"
MAX_BODY_BYTES = 64 * 1024


def _text(body: str, status: int, media_type: str = TEXT) -> Response[bytes]:
    # A content-type header given explicitly is sent as is (Litestar appends a charset to the
    # media type of text/* answers, and the spec's size answer has none).
    return Response(body.encode(), status_code=status, headers={"Content-Type": media_type})


def create_witness_app(witness: Witness) -> Litestar:
    @post("/add-checkpoint", summary="Cosign a checkpoint consistent with the last one cosigned")
    async def add_checkpoint(request: Request[Any, Any, Any]) -> Response[bytes]:
        body = await request.body()
        try:
            line = await asyncio.to_thread(witness.add_checkpoint, body)
        except OldSizeMismatch as mismatch:
            return _text(f"{mismatch.size}\n", 409, SIZE_TYPE)
        except WitnessRefusal as refusal:
            return _text(f"{refusal}\n", refusal.status)
        return _text(line, 200)

    @get("/{hashed_origin:str}/checkpoint", summary="The last checkpoint cosigned for a log")
    async def latest(hashed_origin: FromPath[str]) -> Response[bytes]:
        note = await asyncio.to_thread(witness.latest_note, hashed_origin)
        if note is None:
            return _text("this witness has cosigned no checkpoint of that log\n", 404)
        return _text(note, 200)

    return Litestar(
        route_handlers=[add_checkpoint, latest],
        request_max_body_size=MAX_BODY_BYTES,
        openapi_config=None,
    )
