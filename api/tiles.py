"""The log in the C2SP tlog-tiles layout under /v1/audit/log/ (application.transparency.tiles).

`checkpoint` and the hash tiles are public; the entry bundles (the stored events) need an
inspector's key. Tiles are read from the stored subtree hashes, one indexed range per request,
and served once the latest signed checkpoint covers them; a full tile never changes, so it is
cached for a year (`immutable`), and so is a partial one (a partial tile of width W is always
the same W hashes). Entry bundles, like everything for inspectors, are not cached (`no-store`,
api/headers.py).
"""

from __future__ import annotations

import asyncio
import gzip
from typing import Any

from litestar import Controller, Request, Response, get
from litestar.datastructures import CacheControlHeader
from litestar.di import NamedDependency
from litestar.params import FromPath

from api.audit import MAX_SIZE, TEXT, answer, audit_log_of, latest_note
from api.auth import require
from api.problems import ProblemError
from application.keys import Role
from application.runtime import Runtime
from application.transparency.log import AuditLog
from application.transparency.tiles import (
    TileAddress,
    TilePathError,
    encode_entry_bundle,
    parse_tile_path,
)

OCTETS = "application/octet-stream"
IMMUTABLE = "public, max-age=31536000, immutable"


def _address(path: str, entries: bool) -> TileAddress:
    try:
        address = parse_tile_path(("entries/" if entries else "") + path.lstrip("/"))
    except TilePathError as error:
        raise ProblemError(404, "not_a_tile", f"no such tile path: {error}") from None
    if address.entries != entries:
        raise ProblemError(404, "not_a_tile", "entry bundles are under tile/entries/")
    if address.leaves_needed() > MAX_SIZE:
        raise ProblemError(404, "not_a_tile", "no log holds that many leaves")
    return address


def _not_available(address: TileAddress) -> ProblemError:
    return ProblemError(
        404,
        "tile_not_available",
        f"{address.path()} needs a signed checkpoint of at least {address.leaves_needed()}"
        " leaves: fetch the checkpoint, then the tiles its size implies",
    )


def _hash_tile(log: AuditLog, address: TileAddress) -> bytes | None:
    with log.reading() as store:
        return store.hash_tile(address.hash_level, address.first, address.width)


def _entry_bundle(log: AuditLog, address: TileAddress) -> bytes | None:
    with log.reading() as store:
        entries = store.leaf_entries(address.first, address.width)
    return None if entries is None else encode_entry_bundle(entries)


class TilesController(Controller):
    """c2sp.org/tlog-tiles: what standard transparency-log tooling reads."""

    path = "/v1/audit/log"
    tags = ["audit"]

    @get(
        "/checkpoint",
        media_type=TEXT,
        cache_control=CacheControlHeader(max_age=5, public=True),
        summary="The latest checkpoint (tlog-tiles <prefix>/checkpoint), with cosignatures",
    )
    async def checkpoint(self, runtime: NamedDependency[Runtime]) -> str:
        return await answer(runtime, latest_note)

    @get(
        "/tile/entries/{path:path}",
        media_type=OCTETS,
        guards=[require(Role.INSPECTOR)],
        summary="An entry bundle: tile/entries/<N>[.p/<W>], the stored events as leaves",
        description="Inspectors. Each leaf as a big-endian uint16 length and its bytes (the"
        " leaf format of docs/audit.md); gzip-compressed when the client accepts gzip.",
    )
    async def entry_bundle(
        self,
        request: Request[Any, Any, Any],
        runtime: NamedDependency[Runtime],
        path: FromPath[str],
    ) -> Response[bytes]:
        address = _address(path, entries=True)
        bundle = await asyncio.to_thread(_entry_bundle, audit_log_of(runtime), address)
        if bundle is None:
            raise _not_available(address)
        headers = {"Vary": "Accept-Encoding"}
        if "gzip" in request.headers.get("accept-encoding", ""):
            bundle = await asyncio.to_thread(gzip.compress, bundle, 6)
            headers["Content-Encoding"] = "gzip"
        return Response(bundle, media_type=OCTETS, headers=headers)

    @get(
        "/tile/{path:path}",
        media_type=OCTETS,
        summary="A hash tile: tile/<L>/<N>[.p/<W>], 256 hashes of 32 bytes (W if partial)",
        description="Public. <N> in 3-digit groups, all but the last prefixed with x.",
    )
    async def hash_tile(
        self, runtime: NamedDependency[Runtime], path: FromPath[str]
    ) -> Response[bytes]:
        address = _address(path, entries=False)
        tile = await asyncio.to_thread(_hash_tile, audit_log_of(runtime), address)
        if tile is None:
            raise _not_available(address)
        return Response(tile, media_type=OCTETS, headers={"Cache-Control": IMMUTABLE})
