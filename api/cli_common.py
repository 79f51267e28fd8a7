"""What every `ledger` subcommand shares: click settings, failing with a message, the settings,
and the one way into the database (migrated, checked) that every command but `serve` takes."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import click

from application.settings import Settings, SettingsError

if TYPE_CHECKING:
    from application.bootstrap import Database

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


def fail(message: str, code: int = 1) -> None:
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


def load_settings() -> Settings:
    try:
        return Settings.from_environ()
    except SettingsError as error:
        fail(str(error), 2)
        raise  # unreachable: fail exits


def open_database(settings: Settings | None = None) -> Database:
    """The ledger's database, migrated, as `Runtime.start` opens it for `serve` (an unreachable
    one exits with status 2)."""
    from application.bootstrap import prepare_database  # noqa: PLC0415
    from application.database import DatabaseUnavailable  # noqa: PLC0415

    try:
        return prepare_database(settings or load_settings())
    except DatabaseUnavailable as error:
        fail(str(error), 2)
        raise  # unreachable: fail exits
