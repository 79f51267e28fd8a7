"""Serving the log in the C2SP tlog-tiles layout at 1M leaves, against bare psycopg in the same run.

- the fill (direct, documented as such; 1M leaves in one to four minutes here): --leaves synthetic stored
  events (a realistic Annotated event's JSON each, about 330 bytes, three per dossier) are
  inserted straight into the events table as its owner, and their leaves and every subtree
  hash computed by PostgreSQL (sha256) level by level, as the audit log projection would
  store them. Three leaves and a node are then checked against the ledger's own leaf format
  and hashing, and the ledger's checkpointer signs the tree (it recomputes the root from the
  stored subtrees). The ingest path's speed is bench/ingest.py's business;
- baseline: the same rows read by bare psycopg (the tile's query; the bundle's query and the
  leaf encoding), 32 threads, requests/s and p99;
- `GET /v1/audit/log/tile/0/<N>` (a full hash tile, 8 KiB) and
  `GET /v1/audit/log/tile/entries/<N>` (a full entry bundle, 256 leaves, with an inspector's key,
  uncompressed) over HTTP with wrk, 32 clients, at random full tiles of the whole log.

Run with `.venv/bin/python bench/tiles.py` (`--help` for the options).
"""

from __future__ import annotations

import argparse
import random
import sys
import threading
import time
from pathlib import Path

import psycopg
from rich.progress import Progress

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from application.bootstrap import migrate
from application.keys import Role
from application.runtime import Runtime
from application.settings import Settings
from application.transparency.checkpoints import checkpointer_for
from application.transparency.leaf import leaf_bytes
from application.transparency.log import LogStore
from application.transparency.merkle import leaf_hash, node_hash
from application.transparency.tiles import TILE_WIDTH, encode_entry_bundle, encode_index
from bench.common import BenchDatabase, print_table, run_wrk
from bench.ingest import start_server
from projections.audit_log import open_audit_log

TOPIC = "domain.dossier:Dossier.Annotated"


STATE_SQL = (
    "convert_to(json_build_object('event_id', 'bench-' || n,"
    " 'occurred_at', '2026-02-13T03:00:00+00:00', 'recorded_at', '2026-02-13T03:00:01.123456+00:00',"
    " 'actor', json_build_object('id', 'cb-0042', 'role', 'officer'), 'source', 'one-stop-system',"
    " 'data', json_build_object('note', 'Đã kiểm tra hồ sơ, đủ thành phần theo quy định',"
    " 'refers_to_version', NULL), 'originator_topic', 'domain.dossier:Dossier',"
    " 'timestamp', '2026-02-13T03:00:01.123456+00:00')::text, 'UTF8')"
)
LEAF_SQL = (
    "'\\x01'::bytea || uuid_send(e.originator_id) || int8send(e.originator_version)"
    " || int4send(octet_length(convert_to(e.topic, 'UTF8'))) || convert_to(e.topic, 'UTF8')"
    " || int4send(length(e.state)) || e.state"
)
"""application.transparency.leaf's format 1, in SQL (the fill is checked against it below)."""


