"""The log in the C2SP tlog-tiles layout, and every checkpoint kept: what anyone can check.

The tiles are recombined here, by the spec's definitions and a plain RFC 6962 tree hash written
in this file, into the roots the ledger signed at several sizes, partial tiles included; the
entry bundles give back every stored event, byte for byte.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import AsyncIterator, Iterator
from typing import Any
from uuid import UUID

import psycopg
import pytest
from litestar.testing import AsyncTestClient

from api.app import create_app
from application.runtime import Runtime
from application.transparency.checkpoints import Checkpointer, checkpointer_for
from application.transparency.note import Checkpoint, open_checkpoint
from projections.audit_log import AUDIT_LOG, AuditLogView, catch_up_audit_log, open_audit_log
from tests.api.conftest import AGENCY

pytestmark = pytest.mark.anyio

SIGNED_SIZES = [3, 256, 300, 513]
"""Below a tile, one full tile (and a level-1 tile of width 1), one and a partial, two and one."""
UNSIGNED_EXTRA = 5
PREFIX = "/v1/audit/log"
OCTETS = "application/octet-stream"
IMMUTABLE = "public, max-age=31536000, immutable"


# --- An independent reading of the spec -----------------------------------------------------


def mth(hashes: list[bytes]) -> bytes:
    """RFC 6962 section 2.1: the Merkle Tree Hash of leaves given by their leaf hashes."""
    if len(hashes) == 1:
        return hashes[0]
    split = 1
    while split * 2 < len(hashes):
        split *= 2
    return hashlib.sha256(b"\x01" + mth(hashes[:split]) + mth(hashes[split:])).digest()


def index_path(index: int) -> str:
    """The spec's example: 1234067 is x001/x234/067."""
    digits = f"{index:d}"
    digits = digits.zfill((len(digits) + 2) // 3 * 3)
    groups = [digits[i : i + 3] for i in range(0, len(digits), 3)]
    return "/".join([*("x" + group for group in groups[:-1]), groups[-1]])


def tile_paths(size: int, level: int) -> list[str]:
    """The tiles of `level` a tree of `size` leaves has: floor(size / 256**level) hashes."""
    hashes = size // 256**level
    paths = [f"{index_path(n)}" for n in range(hashes // 256)]
    if hashes % 256:
        paths.append(f"{index_path(hashes // 256)}.p/{hashes % 256}")
    return paths


def split_hashes(tile: bytes) -> list[bytes]:
    assert len(tile) % 32 == 0
    return [tile[i : i + 32] for i in range(0, len(tile), 32)]


def parse_bundle(data: bytes) -> list[bytes]:
    entries, position = [], 0
    while position < len(data):
        length = int.from_bytes(data[position : position + 2], "big")
        entries.append(data[position + 2 : position + 2 + length])
        position += 2 + length
    assert position == len(data)
    return entries


def parse_leaf(leaf: bytes) -> tuple[UUID, int, str, bytes]:
    """The leaf format of docs/audit.md: 0x01, uuid, u64 version, u32 + topic, u32 + state."""
    assert leaf[0] == 1
    originator_id = UUID(bytes=leaf[1:17])
    version = int.from_bytes(leaf[17:25], "big")
    topic_length = int.from_bytes(leaf[25:29], "big")
    topic = leaf[29 : 29 + topic_length].decode()
    rest = leaf[29 + topic_length :]
    state_length = int.from_bytes(rest[:4], "big")
    assert len(rest) == 4 + state_length
    return originator_id, version, topic, rest[4:]


# --- Fixtures -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def audit_log(runtime: Runtime) -> Iterator[AuditLogView]:
    view = open_audit_log(runtime.database.ledger_env(pool_size=2))
    runtime.views[AUDIT_LOG] = view
    yield view
    view.datastore.close()


@pytest.fixture(scope="module")
def checkpointer(runtime: Runtime, audit_log: AuditLogView) -> Checkpointer:
    return checkpointer_for(audit_log.log, runtime.settings)


@pytest.fixture
async def client(runtime: Runtime, audit_log: AuditLogView) -> AsyncIterator[AsyncTestClient]:  # type: ignore[type-arg]
    async with AsyncTestClient(app=create_app(runtime.settings, runtime=runtime)) as test_client:
        yield test_client


def received(serial: int) -> dict[str, Any]:
    return {
        "dossier_code": f"{AGENCY}-260213-{serial:05d}",
        "event_id": f"tiles-{serial}",
        "type": "Received",
        "occurred_at": "2026-02-13T09:00:00+07:00",
        "actor": {"id": "cb-0042", "role": "receiving_officer"},
        "data": {"procedure_code": "1.001757", "channel": "in_person", "lookup_secret": "7KQ4M2"},
    }


async def post_until(
    client: AsyncTestClient,  # type: ignore[type-arg]
    headers: dict[str, str],
    start: int,
    end: int,
) -> None:
    for first in range(start, end, 250):
        events = [received(serial) for serial in range(first, min(end, first + 250))]
        answer = await client.post("/v1/events:batch", json={"events": events}, headers=headers)
        assert answer.status_code == 200, answer.text
        assert all(r.get("outcome") == "appended" for r in answer.json()["results"])


@pytest.fixture
async def signed(
    client: AsyncTestClient,  # type: ignore[type-arg]
    handler_headers: dict[str, str],
    runtime: Runtime,
    audit_log: AuditLogView,
    checkpointer: Checkpointer,
) -> dict[int, Checkpoint]:
    """Checkpoints signed at SIGNED_SIZES (once per module), then a few events logged but not
    signed yet."""
    if checkpointer.latest() is None:
        posted = 0
        for size in SIGNED_SIZES:
            await post_until(client, handler_headers, posted, size)
            posted = size
            catch_up_audit_log(runtime.database, audit_log)
            checkpointer.checkpoint()
        await post_until(client, handler_headers, posted, posted + UNSIGNED_EXTRA)
        catch_up_audit_log(runtime.database, audit_log)
    verifier = checkpointer.signer.verifier()
    with audit_log.log.reading() as store:
        notes = store.checkpoints()
    return {row.tree_size: open_checkpoint(row.note, verifier) for row in notes}


async def fetch(client: AsyncTestClient, path: str, **kwargs: Any) -> bytes:  # type: ignore[type-arg]
    answer = await client.get(f"{PREFIX}/tile/{path}", **kwargs)
    assert answer.status_code == 200, (path, answer.text)
    return answer.content


# --- Hash tiles -----------------------------------------------------------------------------


async def test_checkpoints_are_signed_at_the_sizes_the_tests_use(
    signed: dict[int, Checkpoint],
) -> None:
    assert sorted(signed) == SIGNED_SIZES


@pytest.mark.parametrize("size", SIGNED_SIZES)
async def test_the_level_0_tiles_recombine_into_the_root_signed_at_each_size(
    client: AsyncTestClient,  # type: ignore[type-arg]
    signed: dict[int, Checkpoint],
    size: int,
) -> None:
    leaves = b"".join([await fetch(client, f"0/{path}") for path in tile_paths(size, 0)])
    assert len(leaves) == 32 * size
    assert mth(split_hashes(leaves)) == signed[size].root_hash


@pytest.mark.parametrize("size", [256, 300, 513])
async def test_level_1_tiles_hash_the_full_tiles_below_and_give_the_same_root(
    client: AsyncTestClient,  # type: ignore[type-arg]
    signed: dict[int, Checkpoint],
    size: int,
) -> None:
    (level_1_path,) = tile_paths(size, 1)
    assert level_1_path == f"000.p/{size // 256}"
    level_1 = split_hashes(await fetch(client, f"1/{level_1_path}"))
    leaves = split_hashes(b"".join([await fetch(client, f"0/{p}") for p in tile_paths(size, 0)]))
    for n, tile_hash in enumerate(level_1):
        assert tile_hash == mth(leaves[n * 256 : (n + 1) * 256])

    def root(start: int, end: int) -> bytes:  # MTH, taking every full tile from level 1
        if end - start == 256:
            return level_1[start // 256]
        if end - start == 1:
            return leaves[start]
        split = 1
        while split * 2 < end - start:
            split *= 2
        return hashlib.sha256(
            b"\x01" + root(start, start + split) + root(start + split, end)
        ).digest()

    assert root(0, size) == signed[size].root_hash


async def test_a_partial_tile_of_an_earlier_checkpoint_is_still_served(
    client: AsyncTestClient,  # type: ignore[type-arg]
    signed: dict[int, Checkpoint],
) -> None:
    full = await fetch(client, "0/001")
    assert await fetch(client, "0/001.p/44") == full[: 44 * 32]  # size 300's partial tile


@pytest.mark.parametrize(
    "path",
    [
        "0/002.p/6",  # logged, but beyond the latest checkpoint (513)
        "0/002",  # not full yet
        "1/000",  # not full yet
        "2/000.p/1",  # needs 65,536 leaves
        "0/x000/001",  # a leading group of zeros
        "0/1",  # not three digits
        "0/000.p/0",  # empty tiles are never served
        "0/000.p/256",  # a partial tile has fewer than 256 hashes
        "64/000",  # levels end at 63
        "7/x999/x999/x999/x999/x999/x999/999",  # beyond any log's size
    ],
)
async def test_a_tile_that_does_not_exist_is_a_404_problem(
    client: AsyncTestClient,  # type: ignore[type-arg]
    signed: dict[int, Checkpoint],
    path: str,
) -> None:
    answer = await client.get(f"{PREFIX}/tile/{path}")
    assert answer.status_code == 404
    assert answer.headers["content-type"] == "application/problem+json"


async def test_tiles_have_the_spec_s_content_type_and_full_ones_are_immutable(
    client: AsyncTestClient,  # type: ignore[type-arg]
    signed: dict[int, Checkpoint],
) -> None:
    for path in ["0/000", "0/002.p/1", "1/000.p/2"]:
        answer = await client.get(f"{PREFIX}/tile/{path}")
        assert answer.status_code == 200
        assert answer.headers["content-type"] == OCTETS
        assert answer.headers["cache-control"] == IMMUTABLE


# --- Entry bundles --------------------------------------------------------------------------


async def test_entry_bundles_give_back_every_stored_event_as_its_leaf(
    client: AsyncTestClient,  # type: ignore[type-arg]
    inspector_headers: dict[str, str],
    runtime: Runtime,
    signed: dict[int, Checkpoint],
) -> None:
    size = max(SIGNED_SIZES)
    entries = []
    for path in tile_paths(size, 0):
        entries += parse_bundle(await fetch(client, f"entries/{path}", headers=inspector_headers))
    assert len(entries) == size
    leaves = split_hashes(b"".join([await fetch(client, f"0/{p}") for p in tile_paths(size, 0)]))
    assert [hashlib.sha256(b"\x00" + entry).digest() for entry in entries] == leaves
    with psycopg.connect(runtime.database.url) as connection:
        stored = connection.execute(
            "SELECT originator_id, originator_version, topic, state FROM ledger_events"
            " ORDER BY notification_id LIMIT %s",
            (size,),
        ).fetchall()
    assert [parse_leaf(entry) for entry in entries] == [
        (row[0], row[1], row[2], bytes(row[3])) for row in stored
    ]


async def test_entry_bundles_are_for_inspectors_compressed_on_request(
    client: AsyncTestClient,  # type: ignore[type-arg]
    inspector_headers: dict[str, str],
    handler_headers: dict[str, str],
    signed: dict[int, Checkpoint],
) -> None:
    assert (await client.get(f"{PREFIX}/tile/entries/000")).status_code == 401
    answer = await client.get(f"{PREFIX}/tile/entries/000", headers=handler_headers)
    assert answer.status_code == 403
    plain = await client.get(
        f"{PREFIX}/tile/entries/000", headers={**inspector_headers, "Accept-Encoding": "identity"}
    )
    assert plain.status_code == 200
    assert plain.headers["content-type"] == OCTETS
    assert "content-encoding" not in plain.headers
    assert plain.headers["cache-control"] == "no-store"  # like everything for inspectors
    compressed = await client.get(
        f"{PREFIX}/tile/entries/000", headers={**inspector_headers, "Accept-Encoding": "gzip"}
    )
    assert compressed.headers["content-encoding"] == "gzip"
    assert compressed.content == plain.content  # decoded by the client
    assert len(parse_bundle(plain.content)) == 256


# --- Checkpoints ----------------------------------------------------------------------------


async def test_the_log_s_checkpoint_is_public_text_with_the_spec_s_content_type(
    client: AsyncTestClient,  # type: ignore[type-arg]
    checkpointer: Checkpointer,
    signed: dict[int, Checkpoint],
) -> None:
    for path in (f"{PREFIX}/checkpoint", "/v1/audit/checkpoint"):
        answer = await client.get(path)
        assert answer.status_code == 200
        assert answer.headers["content-type"] == "text/plain; charset=utf-8"
        assert answer.headers["cache-control"] == "max-age=5, public"
        checkpoint = open_checkpoint(answer.text, checkpointer.signer.verifier())
        assert checkpoint == signed[max(SIGNED_SIZES)]
        assert checkpoint.origin == checkpointer.signer.name


async def test_every_checkpoint_signed_is_served_and_listed_a_page_at_a_time(
    client: AsyncTestClient,  # type: ignore[type-arg]
    checkpointer: Checkpointer,
    signed: dict[int, Checkpoint],
) -> None:
    verifier = checkpointer.signer.verifier()
    for size, checkpoint in signed.items():
        answer = await client.get(f"/v1/audit/checkpoints/{size}")
        assert answer.status_code == 200
        assert answer.headers["content-type"] == "text/plain; charset=utf-8"
        assert open_checkpoint(answer.text, verifier) == checkpoint
    first = (await client.get("/v1/audit/checkpoints", params={"limit": 3})).json()
    assert [c["tree_size"] for c in first["checkpoints"]] == SIGNED_SIZES[:3]
    assert first["next_after"] == SIGNED_SIZES[2]
    rest = (await client.get("/v1/audit/checkpoints", params={"after": 300, "limit": 3})).json()
    assert [c["tree_size"] for c in rest["checkpoints"]] == SIGNED_SIZES[3:]
    assert rest["next_after"] is None
    listed = rest["checkpoints"][0]
    assert base64.b64decode(listed["root_hash"]) == signed[513].root_hash
    assert open_checkpoint(listed["note"], verifier) == signed[513]
    missing = await client.get("/v1/audit/checkpoints/301")
    assert missing.status_code == 404
    assert missing.json()["rule"] == "checkpoint_not_found"


async def test_an_event_too_large_for_an_entry_bundle_is_refused(
    client: AsyncTestClient,  # type: ignore[type-arg]
    handler_headers: dict[str, str],
    signed: dict[int, Checkpoint],
) -> None:
    items = ["giấy tờ " + "x" * 1990] * 40  # each within its bound, 80 kB together
    event = {
        **received(99_000),
        "type": "SupplementRequested",
        "data": {"reason": "thiếu giấy tờ", "items": items},
    }
    code = event.pop("dossier_code")
    answer = await client.post(f"/v1/dossiers/{code}/events", json=event, headers=handler_headers)
    assert answer.status_code == 422
    assert answer.json()["rule"] == "event_too_large"
    batch = await client.post(
        "/v1/events:batch",
        json={"events": [{**event, "dossier_code": code}]},
        headers=handler_headers,
    )
    assert batch.json()["results"][0]["rule"] == "event_too_large"
