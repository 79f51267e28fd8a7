"""The `ledger` command. Every subcommand reads the same LEDGER_* settings."""

from __future__ import annotations

import logging
import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import click

from api.cli_common import CONTEXT, composition, fail, load_settings, open_database

if TYPE_CHECKING:  # for annotations only: each command imports what it uses when it runs
    from application.keys import ApiKeys
    from domain.calendar import WorkCalendar


@click.group(context_settings=CONTEXT)
@click.option("-v", "--verbose", is_flag=True, help="Log more (INFO level).")
def main(verbose: bool) -> None:
    """The dossier ledger: an audit-grade, event-sourced ledger of administrative dossiers.

    Settings come from LEDGER_* environment variables: LEDGER_DATABASE_URL (unset: the
    embedded PostgreSQL in LEDGER_DATA_DIR), LEDGER_PROCEDURES_FILE, LEDGER_CALENDAR_FILE,
    LEDGER_SUPPLEMENT_POLICY (restart|extend), LEDGER_SIGNING_KEY, ...
    """
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


@main.command(context_settings=CONTEXT)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=int, help="Port to listen on.")
@click.option(
    "--projections/--no-projections",
    default=False,
    show_default=True,
    help="Also run the projections in this process (the embedded default does).",
)
@click.option(
    "--workers",
    default=1,
    show_default=True,
    type=click.IntRange(min=1),
    help="API processes (each with its own ingest writer); projections need --workers 1.",
)
def serve(host: str, port: int, projections: bool, workers: int) -> None:
    """Serve the HTTP API (handling systems, inspectors, the public)."""
    import uvicorn  # noqa: PLC0415

    from api.app import create_app  # noqa: PLC0415
    from api.http_protocol import CoalescingHttpToolsProtocol  # noqa: PLC0415

    settings = load_settings()
    # uvicorn shuts down gracefully on SIGTERM, then raises the signal again: make that an
    # ordinary exit, so the embedded PostgreSQL is stopped by its exit handler.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    if projections and workers > 1:
        fail("--projections runs in one process: use --workers 1, or run `ledger project`", 2)
    if settings.embedded:
        # Start the embedded server (and migrate) once, before the workers share it; a
        # restored data directory is checked against its signed checkpoint first.
        from api.cli_backup import check_restored  # noqa: PLC0415

        open_database(composition(settings))
        restored_ok, lines = check_restored(settings)
        for line in lines:
            click.echo(line, err=True)
        if not restored_ok:
            fail("the restored ledger does not match its backup's signed checkpoint", 1)
    click.echo(_addresses(host, port))
    # uvicorn believes X-Forwarded-For from 127.0.0.1 unless told otherwise: "" believes nobody.
    proxies = ",".join(settings.trusted_proxies)
    if workers == 1:
        app = create_app(settings, run_projections=projections)
        uvicorn.run(
            app,
            host=host,
            port=port,
            log_level="warning",
            access_log=False,
            forwarded_allow_ips=proxies,
            http=CoalescingHttpToolsProtocol,
        )
    else:
        from api.workers import serve_workers  # noqa: PLC0415

        try:
            status = serve_workers(host, port, workers, proxies)
        except OSError as error:
            fail(f"cannot listen on {host}:{port}: {error}", 1)
        sys.exit(status)


def _addresses(host: str, port: int) -> str:
    shown_host = f"[{host}]" if ":" in host else host
    base = f"http://{shown_host}:{port}"
    return "\n".join(
        (
            f"ledger: listening on {base}",
            f"  public lookup      {base}/",
            f"  inspectors         {base}/inspect   (sign in with an inspector or admin key:"
            " ledger keys issue --role inspector)",
            f"  dashboard          {base}/dashboard",
            f"  API (OpenAPI)      {base}/schema",
        )
    )


