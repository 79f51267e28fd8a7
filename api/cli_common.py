"""What every `ledger` subcommand shares: click settings, failing with a message, the settings."""

from __future__ import annotations

import sys

import click

from application.settings import Settings, SettingsError

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