def fill(url: str, leaves: int) -> None:
    """The direct fill: stored events, their leaves and every subtree hash, in SQL."""
    steps = [
        f"INSERT INTO ledger_events (originator_id, originator_version, topic, state)"
        f" SELECT md5('dossier' || (n / 3))::uuid, n % 3 + 1, '{TOPIC}', {STATE_SQL}"
        f" FROM generate_series(0, {leaves - 1}) AS n",
        "INSERT INTO audit_log_leaves (leaf_index, originator_id, originator_version,"
        " notification_id) SELECT row_number() OVER (ORDER BY notification_id) - 1,"
        " originator_id, originator_version, notification_id FROM ledger_events",
        f"INSERT INTO audit_log_subtrees (level, index, hash) SELECT 0, l.leaf_index,"
        f" sha256('\\x00'::bytea || {LEAF_SQL}) FROM audit_log_leaves AS l"
        f" JOIN ledger_events AS e USING (originator_id, originator_version)",
    ]
    with psycopg.connect(url, autocommit=True) as connection, Progress(transient=True) as bar:
        task = bar.add_task(f"filling {leaves:,} leaves (SQL)", total=len(steps) + 20)
        for step in steps:
            connection.execute(step)  # type: ignore[arg-type]
            bar.advance(task)
        level = 0
        while True:
            # Each left child with its right sibling, in one ordered scan of the level.
            inserted = connection.execute(
                "INSERT INTO audit_log_subtrees (level, index, hash)"
                " SELECT level + 1, index / 2, sha256('\\x01'::bytea || hash || next) FROM"
                " (SELECT level, index, hash, lead(hash) OVER (ORDER BY index) AS next,"
                " lead(index) OVER (ORDER BY index) AS next_index"
                " FROM audit_log_subtrees WHERE level = %s) AS pairs"
                " WHERE index %% 2 = 0 AND next_index = index + 1",
                (level,),
            ).rowcount
            bar.advance(task)
            if inserted == 0:
                break
            level += 1
        connection.execute("VACUUM ANALYZE")