@main.command(context_settings=CONTEXT)
@click.option("--dossiers", default=2400, show_default=True, help="How many dossiers to generate.")
@click.option("--seed", default=2026, show_default=True, help="Random seed (same seed, same data).")
@click.option(
    "--once/--always",
    default=True,
    show_default=True,
    help="--once skips loading when the demo data is already in the ledger.",
)
@click.option(
    "--pages",
    "pages_url",
    default=None,
    help="The pages' address (http://HOST:PORT): show each sample dossier's lookup link.",
)
def demo(dossiers: int, seed: int, once: bool, pages_url: str | None) -> None:
    """Load realistic demo dossiers through the normal write path.

    Prints a few sample dossiers with their lookup secrets, every time (the demo's secrets are
    derived from the codes, so they can be shown again).
    """
    from application.demo import load_demo  # noqa: PLC0415
    from application.runtime import Runtime  # noqa: PLC0415

    runtime = Runtime.start(load_settings())
    try:
        report = load_demo(runtime, dossiers=dossiers, seed=seed, once=once, progress=True)
    finally:
        runtime.close()
    report.pages_url = None if pages_url is None else pages_url.rstrip("/")
    click.echo(report)


@main.group(context_settings=CONTEXT)
def keys() -> None:
    """Issue, revoke and list API keys."""


@keys.command("issue", context_settings=CONTEXT)
@click.option(
    "--role",
    required=True,
    type=click.Choice(["handler", "inspector", "admin"]),
    help="handler posts events for its agencies; inspector reads everything; admin does all.",
)
@click.option(
    "--agency",
    "agencies",
    multiple=True,
    help=(
        "An agency code (QCVN 102:2016, e.g. 000.00.31.H56): the handler posts for its dossiers"
        " and those of the agencies below it (zero levels: 000.00.00.H56 is all of H56);"
        " repeatable."
    ),
)
@click.option(
    "--name", default="", help="A name for the key (the calling system), shown as source."
)
def keys_issue(role: str, agencies: tuple[str, ...], name: str) -> None:
    """Issue a new key. The key is printed once, alone on the last line."""
    from application.keys import KeyError_, Role  # noqa: PLC0415

    with _key_store() as store:
        try:
            key, token = store.issue(Role(role), agencies, name)
        except KeyError_ as error:
            fail(str(error), 2)
    click.echo(
        f"issued key {key.key_id} ({key.name}, role {key.role.value}"
        + (f", agencies {', '.join(key.agencies)}" if key.agencies else "")
        + ")"
    )
    click.echo("store it now: it is not shown again")
    click.echo(token)


@keys.command("revoke", context_settings=CONTEXT)
@click.argument("key_id")
def keys_revoke(key_id: str) -> None:
    """Revoke the key KEY_ID (as shown by `ledger keys list`)."""
    from application.keys import KeyError_  # noqa: PLC0415

    with _key_store() as store:
        try:
            key = store.revoke(key_id)
        except KeyError_ as error:
            fail(str(error), 2)
    click.echo(f"revoked key {key.key_id} ({key.name})")


@keys.command("list", context_settings=CONTEXT)
def keys_list() -> None:
    """List keys (never the keys themselves: they are stored only as digests)."""
    with _key_store() as store:
        rows = store.list()
    click.echo(f"{'KEY ID':<10} {'ROLE':<10} {'STATE':<8} {'NAME':<24} AGENCIES")
    for key in rows:
        state = "revoked" if key.revoked_at else "active"
        agencies = ", ".join(key.agencies)
        click.echo(f"{key.key_id:<10} {key.role.value:<10} {state:<8} {key.name:<24} {agencies}")


@contextmanager
def _key_store() -> Iterator[ApiKeys]:
    parts = composition()
    open_database(parts)
    ledger = parts.ledger(pool_size=1)
    try:
        yield parts.keys(ledger)
    finally:
        ledger.close()


@main.group(context_settings=CONTEXT)
def calendar() -> None:
    """Working days and due dates of Vietnam's calendar.

    The calendar is the `holidays` package, then the days off and working days decreed after
    its release (shipped with the ledger, each with its legal source), then the operator's file
    (--calendar, else LEDGER_CALENDAR_FILE), which wins.
    """


