"""The `ledger` command as operators use it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from api.cli import main
from application.bootstrap import Database


def every_command(group: click.Group, prefix: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    for name, command in group.commands.items():
        yield (*prefix, name)
        if isinstance(command, click.Group):
            yield from every_command(command, (*prefix, name))


@pytest.mark.parametrize("path", [(), *every_command(main)], ids=lambda p: " ".join(p) or "ledger")
def test_every_command_has_help(path: tuple[str, ...]) -> None:
    result = CliRunner().invoke(main, [*path, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage:" in result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) >= 3  # usage, a description, options


def test_due_date_prints_one_iso_line_in_local_time() -> None:
    """Friday before Tết 2026, 10:00, 5 working days: 5 h that day, the Tết week off, then
    8 h a day: due Friday 27 February at 10:00."""
    result = CliRunner().invoke(
        main,
        ["calendar", "due-date", "--received", "2026-02-13T10:00:00+07:00", "--working-days", "5"],
    )
    assert result.exit_code == 0, result.output
    assert result.output == "2026-02-27T10:00:00+07:00\n"


def test_working_day_answers_yes_or_no_and_reads_overrides(tmp_path: Path) -> None:
    runner = CliRunner()
    assert runner.invoke(main, ["calendar", "working-day", "2025-04-26"]).output == "yes\n"
    assert runner.invoke(main, ["calendar", "working-day", "2026-02-17"]).output == "no\n"
    overrides = tmp_path / "calendar.toml"
    overrides.write_text('days_off = ["2026-02-27"]\nworking_days = ["2026-02-28"]\n')
    day_off = runner.invoke(
        main, ["calendar", "working-day", "2026-02-27", "--calendar", str(overrides)]
    )
    assert day_off.output == "no\n"
    saturday = runner.invoke(
        main, ["calendar", "working-day", "2026-02-28", "--calendar", str(overrides)]
    )
    assert saturday.output == "yes\n"
    moved = runner.invoke(
        main,
        ["calendar", "due-date", "--received", "2026-02-13T10:00:00+07:00", "--working-days", "5",
         "--calendar", str(overrides)],
    )  # fmt: skip
    assert moved.output == "2026-02-28T10:00:00+07:00\n"


def test_bad_dates_are_refused_with_a_message() -> None:
    result = CliRunner().invoke(main, ["calendar", "working-day", "2026-13-01"])
    assert result.exit_code == 2
    assert "not a date" in result.output


def test_keys_issue_prints_the_key_alone_on_the_last_line_and_revoke_works(
    database: Database, tmp_path: Path
) -> None:
    env = {"LEDGER_DATABASE_URL": database.url, "LEDGER_DATA_DIR": str(tmp_path)}
    runner = CliRunner()
    issued = runner.invoke(
        main,
        ["keys", "issue", "--role", "handler", "--agency", "000.00.31.H56", "--name", "tn"],
        env=env,
    )
    assert issued.exit_code == 0, issued.output
    token = issued.output.splitlines()[-1]
    assert token.startswith("dl_") and " " not in token
    listed = runner.invoke(main, ["keys", "list"], env=env)
    key_id = token.split("_")[1]
    assert key_id in listed.output and "active" in listed.output and token not in listed.output
    revoked = runner.invoke(main, ["keys", "revoke", key_id], env=env)
    assert revoked.exit_code == 0
    assert "revoked" in runner.invoke(main, ["keys", "list"], env=env).output
    refused = runner.invoke(main, ["keys", "issue", "--role", "handler"], env=env)
    assert refused.exit_code == 2 and "--agency" in refused.output


@pytest.mark.parametrize(
    ("agency", "says"),
    [
        ("000", "'000' is not four dot-separated segments"),
        ("", "the agency code is empty"),
        ("000.00.31.H5", "top level 'H5'"),
    ],
)
def test_keys_issue_refuses_an_agency_that_is_not_an_agency_code(
    database: Database, tmp_path: Path, agency: str, says: str
) -> None:
    env = {"LEDGER_DATABASE_URL": database.url, "LEDGER_DATA_DIR": str(tmp_path)}
    runner = CliRunner()
    refused = runner.invoke(
        main, ["keys", "issue", "--role", "handler", "--agency", agency], env=env
    )
    assert refused.exit_code == 2, refused.output
    assert says in refused.output
    assert "dl_" not in refused.output
    listed = runner.invoke(main, ["keys", "list"], env=env)
    assert agency == "" or agency not in listed.output.split()
