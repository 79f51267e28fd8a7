"""How the costs grow with the ledger's size: 10 thousand, 1 million, 10 million events.

`ledger serve --workers 2` and `ledger project` (each read model, the checkpoints among them, in
a process of its own), as a deployment on one machine runs them, on a database of the
benchmark's own (`--workers 1`: one `ledger serve --projections` instead). The ledger is filled
through the normal write path: batches of `--batch` events posted to `POST /v1/events:batch` by
`--fill-clients` clients, dossiers of three events (received, transferred, resolved) spread over
a year in three agencies of one province. Once the read models and the signed checkpoint have
caught up and the database has settled (VACUUM (ANALYZE), CHECKPOINT: `settle`), at each size,
one client (no concurrency: latency, not throughput) measures p50/p99 of:

- a single post (`POST /v1/dossiers/{code}/events`, a new dossier's Received);
- a batch (`POST /v1/events:batch` of `--measure-batch` new dossiers' Received events);
- a public lookup (`GET /v1/public/dossiers/{code}` with its secret);
- a dossier's history (`GET /v1/dossiers/{code}/history`);
- an inclusion proof (`GET /v1/audit/proofs/inclusion?code=…&version=1`);
- a province-wide report (`GET /v1/reports/timeliness` over the eleven months filled, no
  agency: every dossier of the province).

Prints the table (and how long filling and catching up took) and draws docs/scale.png
(matplotlib, `make bench-scale` installs it). Sizes: `--sizes 10k,1M,10M` (the default; 10M
takes an hour or more on two cores).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import msgspec
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from application.bootstrap import migrate
from bench.common import BenchDatabase, print_table, settle
from bench.ingest import start_server

PROVINCE = "000.00.00.H56"
AGENCIES = ("000.00.31.H56", "000.00.13.H56", "000.20.31.H56")
SECRET = "7KQ4M2"
START = datetime(2025, 12, 1, 1, 0, tzinfo=UTC)  # 08:00 in Hanoi
OPERATIONS = (
    "single post",
    "batch",
    "public lookup",
    "history",
    "inclusion proof",
    "province report",
)
PLOT = Path(__file__).resolve().parent.parent / "docs" / "scale.png"
ENCODER = msgspec.json.Encoder()


def parse_size(text: str) -> int:
    text = text.strip().lower()
    factor = {"k": 1_000, "m": 1_000_000}.get(text[-1:], 1)
    return int(float(text[:-1] if factor > 1 else text) * factor)


MEASURED = 5_000_000
"""Dossiers from this index on are the measured posts': received after the reported period
(which would otherwise count them as open at its end, more of them at each size)."""
REPORT = "/v1/reports/timeliness?from=2025-12-01&to=2026-10-31"


def day_of(index: int) -> int:
    return 340 if index >= MEASURED else index % 330


def code_of(index: int) -> str:
    received = START + timedelta(days=day_of(index))
    return f"{AGENCIES[index % len(AGENCIES)]}-{received:%y%m%d}-{index:07d}"


def dossier_events(index: int) -> list[dict[str, Any]]:
    """Received, transferred, resolved: three events a dossier (its index gives its code)."""
    code = code_of(index)
    received = START + timedelta(days=day_of(index), minutes=index % 300)
    channel = "online" if index % 3 else "in_person"

    def event(n: int, kind: str, at: datetime, data: dict[str, Any]) -> dict[str, Any]:
        return {
            "dossier_code": code,
            "event_id": f"s-{index}-{n}",
            "type": kind,
            "occurred_at": at.isoformat(),
            "actor": {"id": "cb-0042", "role": "officer"},
            "data": data,
        }

    return [
        event(1, "Received", received,
              {"procedure_code": "1.001757", "channel": channel, "lookup_secret": SECRET}),
        event(2, "Transferred", received + timedelta(hours=2), {"from_unit": "a", "to_unit": "b"}),
        event(3, "Resolved", received + timedelta(days=1 + index % 9),
              {"outcome": "approved", "electronic_result": index % 2 == 0}),
    ]  # fmt: skip


class Client:
    """One keep-alive HTTP connection to the server."""

    def __init__(self, port: int, token: str) -> None:
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        self.auth = {"Authorization": f"Bearer {token}"}

    def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, bytes]:
        sent = {**self.auth, **(headers or {})}
        if body is not None:
            sent["Content-Type"] = "application/json"
        try:
            self.connection.request(method, path, body=body, headers=sent)
            response = self.connection.getresponse()
        except (http.client.RemoteDisconnected, ConnectionError):  # idle past the keep-alive
            self.connection.close()
            self.connection.request(method, path, body=body, headers=sent)
            response = self.connection.getresponse()
        return response.status, response.read()

    def ok(self, method: str, path: str, body: bytes | None = None, **headers: str) -> bytes:
        """The answer of a 2xx; a 503 is retried as the contract says (events are idempotent)."""
        for _attempt in range(20):
            status, answer = self.request(method, path, body, headers)
            if status != 503:
                break
            time.sleep(1)
        if status >= 300:
            raise SystemExit(f"{method} {path}: {status} {answer[:300]!r}")
        return answer


def issue_key(env: dict[str, str], *arguments: str) -> str:
    ledger = Path(sys.executable).parent / "ledger"
    printed = subprocess.run(
        [str(ledger), "keys", "issue", *arguments], env=env, check=True, capture_output=True,
        text=True,
    ).stdout  # fmt: skip
    return printed.strip().splitlines()[-1]


def fill(port: int, token: str, first: int, last: int, batch: int, clients: int) -> float:
    """Post the events of dossiers first..last-1 in batches; the seconds it took."""
    per_batch = max(batch // 3, 1)
    starts = iter(range(first, last, per_batch))
    lock = threading.Lock()
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               TimeRemainingColumn())  # fmt: skip
    failures: list[BaseException] = []

    def work(bar: Progress, task: Any) -> None:
        client = Client(port, token)
        try:
            while True:
                with lock:
                    start = next(starts, None)
                if start is None:
                    return
                events = [
                    e for i in range(start, min(start + per_batch, last)) for e in dossier_events(i)
                ]
                answer = json.loads(
                    client.ok("POST", "/v1/events:batch", ENCODER.encode({"events": events}))
                )
                refused = [
                    r
                    for r in answer["results"]
                    if r.get("outcome") not in {"appended", "already_appended"}
                ]
                if refused:
                    raise SystemExit(f"refused: {refused[:2]}")
                bar.advance(task, len(events))
        except BaseException as error:
            failures.append(error)

    started = time.monotonic()
    with Progress(*columns) as bar:
        task = bar.add_task(f"appending {3 * (last - first):,} events", total=3 * (last - first))
        threads = [threading.Thread(target=work, args=(bar, task)) for _ in range(clients)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    if failures:
        raise failures[0]
    return time.monotonic() - started


def wait_until_caught_up(client: Client, events: int) -> tuple[float, int]:
    """Until the ledger holds `events` events, every read model has applied them and a signed
    checkpoint covers them; the seconds it took and the head then."""
    started = time.monotonic()
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               TimeRemainingColumn())  # fmt: skip
    with Progress(*columns) as bar:
        task = bar.add_task("projecting and checkpointing", total=None)
        while True:
            health = json.loads(client.ok("GET", "/health"))
            head = health["events"] or 0
            lags = [figures["lag"] or 0 for figures in health["projections"].values()]
            status, note = client.request("GET", "/v1/audit/checkpoint")
            size = int(note.decode().splitlines()[1]) if status == 200 else 0
            bar.update(
                task,
                total=head * (len(lags) + 1),
                completed=head * len(lags) - sum(lags) + min(size, head),
            )
            if head >= events and not any(lags) and size >= head:
                return time.monotonic() - started, head
            time.sleep(1)


@dataclass
class Figures:
    events: int
    p50: dict[str, float]
    p99: dict[str, float]


def timed(samples: int, request: Callable[[int], None]) -> list[float]:
    timings = []
    for n in range(samples):
        started = time.perf_counter()
        request(n)
        timings.append((time.perf_counter() - started) * 1000)
    return timings


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def measure(
    handler: Client, inspector: Client, public: Client, dossiers: int, fresh: Iterator[int],
    samples: int, measure_batch: int, events: int,
) -> Figures:  # fmt: skip
    rng = random.Random(events)
    codes = [code_of(rng.randrange(dossiers)) for _ in range(samples)]

    def single(_n: int) -> None:
        (received, *_rest) = dossier_events(next(fresh))
        code = received.pop("dossier_code")
        handler.ok("POST", f"/v1/dossiers/{code}/events", ENCODER.encode(received))

    def batch(_n: int) -> None:
        events = [dossier_events(next(fresh))[0] for _ in range(measure_batch)]
        handler.ok("POST", "/v1/events:batch", ENCODER.encode({"events": events}))

    operations: dict[str, Callable[[int], None]] = {
        "single post": single,
        "batch": batch,
        "public lookup": lambda n: public.ok(
            "GET", f"/v1/public/dossiers/{codes[n]}", **{"X-Lookup-Secret": SECRET}
        ),
        "history": lambda n: inspector.ok("GET", f"/v1/dossiers/{codes[n]}/history"),
        "inclusion proof": lambda n: inspector.ok(
            "GET", f"/v1/audit/proofs/inclusion?code={codes[n]}&version=1"
        ),
        "province report": lambda _n: inspector.ok("GET", REPORT),
    }
    p50, p99 = {}, {}
    for name in OPERATIONS:
        operations[name](0)  # warm: prepared statements, caches
        timings = timed(samples, operations[name])
        p50[name] = statistics.median(timings)
        p99[name] = percentile(timings, 0.99)
    return Figures(events, p50, p99)


def plot(figures: list[Figures], path: Path) -> None:
    import matplotlib  # noqa: PLC0415

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    sizes = [f.events for f in figures]
    figure, axes = plt.subplots(figsize=(8, 5), dpi=110)
    for index, name in enumerate(OPERATIONS):
        colour = f"C{index}"
        axes.plot(sizes, [f.p50[name] for f in figures], "o-", color=colour, label=f"{name} p50")
        axes.plot(sizes, [f.p99[name] for f in figures], "x--", color=colour, alpha=0.5)
    axes.set_xscale("log")
    axes.set_yscale("log")
    axes.set_xlabel("events in the ledger")
    axes.set_ylabel("milliseconds (solid: p50, dashed: p99)")
    axes.set_title("Costs by ledger size (one client, `make bench-scale`)")
    axes.grid(True, which="both", alpha=0.3)
    axes.legend(fontsize=8, loc="upper left")
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", default="10k,1M,10M", help="ledger sizes, e.g. 10k,1M,10M")
    parser.add_argument("--samples", type=int, default=200, help="requests per operation and size")
    parser.add_argument("--batch", type=int, default=999, help="events per batch when filling")
    parser.add_argument("--fill-clients", type=int, default=4)
    parser.add_argument("--measure-batch", type=int, default=100, help="events of a measured batch")
    parser.add_argument("--port", type=int, default=8767)
    parser.add_argument(
        "--workers", type=int, default=2,
        help="`ledger serve --workers`; beside it `ledger project` (1: serve --projections)",
    )  # fmt: skip
    parser.add_argument("--plot", type=Path, default=PLOT)
    parser.add_argument("--database-url", help="a PostgreSQL superuser URL (default: embedded)")
    args = parser.parse_args()
    sizes = sorted(parse_size(size) for size in args.sizes.split(","))

    with BenchDatabase(args.database_url, "scale") as bench_db:
        migrate(bench_db.url, "ledger_app")
        env = dict(os.environ, LEDGER_DATABASE_URL=bench_db.url, LEDGER_DATA_DIR=str(bench_db.data_dir),
                   LEDGER_PUBLIC_RATE_LIMIT_PER_MINUTE="0", LEDGER_DATABASE_TIMEOUT="10")  # fmt: skip
        handler_token = issue_key(env, "--role", "handler", "--agency", PROVINCE, "--name", "scale")
        inspector_token = issue_key(env, "--role", "inspector")
        # No lookup limit (one client address); a loaded machine's slow answers are not outages.
        os.environ.update(LEDGER_PUBLIC_RATE_LIMIT_PER_MINUTE="0", LEDGER_DATABASE_TIMEOUT="10")
        alone = args.workers == 1
        server = start_server(
            bench_db.url, bench_db.data_dir, args.port, args.workers, projections=alone
        )
        projector = None if alone else subprocess.Popen(
            [str(Path(sys.executable).parent / "ledger"), "project"], env=env
        )  # fmt: skip
        results: list[Figures] = []
        timings: list[tuple[int, float, float, float]] = []
        try:
            handler = Client(args.port, handler_token)
            inspector = Client(args.port, inspector_token)
            public = Client(args.port, "")
            fresh = iter(range(MEASURED, 10_000_000))  # the measured posts' own dossiers
            dossiers = posted = 0
            for size in sizes:
                target = max(size // 3, 1)
                fill_seconds = fill(
                    args.port, handler_token, dossiers, target, args.batch, args.fill_clients
                )
                posted += 3 * (target - dossiers)
                dossiers = target
                catch_up_seconds, events = wait_until_caught_up(inspector, posted)
                settle_seconds = settle(bench_db.url)
                timings.append((events, fill_seconds, catch_up_seconds, settle_seconds))
                results.append(measure(handler, inspector, public, dossiers, fresh, args.samples,
                                       args.measure_batch, events))  # fmt: skip
                posted += (args.samples + 1) * (1 + args.measure_batch)
                report(results, timings)
                plot(results, args.plot)
        finally:
            for process in (server, projector):
                if process is not None:
                    process.terminate()
                    process.wait(timeout=60)
    print(f"plot: {args.plot}")


def report(results: list[Figures], timings: list[tuple[int, float, float, float]]) -> None:
    rows = [
        (name, *(f"{f.p50[name]:.1f} / {f.p99[name]:.1f}" for f in results),
         f"{results[-1].p50[name] / results[0].p50[name]:.2f}")
        for name in OPERATIONS
    ]  # fmt: skip
    header = ("p50 / p99 ms", *(f"{f.events:,} events" for f in results), "p50 last/first")
    print_table([header, *rows])
    for events, fill_seconds, catch_up_seconds, settle_seconds in timings:
        print(f"{events:,} events: filled in {fill_seconds:.0f} s, read models and checkpoint "
              f"caught up {catch_up_seconds:.0f} s later, VACUUM (ANALYZE) and CHECKPOINT "
              f"{settle_seconds:.0f} s")  # fmt: skip


if __name__ == "__main__":
    main()
