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


def test_the_new_year_2026_swap_is_known() -> None:
    """Letter 12729/VPCP-KGVX of 25/12/2025: Friday 2/1/2026 off, Saturday 10/1/2026 worked."""
    runner = CliRunner()
    assert runner.invoke(main, ["calendar", "working-day", "2026-01-02"]).output == "no\n"
    assert runner.invoke(main, ["calendar", "working-day", "2026-01-10"]).output == "yes\n"


def test_calendar_year_lists_days_off_and_working_days_with_their_sources() -> None:
    result = CliRunner().invoke(main, ["calendar", "year", "2026"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == "2026-01-01 Thu day off      Tết Dương lịch  [holidays 0.109 (VN)]"
    assert lines[1].startswith("2026-01-02 Fri day off ")
    assert lines[1].endswith("[Công văn 12729/VPCP-KGVX ngày 25/12/2025 của Văn phòng Chính phủ]")
    assert lines[2].startswith("2026-01-10 Sat working day ")
    assert any(line.startswith("2026-02-17 Tue day off      Tết Nguyên Đán") for line in lines)


def test_due_date_in_working_hours() -> None:
    """Received Fri 6/3/2026 15:00, 4 working hours: 2 h on Friday, 2 h on Monday 9/3."""
    result = CliRunner().invoke(
        main, ["calendar", "due-date", "--received", "2026-03-06T15:00", "--working-hours", "4"]
    )
    assert result.exit_code == 0, result.output
    assert result.output == "2026-03-09T09:00:00+07:00\n"
    both = CliRunner().invoke(
        main,
        ["calendar", "due-date", "--received", "2026-03-06T15:00", "--working-hours", "4",
         "--working-days", "1"],
    )  # fmt: skip
    assert both.exit_code == 2
    assert "exactly one" in both.output


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
