"""`ledger project` and `ledger rebuild NAME`: running and rebuilding the read models.

Registered on the `ledger` group in api/cli.py. The read models load only when a command runs.
"""

from __future__ import annotations

import signal
import threading
import time
from types import FrameType
from typing import TYPE_CHECKING

import click

from api.cli_common import CONTEXT, composition, fail, load_rules, open_database
from projections.names import ALL, DEFAULT_PAGE_SIZE

if TYPE_CHECKING:
    from application.runtime import Composition
    from projections.registry import ReadModels

REPORT_EVERY_SECONDS = 5.0

BATCH_OPTION = click.option(
    "--batch",
    default=DEFAULT_PAGE_SIZE,
    show_default=True,
    type=click.IntRange(min=1),
    help="Events applied per transaction.",
)


def _prepare() -> Composition:
    """The rules loaded and the database migrated, as `serve` has them (no monitor, no writer)."""
    parts = composition()
    load_rules(parts)
    open_database(parts)
    return parts


@click.command("project", context_settings=CONTEXT)
@click.option(
    "-v", "--verbose", is_flag=True, help="Print each read model's position now and then."
)
@BATCH_OPTION
def project(verbose: bool, batch: int) -> None:
    """Keep every read model up to date, until interrupted (SIGINT or SIGTERM).

    Each read model is projected by a process of its own; one that exits is restarted.
    """
    from projections.registry import open_read_models  # noqa: PLC0415
    from projections.supervisor import Supervisor  # noqa: PLC0415

    parts = _prepare()  # a broken rules file fails here, not in every worker
    database = parts.database
    models = open_read_models(database, pool_size=1)  # creates the tables before the workers
    ledger = parts.ledger(pool_size=1)
    stopping = threading.Event()

    def request_stop(_signal: int, _frame: FrameType | None) -> None:
        stopping.set()

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    supervisor = Supervisor(database.url, page_size=batch)
    supervisor.start()
    last_report = time.monotonic()
    try:
        while not stopping.wait(1.0):
            supervisor.check()
            if verbose and time.monotonic() - last_report >= REPORT_EVERY_SECONDS:
                last_report = time.monotonic()
                click.echo(_positions(ledger.recorder.max_notification_id() or 0, models))
    finally:
        supervisor.stop()
        models.close()
        ledger.close()


def _positions(head: int, models: ReadModels) -> str:
    from projections.registry import lags  # noqa: PLC0415

    behind = lags(head, models.by_name())
    return f"head {head}: " + ", ".join(f"{name} {head - lag}" for name, lag in behind.items())


@click.command("rebuild", context_settings=CONTEXT)
@click.argument("name", type=click.Choice(ALL))
@BATCH_OPTION
def rebuild(name: str, batch: int) -> None:
    """Rebuild the read model NAME from zero into new tables, then swap them in.

    The old tables keep serving reads until the swap, which is atomic.
    """
    from rich.console import Console  # noqa: PLC0415
    from rich.progress import (  # noqa: PLC0415
        BarColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    from application.runtime import tune_garbage_collection  # noqa: PLC0415
    from projections.rebuild import RebuildInProgressError  # noqa: PLC0415
    from projections.rebuild import rebuild as rebuild_read_model  # noqa: PLC0415

    parts = _prepare()
    tune_garbage_collection()  # as the projectors do
    columns = (
        TextColumn("{task.description}"),
        BarColumn(bar_width=24),
        # Positions are notification ids: as many as the events, but for the ids rolled-back
        # appends left unused.
        TextColumn("{task.fields[done]}"),
        TimeRemainingColumn(),
    )
    with Progress(*columns, transient=True, console=Console(stderr=True)) as bar:
        task = bar.add_task(f"rebuilding {name}", total=None, done="")
        started = time.monotonic()

        def progress(position: int, head: int) -> None:
            elapsed = time.monotonic() - started
            done = f"{position:,}/{head:,} events, {position / max(elapsed, 1e-6):,.0f} events/s"
            bar.update(task, completed=position, total=head, done=done)

        try:
            rebuilt = rebuild_read_model(
                parts.database,
                parts.rules,
                name,
                page_size=batch,
                progress=progress,
                freeze_after_page=True,
            )
        except RebuildInProgressError as error:
            fail(str(error))
            raise  # unreachable: fail exits
    click.echo(f"rebuilt {name} from {rebuilt.events} events up to position {rebuilt.position}")
