"""What every `ledger` subcommand shares: click settings, failing with a message, the settings,
and the composition root (application.runtime.Composition) each command builds what it needs
with, as `serve` builds its runtime."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import click

from application.settings import Settings, SettingsError

if TYPE_CHECKING:
    from application.bootstrap import Database
    from application.runtime import Composition
    from domain.commands import Rules

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


def composition(settings: Settings | None = None) -> Composition:
    """This command's composition root, over the LEDGER_* settings (or these)."""
    from application.runtime import Composition  # noqa: PLC0415

    return Composition(settings or load_settings())


def open_database(parts: Composition | None = None) -> Database:
    """The ledger's database, migrated, as `Runtime.start` opens it for `serve` (an unreachable
    one exits with status 2)."""
    from application.database import DatabaseUnavailable  # noqa: PLC0415

    try:
        return (parts or composition()).database
    except DatabaseUnavailable as error:
        fail(str(error), 2)
        raise  # unreachable: fail exits


def load_rules(parts: Composition) -> Rules:
    """The procedures, the calendar and the supplement policy (a broken data file exits with
    status 2)."""
    from application.catalogue import DataFileError  # noqa: PLC0415

    try:
        return parts.rules
    except DataFileError as error:
        fail(str(error), 2)
        raise  # unreachable: fail exits
