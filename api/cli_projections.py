"""`ledger project` and `ledger rebuild NAME`: running and rebuilding the read models.

Registered on the `ledger` group in api/cli.py. The read models load only when a command runs.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Sequence
from types import FrameType
from typing import TYPE_CHECKING

import click

from api.cli import CONTEXT, fail, load_settings
from projections.names import ALL, DEFAULT_PAGE_SIZE

if TYPE_CHECKING:
    from application.bootstrap import Database
    from domain.commands import Rules
    from projections.runner import ProjectionRunner

REPORT_EVERY_SECONDS = 5.0

BATCH_OPTION = click.option(
    "--batch",
    default=DEFAULT_PAGE_SIZE,
    show_default=True,
    type=click.IntRange(min=1),
    help="Events applied per transaction.",
)


def _prepare() -> tuple[Database, Rules]:
    from application.bootstrap import prepare_database  # noqa: PLC0415
    from application.catalogue import DataFileError  # noqa: PLC0415
    from application.database import DatabaseUnavailable  # noqa: PLC0415
    from application.runtime import load_rules  # noqa: PLC0415

    settings = load_settings()
    try:
        rules = load_rules(settings)
        database = prepare_database(settings)
    except (DataFileError, DatabaseUnavailable) as error:
        fail(str(error), 2)
        raise  # unreachable: fail exits
    return database, rules


@click.command("project", context_settings=CONTEXT)
@click.option(
    "-v", "--verbose", is_flag=True, help="Print each read model's position now and then."
)
@BATCH_OPTION
def project(verbose: bool, batch: int) -> None:
    """Keep every read model up to date, until interrupted (SIGINT or SIGTERM)."""
    from projections.registry import start_projections  # noqa: PLC0415

    database, rules = _prepare()
    stopping = threading.Event()

    def request_stop(_signal: int, _frame: FrameType | None) -> None:
        stopping.set()

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    runners = start_projections(database, rules, page_size=batch)
    try:
        while not stopping.wait(REPORT_EVERY_SECONDS):
            if verbose:
                click.echo(_positions(runners))
    finally:
        for runner in runners:
            runner.stop()
    if verbose:
        click.echo("stopped: " + _positions(runners, with_head=False))


def _positions(runners: Sequence[ProjectionRunner], *, with_head: bool = True) -> str:
    figures = ", ".join(f"{runner.name} {runner.position()}" for runner in runners)
    if not with_head or not runners:
        return figures
    head = runners[0].ledger.recorder.max_notification_id() or 0
    return f"head {head}: {figures}"


@click.command("rebuild", context_settings=CONTEXT)
@click.argument("name", type=click.Choice(ALL))
@BATCH_OPTION
def rebuild(name: str, batch: int) -> None:
    """Rebuild the read model NAME from zero into new tables, then swap them in.

    The old tables keep serving reads until the swap, which is atomic.
    """
    from rich.progress import Progress  # noqa: PLC0415

    from projections.rebuild import RebuildInProgressError  # noqa: PLC0415
    from projections.rebuild import rebuild as rebuild_read_model  # noqa: PLC0415

    database, rules = _prepare()
    with Progress(transient=True) as bar:
        task = bar.add_task(f"rebuilding {name}", total=None)

        def progress(position: int, head: int) -> None:
            bar.update(task, completed=position, total=head)

        try:
            rebuilt = rebuild_read_model(database, rules, name, page_size=batch, progress=progress)
        except RebuildInProgressError as error:
            fail(str(error))
            raise  # unreachable: fail exits
    click.echo(f"rebuilt {name} from {rebuilt.events} events up to position {rebuilt.position}")