CALENDAR_OPTION = click.option(
    "--calendar",
    "calendar_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A TOML or JSON file of overrides (default: LEDGER_CALENDAR_FILE).",
)


@calendar.command("due-date", context_settings=CONTEXT)
@click.option("--received", required=True, help="When the dossier was received (ISO 8601 instant).")
@click.option("--working-days", type=click.IntRange(min=0), help="Processing time in working days.")
@click.option(
    "--working-hours", type=click.IntRange(min=0), help="Processing time in working hours."
)
@CALENDAR_OPTION
def calendar_due_date(
    received: str, working_days: int | None, working_hours: int | None, calendar_file: Path | None
) -> None:
    """Print the due instant (ISO 8601, +07:00) of a processing time in working days or hours.

    Give exactly one of --working-days and --working-hours. A time without an offset is local
    (Asia/Ho_Chi_Minh).
    """
    from domain.calendar import LOCAL_TZ  # noqa: PLC0415

    if (working_days is None) == (working_hours is None):
        fail("give exactly one of --working-days and --working-hours", 2)
    try:
        instant = datetime.fromisoformat(received)
    except ValueError:
        fail(f"--received: {received!r} is not an ISO 8601 instant", 2)
        raise
    if instant.tzinfo is None:
        instant = instant.replace(tzinfo=LOCAL_TZ)  # a local time, as people write them
    work_calendar = _calendar(calendar_file)
    if working_days is not None:
        due = work_calendar.add_working_days(instant, working_days)
    else:
        assert working_hours is not None
        due = work_calendar.add_working_time(instant, timedelta(hours=working_hours))
    click.echo(due.astimezone(LOCAL_TZ).isoformat())


@calendar.command("working-day", context_settings=CONTEXT)
@click.argument("day")
@CALENDAR_OPTION
def calendar_working_day(day: str, calendar_file: Path | None) -> None:
    """Print `yes` if DAY (YYYY-MM-DD) is a working day, else `no`."""
    try:
        parsed = date.fromisoformat(day)
    except ValueError:
        fail(f"DAY: {day!r} is not a date (YYYY-MM-DD)", 2)
        raise
    click.echo("yes" if _calendar(calendar_file).is_working_day(parsed) else "no")


@calendar.command("year", context_settings=CONTEXT)
@click.argument("year", type=click.IntRange(2000, 2100))
@CALENDAR_OPTION
def calendar_year(year: int, calendar_file: Path | None) -> None:
    """List YEAR's days off and extra working days, each with where it comes from.

    One line a day: the date, the weekday, `day off` or `working day`, its name, and its source
    (`holidays` and its version, the decree or letter that changed it, or the operator's file).
    """
    for entry in _calendar(calendar_file).days_of_note(year):
        kind = "working day" if entry.working else "day off"
        click.echo(
            f"{entry.day.isoformat()} {entry.day:%a} {kind:<11}  {entry.name}  [{entry.source}]"
        )


def _calendar(path: Path | None) -> WorkCalendar:
    from application.catalogue import load_calendar  # noqa: PLC0415

    chosen = path or load_settings().calendar_file
    try:
        return load_calendar(chosen)
    except (ValueError, OSError) as error:
        fail(f"calendar file: {error}", 2)
        raise


def _register_commands() -> None:
    """Commands kept in modules of their own (they import this module's helpers)."""
    from api.cli_audit import audit, export, verify  # noqa: PLC0415
    from api.cli_backup import backup, restore  # noqa: PLC0415
    from api.cli_projections import project, rebuild  # noqa: PLC0415
    from api.cli_witness import witness  # noqa: PLC0415

    for command in (project, rebuild, verify, export, audit, witness, backup, restore):
        main.add_command(command)


_register_commands()


if __name__ == "__main__":
    main()
