"""Projection catch-up: every read model from zero over the same ledger, one after the other.

The ledger holds --events events of one workload, appended through the write path:

- `plain`: the queries benchmark's dossiers (bench/queries.py): Received (1.001757, whose
  internal procedure's first step begins then), a handover that names no step, Resolved;
- `steps`: the same procedure through its internal procedure: Received, three handovers that
  begin tham-dinh, phe-duyet and tra-ket-qua, Resolved (every event acts on a step).

Then, in the same run and against the same database: bare psycopg reading the events table in
pages of 10,000 (the baseline), each read model caught up from zero into tables of its own by
the projection runner (pages of 10,000, as `ledger project` reads by default), and all of them
together by one runner (one reader that decodes each page once for all, as `ledger serve
--projections` runs them). For each: the wall time, the CPU time of this process and of the
PostgreSQL server, and the events per second (together: the events times the read models, per
second). The read models before the steps one are today's; the last lines say what the steps
model adds to them.
bench/queries.py prints the same figures (`catch_up_figures`) beside its read-side ones.

Run with `make bench` (or `.venv/bin/python bench/catch_up.py --help`).
"""

from __future__ import annotations

import argparse
import gc
import os
import resource
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
from psycopg.sql import SQL
from rich.progress import Progress

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from application.bootstrap import Database, migrate, open_ledger
from application.runtime import Runtime, tune_garbage_collection
from application.settings import Settings
from application.writer import Submission
from bench.common import BenchDatabase, cpu_seconds, print_table
from domain.code import DossierCode
from domain.commands import (
    Actor,
    Channel,
    EventCommand,
    Outcome,
    ReceivedData,
    ResolvedData,
    Rules,
    TransferredData,
)
from domain.status import EventType
from projections.names import DEFAULT_PAGE_SIZE
from projections.registry import READ_MODELS, open_read_model_view
from projections.runner import ProjectionRunner

AGENCIES = ("000.00.31.H56", "000.00.13.H56", "000.20.31.H56")
START = datetime(2025, 12, 1, 1, 0, tzinfo=UTC)  # 08:00 in Hanoi
PAGE = DEFAULT_PAGE_SIZE
STEPS_MODEL = "steps"


def command(code: str, n: int, event_type: EventType, at: datetime, data: object) -> Submission:
    return Submission(
        DossierCode.parse(code),
        EventCommand(
            event_id=f"c-{code}-{n}",
            type=event_type,
            occurred_at=at,
            actor=Actor("cb-0042", "officer"),
            source="bench",
            data=data,  # type: ignore[arg-type]
            fingerprint=f"bench-{code}-{n}",
        ),
    )


def plain_dossier(index: int, digest: str) -> list[Submission]:
    """bench/queries.py's dossier: Received, a handover naming no step, Resolved."""
    agency = AGENCIES[index % len(AGENCIES)]
    received = START + timedelta(days=index % 330, minutes=index % 300)
    code = f"{agency}-{received:%y%m%d}-{index:07d}"
    channel = Channel.ONLINE if index % 3 else Channel.IN_PERSON
    resolved = ResolvedData(Outcome.APPROVED, electronic_result=index % 2 == 0)
    return [
        command(code, 1, EventType.RECEIVED, received, ReceivedData("1.001757", channel, digest)),
        command(code, 2, EventType.TRANSFERRED, received + timedelta(hours=2), TransferredData("a", "b")),
        command(code, 3, EventType.RESOLVED, received + timedelta(days=1 + index % 9), resolved),
    ]  # fmt: skip


def steps_dossier(index: int, digest: str) -> list[Submission]:
    """Through 1.001757's internal procedure: Received, three steps handed over, Resolved."""
    agency = AGENCIES[index % len(AGENCIES)]
    received = START + timedelta(days=index % 330, minutes=index % 300)
    code = f"{agency}-{received:%y%m%d}-{index:07d}"
    appraised = received + timedelta(days=1 + index % 5)
    handovers = [
        (received + timedelta(hours=2), TransferredData("bo-phan-mot-cua", "phong-quan-ly-van-tai", "tham-dinh")),
        (appraised, TransferredData("phong-quan-ly-van-tai", "lanh-dao-so", "phe-duyet")),
        (appraised + timedelta(hours=20), TransferredData("lanh-dao-so", "bo-phan-mot-cua", "tra-ket-qua")),
    ]  # fmt: skip
    found = [command(code, 1, EventType.RECEIVED, received, ReceivedData("1.001757", Channel.ONLINE, digest))]  # fmt: skip
    for n, (at, data) in enumerate(handovers, start=2):
        found.append(command(code, n, EventType.TRANSFERRED, at, data))
    resolved = ResolvedData(Outcome.APPROVED, electronic_result=True)
    found.append(command(code, 5, EventType.RESOLVED, appraised + timedelta(hours=26), resolved))
    return found