def check_fill(url: str, leaves: int) -> None:
    """The SQL fill agrees with the ledger's own leaf format and tree hashing."""
    with psycopg.connect(url) as connection:
        for leaf in (0, leaves // 2, leaves - 1):
            row = connection.execute(
                "SELECT e.originator_id, e.originator_version, e.topic, e.state, s.hash"
                " FROM audit_log_leaves AS l JOIN ledger_events AS e"
                " USING (originator_id, originator_version)"
                " JOIN audit_log_subtrees AS s ON s.level = 0 AND s.index = l.leaf_index"
                " WHERE l.leaf_index = %s",
                (leaf,),
            ).fetchone()
            assert row is not None
            assert leaf_hash(leaf_bytes(row[0], row[1], row[2], bytes(row[3]))) == row[4]
        hashes = dict(
            ((level, index), hash_)
            for level, index, hash_ in connection.execute(
                "SELECT level, index, hash FROM audit_log_subtrees"
                " WHERE (level = 0 AND index < 2) OR (level = 1 AND index = 0)"
            ).fetchall()
        )
        assert node_hash(hashes[0, 0], hashes[0, 1]) == hashes[1, 0]


def sign(database_url: str, settings: Settings) -> int:
    """Sign the filled tree with the ledger's checkpointer: the signed tree size."""
    database = migrate(database_url, "ledger_app")
    view = open_audit_log(database.ledger_env(pool_size=1))
    try:
        signed = checkpointer_for(view.log, settings).checkpoint()
        assert signed is not None
        return signed.tree_size
    finally:
        view.datastore.close()


def create_log_tables(database_url: str) -> None:
    view = open_audit_log(migrate(database_url, "ledger_app").ledger_env(pool_size=1))
    view.datastore.close()


def _tile_query(store: LogStore, index: int) -> bytes | None:
    return store.hash_tile(0, index * TILE_WIDTH, TILE_WIDTH)


def _bundle_query(store: LogStore, index: int) -> bytes | None:
    entries = store.leaf_entries(index * TILE_WIDTH, TILE_WIDTH)
    return None if entries is None else encode_entry_bundle(entries)


def bench_psycopg(
    url: str, query: str, tiles: int, clients: int, seconds: float
) -> tuple[float, float]:
    """The same statements as the server's, on bare psycopg connections: rate and p99 in ms."""
    from psycopg.rows import dict_row  # noqa: PLC0415

    from application.transparency.log import AuditTables  # noqa: PLC0415

    timings: list[list[float]] = [[] for _ in range(clients)]
    deadline = time.monotonic() + seconds
    work_of = {"tile": _tile_query, "bundle": _bundle_query}[query]

    def work(index: int) -> None:
        rng = random.Random(index)
        with psycopg.connect(url, autocommit=True, row_factory=dict_row) as connection:
            connection.execute("SET ROLE ledger_app")
            store = LogStore(connection.cursor(), AuditTables("public", "audit_log"))
            while time.monotonic() < deadline:
                started = time.perf_counter()
                assert work_of(store, rng.randrange(tiles)) is not None
                timings[index].append(time.perf_counter() - started)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    every = sorted(t for per_client in timings for t in per_client)
    return len(every) / seconds, every[int(len(every) * 0.99)] * 1000


WRK_TILES = r"""
paths = {PATHS}
function request()
  return wrk.format("GET", paths[math.random(#paths)], {HEADERS})
end
"""


def bench_http(base: str, paths: list[str], headers: str, clients: int, seconds: float):  # type: ignore[no-untyped-def]
    script = WRK_TILES.replace("PATHS", ", ".join(f'"{p}"' for p in paths))
    return run_wrk(script.replace("HEADERS", headers), base, clients=clients, seconds=seconds)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--leaves", type=int, default=1_000_000, help="leaves in the log")
    parser.add_argument("--seconds", type=float, default=8.0, help="each measurement's duration")
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--port", type=int, default=8767)
    parser.add_argument("--database-url", help="a PostgreSQL superuser URL (default: embedded)")
    args = parser.parse_args()

    with BenchDatabase(args.database_url, "tiles") as bench_db:
        migrate(bench_db.url, "ledger_app")
        settings = Settings(database_url=bench_db.url, data_dir=bench_db.data_dir)
        create_log_tables(bench_db.url)
        started = time.monotonic()
        fill(bench_db.url, args.leaves)
        filled = time.monotonic() - started
        check_fill(bench_db.url, args.leaves)
        size = sign(bench_db.url, settings)
        runtime = Runtime.start(settings)
        _, token = runtime.keys.issue(Role.INSPECTOR, (), "bench")
        runtime.close()
        tiles = size // TILE_WIDTH
        sample = random.Random(2).sample(range(tiles), min(tiles, 2000))
        tile = bench_psycopg(bench_db.url, "tile", tiles, args.clients, args.seconds)
        bundle = bench_psycopg(bench_db.url, "bundle", tiles, args.clients, args.seconds)
        server = start_server(bench_db.url, bench_db.data_dir, args.port, 1)
        try:
            base = f"http://127.0.0.1:{args.port}"
            prefix = "/v1/audit/log/tile"
            tile_http = bench_http(
                base, [f"{prefix}/0/{encode_index(n)}" for n in sample], "",
                args.clients, args.seconds,
            )  # fmt: skip
            bundle_http = bench_http(
                base, [f"{prefix}/entries/{encode_index(n)}" for n in sample],
                f'["Authorization"]="Bearer {token}"', args.clients, args.seconds,
            )  # fmt: skip
        finally:
            server.terminate()
            server.wait(timeout=30)
    print(
        f"PostgreSQL {bench_db.server_version}; {size:,} leaves signed (direct SQL fill of"
        f" events, leaves and subtrees in {filled:.0f} s, checked against the ledger's code)"
    )
    print_table([
        ("bare psycopg: a hash tile's rows, 32 threads", f"{tile[0]:,.0f} /s", f"p99 {tile[1]:.1f} ms"),
        ("bare psycopg: an entry bundle's rows + leaves, 32 threads", f"{bundle[0]:,.0f} /s",
         f"p99 {bundle[1]:.1f} ms"),
        ("GET tile/0/<N> (8 KiB), 32 clients", f"{tile_http.rate:,.0f} /s",
         f"p50 {tile_http.p50_ms:.1f} ms, p99 {tile_http.p99_ms:.1f} ms, errors {tile_http.errors}"),
        ("GET tile/entries/<N> (256 leaves), 32 clients", f"{bundle_http.rate:,.0f} /s",
         f"p50 {bundle_http.p50_ms:.1f} ms, p99 {bundle_http.p99_ms:.1f} ms,"
         f" errors {bundle_http.errors}"),
    ])  # fmt: skip
    print(
        f"HTTP / bare psycopg: hash tile {tile_http.rate / tile[0]:.2f},"
        f" entry bundle {bundle_http.rate / bundle[0]:.2f}"
    )


if __name__ == "__main__":
    main()
