"""Ingest throughput, all against the same PostgreSQL in the same run.

(a)  raw psycopg single-row INSERTs of an event's payload, 32 connections, synchronous_commit on:
     the limit of the disk and PostgreSQL for one transaction per event;
(a2) eventsourcing used naively: one `save` per event from 32 threads, with the library's own
     PostgreSQL recorder (its table lock and statements; the ledger's mapper, since the library's
     JSON transcoder does not know the events' types);
(b)  HTTP single-event posts from 32 concurrent clients (wrk) to `ledger serve`;
(c)  the batch endpoint with batches of 500 events.

Prints events/s for each, the ratios b/a, b/a2 and c/a, and the load generators' own CPU use.
Run with `make bench` (or `.venv/bin/python bench/ingest.py --help`).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from uuid import UUID

import msgspec
import psycopg
from eventsourcing.application import Application
from eventsourcing.postgres import PostgresApplicationRecorder
from eventsourcing.utils import get_topic

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from application.bootstrap import migrate, open_ledger
from application.database import ConnectionParams
from application.keys import ApiKeys, Role
from application.mapper import MsgspecMapper
from application.runtime import load_rules
from application.settings import Settings
from bench.common import BenchDatabase, print_table, run_wrk, settle
from domain.code import DossierCode
from domain.commands import Actor, Channel, EventCommand, ReceivedData
from domain.dossier import record
from domain.status import EventType

AGENCY = "000.00.31.H56"
OCCURRED = "2026-02-13T10:00:00+07:00"


@dataclass
class Figure:
    name: str
    events: int
    seconds: float
    generator_cpu: float | None = None

    @property
    def rate(self) -> float:
        return self.events / self.seconds if self.seconds else 0.0


def run_threads(
    clients: int, seconds: float, work: Callable[[int, Callable[[], bool]], int]
) -> Figure:
    counts = [0] * clients
    deadline = time.monotonic() + seconds

    def still() -> bool:
        return time.monotonic() < deadline

    def worker(index: int) -> None:
        counts[index] = work(index, still)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(clients)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return Figure("", sum(counts), time.monotonic() - started)


def payload() -> bytes:
    """The stored bytes of a typical Received event, as the ledger writes them."""
    return msgspec.json.encode(
        {
            "event_id": "tn-2026-000123-1",
            "occurred_at": OCCURRED,
            "recorded_at": datetime.now(UTC),
            "actor_id": "cb-0042",
            "actor_role": "receiving_officer",
            "source": "one-stop-system",
            "fingerprint": "f" * 64,
            "dossier_code": f"{AGENCY}-260213-0001",
            "procedure_code": "1.001757",
            "procedure_name": "Đăng ký thành lập hộ kinh doanh",
            "processing_time_amount": 5,
            "processing_time_unit": "working_days",
            "channel": "in_person",
            "lookup_secret_digest": "d" * 64,
            "applicant_ref": None,
            "due_at": "2026-02-27T10:00:00+07:00",
            "timestamp": datetime.now(UTC),
        }
    )


def bench_raw(url: str, clients: int, seconds: float) -> Figure:
    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute(
            "CREATE TABLE IF NOT EXISTS bench_raw (originator_id uuid, originator_version bigint, "
            "topic text, state bytea, notification_id bigserial, "
            "PRIMARY KEY (originator_id, originator_version))"
        )
        assert connection.execute("SHOW synchronous_commit").fetchone() == ("on",)
    state = payload()

    def work(_: int, still: Callable[[], bool]) -> int:
        done = 0
        with psycopg.connect(url, autocommit=True) as connection:
            while still():
                connection.execute(
                    "INSERT INTO bench_raw (originator_id, originator_version, topic, state) "
                    "VALUES (%s, 1, 'domain.dossier:Dossier.Received', %s)",
                    (uuid.uuid4(), state),
                )
                done += 1
        return done

    figure = run_threads(clients, seconds, work)
    figure.name = "(a) raw psycopg INSERT, 1 event/transaction"
    return figure


class NaiveLedger(Application[UUID]):
    """The library as it comes: its PostgreSQL recorder and settings, a table of its own."""

    name = "Naive"


def bench_naive_eventsourcing(url: str, settings: Settings, clients: int, seconds: float) -> Figure:
    params = ConnectionParams.from_url(url)
    ledger = NaiveLedger(
        {
            "PERSISTENCE_MODULE": "eventsourcing.postgres",
            "POSTGRES_HOST": params.host,
            "POSTGRES_PORT": params.port,
            "POSTGRES_DBNAME": params.dbname,
            "POSTGRES_USER": params.user,
            "POSTGRES_PASSWORD": params.password,
            "POSTGRES_POOL_SIZE": str(clients),
            "CREATE_TABLE": "y",
            "MAPPER_TOPIC": get_topic(MsgspecMapper),
        }
    )
    assert type(ledger.recorder) is PostgresApplicationRecorder
    rules = load_rules(settings)

    def work(index: int, still: Callable[[], bool]) -> int:
        done = 0
        while still():
            code = DossierCode.parse(
                f"{AGENCY}-2601{index % 28 + 1:02d}-{done + 1 + 100_000 * (index // 28):07d}"
            )
            command = EventCommand(
                event_id=f"naive-{index}-{done}",
                type=EventType.RECEIVED,
                occurred_at=datetime.fromisoformat(OCCURRED),
                actor=Actor("cb-0042", "receiving_officer"),
                source="bench",
                data=ReceivedData("1.001757", Channel.IN_PERSON, "d" * 64),
                fingerprint="f" * 64,
            )
            dossier = record(None, code, command, rules, datetime.now(UTC)).dossier
            ledger.save(dossier)
            done += 1
        return done

    try:
        figure = run_threads(clients, seconds, work)
    finally:
        ledger.close()
    figure.name = "(a2) eventsourcing, one save per event"
    return figure


WRK_SCRIPT = r"""
counter = 0
function request()
  counter = counter + 1
  local day = string.format("2602%02d", 13 + tid)
  local code = string.format("%s-%s-%07d", AGENCY, day, counter)
  local body = string.format('{"event_id":"w%d-%d","type":"Received","occurred_at":"2026-02-%02dT10:00:00+07:00","actor":{"id":"cb-0042","role":"receiving_officer"},"data":{"procedure_code":"1.001757","channel":"in_person","lookup_secret":"7KQ4M2"}}', tid, counter, 13 + tid)
  return wrk.format("POST", "/v1/dossiers/" .. code .. "/events", HEADERS, body)
