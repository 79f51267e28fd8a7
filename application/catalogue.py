"""Loading the rules' data files: the procedure catalogue, the calendar, the agencies' names.

The operator's files: `LEDGER_PROCEDURES_FILE` (JSON, a list of procedure records),
`LEDGER_CALENDAR_FILE` (TOML or JSON: a province's own days off and working days, or a decree the
ledger does not ship yet) and `LEDGER_AGENCIES_FILE` (JSON, agency code -> Vietnamese name).
Without a file, the shipped sample catalogue, no overrides and the sample agencies are used.

The ledger ships `decreed_calendar.toml`: the days off and working days decreed after the pinned
`holidays` release, each with its legal source. The calendar layers it between `holidays` and the
operator's overrides.
"""

from __future__ import annotations

import json
import tomllib
from datetime import date, datetime
from importlib import resources
from pathlib import Path
from typing import Any

from domain.agency import AgencyCode, InvalidAgencyCode
from domain.calendar import CalendarDay, WorkCalendar
from domain.procedures import ProcedureCatalogue

SAMPLE_PROCEDURES = "procedures.json"
SAMPLE_AGENCIES = "agencies.json"
DECREED_CALENDAR = "decreed_calendar.toml"
_DECREED_KEYS = frozenset({"date", "kind", "name", "source"})
_KINDS = {"day_off": False, "working_day": True}


class DataFileError(ValueError):
    """A procedures or calendar file cannot be read or breaks its format; the message names it."""


def load_procedures(path: Path | None) -> ProcedureCatalogue:
    """The catalogue in `path`, or the shipped sample (application/data/procedures.json)."""
    if path is None:
        sample = resources.files("application") / "data" / SAMPLE_PROCEDURES
        name, text = f"the sample {SAMPLE_PROCEDURES}", sample.read_text(encoding="utf-8")
    else:
        name, text = str(path), _read(path)
    records = _parse_json(name, text)
    try:
        return ProcedureCatalogue.from_records(records)
    except ValueError as error:
        raise DataFileError(f"{name}: {error}") from error


def load_calendar(path: Path | None) -> WorkCalendar:
    """The work calendar: `holidays`, the shipped decreed days, then the overrides in `path`
    (.toml or .json), if any."""
    decreed = load_decreed_days()
    if path is None:
        return WorkCalendar(decreed=decreed)
    suffix = path.suffix.lower()
    if suffix not in {".toml", ".json"}:
        raise DataFileError(f"{path}: a calendar file must be .toml or .json, not {suffix!r}")
    text = _read(path)
    overrides = _parse_toml(str(path), text) if suffix == ".toml" else _parse_json(str(path), text)
    try:
        return WorkCalendar.from_overrides(
            overrides, decreed=decreed, operator_source=f"operator's file {path.name}"
        )
    except ValueError as error:
        raise DataFileError(f"{path}: {error}") from error


def load_decreed_days() -> list[CalendarDay]:
    """The shipped days decreed after the `holidays` release (application/data)."""
    name = f"the shipped {DECREED_CALENDAR}"
    text = (resources.files("application") / "data" / DECREED_CALENDAR).read_text("utf-8")
    return parse_decreed_days(name, text)


def parse_decreed_days(name: str, text: str) -> list[CalendarDay]:
    """`[[day]]` tables of `date`, `kind` (day_off, working_day), `name` and `source`."""
    entries = _parse_toml(name, text).get("day", [])
    days = []
    for index, entry in enumerate(entries):
        where = f"{name}: day {index}"
        if not isinstance(entry, dict) or set(entry) != _DECREED_KEYS:
            raise DataFileError(
                f"{where}: needs exactly the keys {', '.join(sorted(_DECREED_KEYS))}"
            )
        day, kind, label, source = (entry[key] for key in ("date", "kind", "name", "source"))
        if not isinstance(day, date) or isinstance(day, datetime):
            raise DataFileError(f"{where}: date must be a TOML date (YYYY-MM-DD): {day!r}")
        if kind not in _KINDS:
            raise DataFileError(f"{where}: kind must be day_off or working_day: {kind!r}")
        for key, value in (("name", label), ("source", source)):
            if not isinstance(value, str) or not value.strip():
                raise DataFileError(f"{where}: {key} must be a non-empty string")
        days.append(CalendarDay(day, _KINDS[kind], label.strip(), source.strip()))
    return days


def load_agencies(path: Path | None) -> dict[str, str]:
    """Agencies' Vietnamese names by code, from `path` (JSON) or the shipped sample."""
    if path is None:
        sample = resources.files("application") / "data" / SAMPLE_AGENCIES
        name, text = f"the sample {SAMPLE_AGENCIES}", sample.read_text(encoding="utf-8")
    else:
        name, text = str(path), _read(path)
    names = _parse_json(name, text)
    if not isinstance(names, dict):
        raise DataFileError(f"{name}: must be an object of agency code -> name")
    for code, agency_name in names.items():
        try:
            AgencyCode.parse(code)
        except InvalidAgencyCode as error:
            raise DataFileError(f"{name}: {code!r} is not an agency code: {error}") from None
        if not isinstance(agency_name, str) or not agency_name.strip():
            raise DataFileError(f"{name}: the name of {code} must be a non-empty string")
    return {code: agency_name.strip() for code, agency_name in names.items()}


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        raise DataFileError(
            f"{path}: not UTF-8 text ({error.reason} at byte {error.start})"
        ) from error
    except OSError as error:
        raise DataFileError(f"{path}: cannot be read ({error.strerror or error})") from error


def _parse_json(name: str, text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        position = f"line {error.lineno}, column {error.colno}"
        raise DataFileError(f"{name}: not valid JSON at {position}: {error.msg}") from error


def _parse_toml(name: str, text: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise DataFileError(f"{name}: not valid TOML: {error}") from error