WORKLOADS: dict[str, Callable[[int, str], list[Submission]]] = {
    "plain": plain_dossier,
    "steps": steps_dossier,
}


def load(runtime: Runtime, workload: str, events: int) -> int:
    make = WORKLOADS[workload]
    digest = runtime.secrets.digest("7KQ4M2")
    per_dossier = len(make(0, digest))
    dossiers = events // per_dossier
    with Progress(transient=True) as bar:
        task = bar.add_task(f"appending {dossiers * per_dossier:,} events", total=dossiers)
        batch: list[Submission] = []
        for index in range(dossiers):
            batch.extend(make(index, digest))
            if len(batch) >= 1500 or index == dossiers - 1:
                runtime.writer.append(batch, timeout=300)
                bar.advance(task, len(batch) // per_dossier)
                batch = []
    return runtime.ledger.recorder.max_notification_id() or 0


class ServerClock:
    """The CPU time of the PostgreSQL server: its postmaster, the children it has waited for,
    and the children alive (Linux /proc)."""

    def __init__(self, url: str) -> None:
        with psycopg.connect(url) as connection:
            row = connection.execute("SELECT pg_backend_pid()").fetchone()
            assert row is not None
            self.postmaster = _stat(int(row[0]))[1]  # while the backend lives
        self.tick = os.sysconf("SC_CLK_TCK")

    def seconds(self) -> float:
        fields, _parent = _stat(self.postmaster)
        total = sum(int(fields[i]) for i in (11, 12, 13, 14))
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    child, parent = _stat(int(entry))
                except OSError:
                    continue
                if parent == self.postmaster:
                    total += int(child[11]) + int(child[12])
        return total / self.tick


def _stat(pid: int) -> tuple[list[str], int]:
    """/proc/PID/stat's fields after the command name, and the parent's pid."""
    text = Path(f"/proc/{pid}/stat").read_text()
    fields = text[text.rindex(")") + 2 :].split()
    return fields, int(fields[1])


@dataclass
class Figure:
    wall: float
    cpu: float
    server: float


def measured(server: ServerClock, work: Callable[[], None]) -> Figure:
    started, cpu, server_cpu = time.monotonic(), cpu_seconds(resource.RUSAGE_SELF), server.seconds()
    work()
    return Figure(
        time.monotonic() - started,
        cpu_seconds(resource.RUSAGE_SELF) - cpu,
        server.seconds() - server_cpu,
    )


def read_events(url: str, page_size: int = PAGE) -> None:
    """The baseline: every event's stored record, in pages, as the runner reads them."""
    with psycopg.connect(url) as connection:
        after = 0
        while True:
            rows = connection.execute(
                "SELECT notification_id, originator_id, originator_version, topic, state"
                " FROM ledger_events WHERE notification_id > %s ORDER BY notification_id"
                " LIMIT %s",
                (after, page_size),
                prepare=True,
            ).fetchall()
            if not rows:
                return
            after = rows[-1][0]


def caught_up(
    server: ServerClock,
    database: Database,
    rules: Rules,
    names: Sequence[str],
    suffix: str,
    head: int,
    page_size: int = PAGE,
    freeze_after_page: bool = True,
) -> Figure:
    """The read models `names` caught up from zero into tables of their own (`{name}{suffix}`)
    by one runner, as `ledger project`'s workers run them: one reader that decodes each page
    once for all of them, what a page leaves alive frozen out of the collector's reach (unless
    `freeze_after_page` is False). The tables are opened before the measure and dropped after
    it."""
    views = [open_read_model_view(database, name, tables=name + suffix) for name in names]
    ledger = open_ledger(database, pool_size=1)
    runner = ProjectionRunner(
        [
            READ_MODELS[n].projection_class(view, rules.calendar)
            for n, view in zip(names, views, strict=True)
        ],
        ledger,
        page_size=page_size,
        freeze_after_page=freeze_after_page,
    )
    try:
        figure = measured(server, lambda: runner.catch_up(head))
        assert runner.position() == head, f"{runner.name} stopped at {runner.position()}"
    finally:
        ledger.close()
        for view in views:
            with view.datastore.transaction(commit=True) as cursor:
                for table in view.table_names:
                    cursor.execute(SQL("DROP TABLE IF EXISTS {}").format(view.qualified(table)))
            view.datastore.close()
    return figure


@dataclass
class CatchUp:
    """Median figures of each read model caught up alone and of all of them together."""

    head: int
    alone: dict[str, Figure]
    together: Figure
    baseline: Figure

    def rate(self, name: str) -> float:
        return self.head / self.alone[name].wall

    @property
    def together_rate(self) -> float:
        """Events applied per second, all read models counted (the head times their number)."""
        return self.head * len(self.alone) / self.together.wall


def catch_up_figures(
    url: str,
    database: Database,
    rules: Rules,
    head: int,
    *,
    rounds: int = 1,
    page_size: int = PAGE,
    freeze_after_page: bool = True,
) -> CatchUp:
    """Bare psycopg reading the events, each read model alone, then all of them together,
    `rounds` times each (the median), in pages of `page_size` events."""
    freeze = freeze_after_page
    server = ServerClock(url)
    runs: dict[str, list[Figure]] = {}
    for number in range(rounds):
        runs.setdefault("bare psycopg", []).append(
            measured(server, lambda: read_events(url, page_size))
        )
        for name in READ_MODELS:
            runs.setdefault(name, []).append(
                caught_up(
                    server, database, rules, [name], f"__bench{number}", head, page_size, freeze
                )
            )
        runs.setdefault("together", []).append(
            caught_up(
                server,
                database,
                rules,
                list(READ_MODELS),
                f"__bench{number}",
                head,
                page_size,
                freeze,
            )
        )
    median = {
        name: Figure(*(statistics.median(getattr(f, k) for f in figures) for k in ("wall", "cpu", "server")))
        for name, figures in runs.items()
    }  # fmt: skip
    baseline, together = median.pop("bare psycopg"), median.pop("together")
    return CatchUp(head, median, together, baseline)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=300_000, help="events in the ledger")
    parser.add_argument("--workload", choices=sorted(WORKLOADS), default="plain")
    parser.add_argument("--rounds", type=int, default=3, help="catch-ups of each (median)")
    parser.add_argument(
        "--page", type=int, default=PAGE, help="events per page (the projectors' default)"
    )
    parser.add_argument(
        "--gc",
        choices=("default", "tuned", "off"),
        default="tuned",
        help="Python's garbage collector while catching up: as `ledger project`'s workers tune "
        "it (application.runtime.tune_garbage_collection, and what a page leaves alive frozen "
        "out of its reach), Python's defaults, or off",
    )
    parser.add_argument("--database-url", help="a PostgreSQL superuser URL (default: embedded)")
    args = parser.parse_args()

    with BenchDatabase(args.database_url, "catch_up") as bench_db:
        migrate(bench_db.url, "ledger_app")
        settings = Settings(
            database_url=bench_db.url, data_dir=bench_db.data_dir, writer_batch_events=3000
        )
        runtime = Runtime.start(settings)
        try:
            head = load(runtime, args.workload, args.events)
        finally:
            runtime.close()
        # As in a projector's own process: the writer's dossiers are not in this one's memory.
        database, rules = runtime.database, runtime.rules
        del runtime
        gc.collect()
        if args.gc == "tuned":
            tune_garbage_collection()
        elif args.gc == "off":
            gc.disable()
        figures = catch_up_figures(
            bench_db.url,
            database,
            rules,
            head,
            rounds=args.rounds,
            page_size=args.page,
            freeze_after_page=args.gc == "tuned",
        )
    print(
        f"PostgreSQL {bench_db.server_version}; {head:,} events ({args.workload}); each read "
        f"model caught up from zero {args.rounds} times (median) in pages of {args.page:,}; "
        f"garbage collector {args.gc}"
    )
    rows = [("", "wall s", "process CPU s", "server CPU s", "events/s")]
    for name, figure in (("bare psycopg", figures.baseline), *figures.alone.items()):
        rows.append((name, f"{figure.wall:.2f}", f"{figure.cpu:.2f}", f"{figure.server:.2f}",
                     f"{head / figure.wall:,.0f}"))  # fmt: skip
    today = [figure for name, figure in figures.alone.items() if name != STEPS_MODEL]
    totals = Figure(*(sum(getattr(f, k) for f in today) for k in ("wall", "cpu", "server")))
    rows.append(("today's read models, one after the other", f"{totals.wall:.2f}",
                 f"{totals.cpu:.2f}", f"{totals.server:.2f}", ""))  # fmt: skip
    together = figures.together
    rows.append((f"all {len(figures.alone)} together, one reader", f"{together.wall:.2f}",
                 f"{together.cpu:.2f}", f"{together.server:.2f}",
                 f"{figures.together_rate:,.0f}"))  # fmt: skip
    print_table(rows)
    base = figures.baseline
    print(f"today's read models / bare psycopg (wall) = {totals.wall / base.wall:.1f}")
    if STEPS_MODEL in figures.alone:
        steps = figures.alone[STEPS_MODEL]
        for label, key in (("wall", "wall"), ("process CPU", "cpu"), ("server CPU", "server")):
            ratio = (getattr(totals, key) + getattr(steps, key)) / getattr(totals, key)
            print(f"with the steps model / today's ({label}) = {ratio:.3f}")


if __name__ == "__main__":
    main()
