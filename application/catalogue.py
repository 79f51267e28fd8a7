"""Loading the rules' data files: the procedure catalogue and the calendar overrides.

Both files are the operator's: `LEDGER_PROCEDURES_FILE` (JSON, a list of procedure records) and
`LEDGER_CALENDAR_FILE` (TOML or JSON: days off and working days announced after the `holidays`
package was released). Without a file, the shipped sample catalogue and no overrides are used.
"""

from __future__ import annotations

import json
import tomllib
from importlib import resources
from pathlib import Path
from typing import Any

from domain.calendar import WorkCalendar
from domain.procedures import ProcedureCatalogue

SAMPLE_PROCEDURES = "procedures.json"


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
    """The work calendar with the overrides in `path` (.toml or .json), or with none."""
    if path is None:
        return WorkCalendar()
    suffix = path.suffix.lower()
    if suffix not in {".toml", ".json"}:
        raise DataFileError(f"{path}: a calendar file must be .toml or .json, not {suffix!r}")
    text = _read(path)
    overrides = _parse_toml(str(path), text) if suffix == ".toml" else _parse_json(str(path), text)
    try:
        return WorkCalendar.from_overrides(overrides)
    except ValueError as error:
        raise DataFileError(f"{path}: {error}") from error


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


SAMPLE_AGENCIES = "agencies.json"


def load_agencies(path: Path | None) -> dict[str, str]:
    """Agencies' names by code (`LEDGER_AGENCIES_FILE`, JSON: code -> Vietnamese name), or the
    shipped sample's; an agency missing from it is shown by its code."""
    if path is None:
        sample = resources.files("application") / "data" / SAMPLE_AGENCIES
        name, text = f"the sample {SAMPLE_AGENCIES}", sample.read_text(encoding="utf-8")
    else:
        name, text = str(path), _read(path)
    names = _parse_json(name, text)
    if not isinstance(names, dict) or not all(
        isinstance(key, str) and isinstance(value, str) for key, value in names.items()
    ):
        raise DataFileError(f"{name}: an object of agency code -> name is expected")
    return dict(names)