end
"""


def bench_http_single(
    base_url: str, token: str, clients: int, seconds: float, database_url: str
) -> Figure:
    script = WRK_SCRIPT.replace("AGENCY", f'"{AGENCY}"').replace(
        "HEADERS", '{["Content-Type"]="application/json", ["Authorization"]="Bearer ' + token + '"}'
    )
    result = run_wrk(script, base_url, clients=clients, seconds=seconds)
    if result.errors:
        print(f"warning: {result.errors} single posts failed", file=sys.stderr)
    # Every post was a new event (201 appended): as many stored as answered, or more (posts
    # under way when wrk stopped are stored too).
    with psycopg.connect(database_url) as connection:
        row = connection.execute("SELECT count(*) FROM ledger_events").fetchone()
    stored = row[0] if row else 0
    if stored < result.ok:
        print(f"warning: {result.ok} posts answered, {stored} events stored", file=sys.stderr)
    print(f"    single posts: p50 {result.p50_ms:.1f} ms, p99 {result.p99_ms:.1f} ms")
    return Figure(
        "(b) HTTP single-event posts, 32 clients", result.ok, result.seconds, result.generator_cpu
    )


def bench_http_batch(
    base_url: str, token: str, clients: int, seconds: float, size: int = 500
) -> Figure:
    counts = [0] * clients
    failures: list[str] = []
    deadline = time.monotonic() + seconds
    encoder = msgspec.json.Encoder()

    def worker(index: int) -> None:
        batch_number = 0
        while time.monotonic() < deadline:
            batch_number += 1
            events = [
                {
                    "dossier_code": f"{AGENCY}-2603{index + 1:02d}-{batch_number * size + i:07d}",
                    "event_id": f"batch-{index}-{batch_number}-{i}",
                    "type": "Received",
                    "occurred_at": "2026-03-02T10:00:00+07:00",
                    "actor": {"id": "cb-0042", "role": "receiving_officer"},
                    "data": {
                        "procedure_code": "1.001757",
                        "channel": "online",
                        "lookup_secret": "7KQ4M2",
                    },
                }
                for i in range(size)
            ]
            request = urllib.request.Request(
                base_url + "/v1/events:batch",
                data=encoder.encode({"events": events}),
                headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
                method="POST",
            )
            with urllib.request.urlopen(request, timeout=120) as response:
                results = msgspec.json.decode(response.read())["results"]
            appended = sum(1 for r in results if r.get("outcome") == "appended")
            if appended != size:
                failures.append(f"{size - appended} refused in a batch")
            counts[index] += appended

    before = time.process_time()
    started = time.monotonic()
    threads = [threading.Thread(target=worker, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started
    if failures:
        print(f"warning: {failures[:3]}", file=sys.stderr)
    return Figure(
        f"(c) HTTP batches of {size}, {clients} clients",
        sum(counts),
        elapsed,
        (time.process_time() - before) / elapsed,
    )


def start_server(
    url: str, data_dir: Path, port: int, workers: int, *, projections: bool = False
) -> subprocess.Popen[bytes]:
    env = dict(os.environ, LEDGER_DATABASE_URL=url, LEDGER_DATA_DIR=str(data_dir))
    ledger = Path(sys.executable).parent / "ledger"
    command = [str(ledger), "serve", "--port", str(port), "--workers", str(workers)]
    command += ["--projections"] if projections else []
    server = subprocess.Popen(command, env=env)
    for _ in range(120):
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1):
                return server
        except OSError:
            time.sleep(0.25)
    server.terminate()
    raise SystemExit("ledger serve did not answer /health")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=8.0, help="duration of each measurement")
    parser.add_argument("--clients", type=int, default=32, help="concurrent clients for a, a2, b")
    parser.add_argument(
        "--batch-clients",
        type=int,
        default=8,
        help="concurrent clients for c (each opens a connection per batch, as urllib does)",
    )
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--workers", type=int, default=2, help="`ledger serve --workers`")
    parser.add_argument("--database-url", help="a PostgreSQL superuser URL (default: embedded)")
    args = parser.parse_args()

    with BenchDatabase(args.database_url, "ingest") as bench_db:
        database = migrate(bench_db.url, "ledger_app")
        settings = Settings(database_url=bench_db.url, data_dir=bench_db.data_dir)
        print(
            f"PostgreSQL {bench_db.server_version}, synchronous_commit=on, {os.cpu_count()} cores"
        )
        # Each figure on a settled database: not beside the autovacuum and checkpoint that the
        # rows of the one before left behind.
        settle(bench_db.url)
        raw = bench_raw(bench_db.url, args.clients, args.seconds)
        settle(bench_db.url)
        naive = bench_naive_eventsourcing(bench_db.url, settings, args.clients, args.seconds)
        ledger = open_ledger(database, pool_size=1)
        _, token = ApiKeys(ledger.factory.datastore).issue(Role.HANDLER, (AGENCY,), "bench")  # type: ignore[attr-defined]
        ledger.close()
        server = start_server(bench_db.url, bench_db.data_dir, args.port, args.workers)
        try:
            base = f"http://127.0.0.1:{args.port}"
            settle(bench_db.url)
            single = bench_http_single(base, token, args.clients, args.seconds, bench_db.url)
            settle(bench_db.url)
            batch = bench_http_batch(base, token, args.batch_clients, args.seconds)
        finally:
            server.terminate()
            server.wait(timeout=30)
    figures = [raw, naive, single, batch]
    print_table(
        [
            (
                f.name,
                f"{f.rate:,.0f} events/s",
                f"{f.events:,} in {f.seconds:.1f} s",
                "" if f.generator_cpu is None else f"generator CPU {f.generator_cpu:.0%} of a core",
            )
            for f in figures
        ]
    )
    print(f"b/a  = {single.rate / raw.rate:.2f}   (target >= 0.6)")
    print(f"b/a2 = {single.rate / naive.rate:.2f}   (target >= 5)")
    print(f"c/a  = {batch.rate / raw.rate:.2f}   (c target >= 24,000 events/s: {batch.rate:,.0f})")


if __name__ == "__main__":
    main()
