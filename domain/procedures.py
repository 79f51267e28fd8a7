"""Administrative procedures (thủ tục hành chính) and their legal processing times.

A procedure is known by its code in the National Database of Administrative Procedures (for example
`1.001757`). Its processing time (thời hạn giải quyết) is set by law in working days, calendar days
or working hours, or as "the same working day, when received before a cutoff" (e.g. certified
copies: received before 15:00, returned that day; after it, the next working day). Some procedures
set no time at all (no appointment date). The work calendar turns a processing time into a due
date.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, time, timedelta
from enum import StrEnum
from types import MappingProxyType
from typing import Any, Final

from domain.agency import AgencyCode, InvalidAgencyCode

PROCEDURE_CODE_PATTERN: Final = re.compile(r"[0-9]\.[0-9]{6}")
"""A code of the National Database of Administrative Procedures: a digit, a dot, six digits."""

LEVELS: Final = frozenset({"central", "province", "commune", "district"})
"""The level of government that handles the procedure (cấp trung ương, tỉnh, xã; huyện until
30 June 2025)."""

DISTRICT_LEVEL: Final = "district"
TWO_LEVEL_GOVERNMENT_SINCE: Final = date(2025, 7, 1)
"""Local government has two levels, province and commune, since 1 July 2025 (Law on the
Organisation of Local Government No. 72/2025/QH15, in force 16 June 2025; Resolution
202/2025/QH15; district-level governments ceased on 1 July 2025). A `district` procedure is kept
for dossiers received before that day."""

MAX_PROCESSING_DAYS = 365
"""No procedure takes longer than a year; a larger number is a data-entry error."""

HOURS_PER_WORKING_DAY: Final = 8
"""The legal working day (8 hours): a procedure's steps are checked against its time in these."""

MAX_PROCESSING_HOURS: Final = HOURS_PER_WORKING_DAY * MAX_PROCESSING_DAYS


class TimeUnit(StrEnum):
    WORKING_DAYS = "working_days"  # ngày làm việc
    CALENDAR_DAYS = "calendar_days"  # ngày (ngày lịch)
    WORKING_HOURS = "working_hours"  # giờ làm việc


@dataclass(frozen=True)
class ProcessingTime:
    """A legal processing time: `amount` working days, calendar days or working hours.

    `same_day_cutoff` (working days only): the time is counted in whole working days from the
    day of receipt: received on a working day before the cutoff, due at the close of the
    `amount`-th working day after it (0: that same day); received at or after the cutoff, or on
    a day off, as if received on the next working day.
    """

    amount: int
    unit: TimeUnit
    same_day_cutoff: time | None = None

    def working_hours(self) -> int:
        """The most working hours the time gives: what a procedure's steps may add up to.

        Working hours as they are; a working day is 8 hours, and so is a calendar day (its
        period holds at most that much working time); with a same-day cutoff the time runs to
        the close of the `amount`-th working day after the day of receipt, `amount` + 1 days.
        """
        if self.unit is TimeUnit.WORKING_HOURS:
            return self.amount
        days = self.amount + 1 if self.same_day_cutoff is not None else self.amount
        return HOURS_PER_WORKING_DAY * days


@dataclass(frozen=True, slots=True)
class PlannedStep:
    """A step of a procedure's internal procedure (quy trình nội bộ): its id (`tham-dinh`), its
    name, the unit that does it, the agency (an interconnected, liên thông, procedure's other
    agency; None: the receiving agency) and its share of the processing time in working time."""

    step: str
    name: str
    unit: str
    agency: str | None
    working_time: timedelta


@dataclass(frozen=True)
class Procedure:
    """A procedure of the catalogue. `processing_time` None: no appointment date (never overdue).

    `fee_pauses_clock`: waiting for the applicant's fees (status 6) stops the clock, as the law
    of some procedures says (land procedures: the time for financial obligations is not counted).
    `result_document`: the result is a document (giấy tờ), so it counts in indicator 4.1.
    `steps`: the internal procedure, in order (none: the province approved none).
    """

    code: str
    name: str
    processing_time: ProcessingTime | None
    level: str
    fee_pauses_clock: bool = False
    result_document: bool = False
    steps: tuple[PlannedStep, ...] = ()

    def level_allows_receipt_on(self, day: date) -> bool:
        """District-level procedures exist only for dossiers received before 1 July 2025."""
        return self.level != DISTRICT_LEVEL or day < TWO_LEVEL_GOVERNMENT_SINCE


class CatalogueError(ValueError):
    """A procedure record breaks a rule of the catalogue's format."""


class ProcedureCatalogue(Mapping[str, Procedure]):
    """The procedures the ledger knows: an immutable mapping from code to procedure."""

    __slots__ = ("_by_code",)

    def __init__(self, procedures: Sequence[Procedure] = ()) -> None:
        by_code: dict[str, Procedure] = {}
        for procedure in procedures:
            if procedure.code in by_code:
                raise CatalogueError(f"procedure code {procedure.code!r} appears twice")
            by_code[procedure.code] = procedure
        self._by_code: Mapping[str, Procedure] = MappingProxyType(by_code)

    @classmethod
    def from_records(cls, records: Sequence[Mapping[str, Any]]) -> ProcedureCatalogue:
        """Validate records of the wire format and build the catalogue.

        A record: `{"code": "1.001757", "name": "…", "processing_time": 5,
        "unit": "working_days", "level": "province"}`, and optionally `same_day_cutoff`
        ("15:00"), `fee_pauses_clock` and `result_document` (booleans) and `steps` (the internal
        procedure: `[{"step", "name", "unit", "agency"?, "working_hours"}]`, whose hours add up
        to at most the processing time). `processing_time` null: no appointment date (then
        `unit` may be left out).
        """
        if isinstance(records, str | bytes) or not isinstance(records, Sequence):
            raise CatalogueError("the catalogue must be a list of procedure records")
        procedures = [_procedure(index, record) for index, record in enumerate(records)]
        seen: dict[str, int] = {}
        for index, procedure in enumerate(procedures):
            if procedure.code in seen:
                raise CatalogueError(
                    f"record {index}: code {procedure.code!r} is already used by record "
                    f"{seen[procedure.code]}; codes must be unique"
                )
            seen[procedure.code] = index
        return cls(procedures)

    def __getitem__(self, code: str) -> Procedure:
        return self._by_code[code]

    def __contains__(self, code: object) -> bool:
        return code in self._by_code

    def __len__(self) -> int:
        return len(self._by_code)

    def __iter__(self) -> Iterator[str]:
        return iter(self._by_code)

    def __repr__(self) -> str:
        return f"ProcedureCatalogue({len(self)} procedures)"


_REQUIRED: Final = ("code", "name", "processing_time", "level")
_OPTIONAL: Final = ("unit", "same_day_cutoff", "fee_pauses_clock", "result_document", "steps")
_FIELDS: Final = (*_REQUIRED, *_OPTIONAL)
_UNITS: Final = frozenset(str(unit) for unit in TimeUnit)
_CUTOFF_PATTERN: Final = re.compile(r"([01][0-9]|2[0-3]):[0-5][0-9]")


def _procedure(index: int, record: Mapping[str, Any]) -> Procedure:
    def refuse(rule: str) -> CatalogueError:
        return CatalogueError(f"record {index}: {rule}")

    if not isinstance(record, Mapping):
        raise refuse("must be an object with the fields " + ", ".join(_REQUIRED))
    for field in _REQUIRED:
        if field not in record:
            raise refuse(f"field {field!r} is missing")
    unknown = sorted(str(key) for key in record if key not in _FIELDS)
    if unknown:
        raise refuse(f"field {unknown[0]!r} is not a field of a procedure record")

    code, name, level = record["code"], record["name"], record["level"]
    if not isinstance(code, str) or not PROCEDURE_CODE_PATTERN.fullmatch(code):
        raise refuse(
            f"field 'code' must look like '1.001757' (a digit, a dot, six digits): {code!r}"
        )
    if not isinstance(name, str) or not name.strip():
        raise refuse(f"field 'name' must be a non-empty string: {name!r}")
    if not isinstance(level, str) or level not in LEVELS:
        allowed = ", ".join(repr(value) for value in sorted(LEVELS))
        raise refuse(f"field 'level' must be one of {allowed}: {level!r}")
    try:
        processing_time = _processing_time(record)
    except CatalogueError as error:
        raise refuse(str(error)) from None
    flags = {}
    for flag in ("fee_pauses_clock", "result_document"):
        value = record.get(flag, False)
        if not isinstance(value, bool):
            raise refuse(f"field {flag!r} must be true or false: {value!r}")
        flags[flag] = value
    try:
        steps = _steps(record.get("steps", []), processing_time)
    except CatalogueError as error:
        raise refuse(str(error)) from None
    return Procedure(code, name.strip(), processing_time, level, **flags, steps=steps)


_STEP_REQUIRED: Final = ("step", "name", "unit", "working_hours")
_STEP_FIELDS: Final = (*_STEP_REQUIRED, "agency")
MAX_STEP_TEXT: Final = 200
"""A step's id, name and unit are at most this long (the wire's `step` and `to_unit` too)."""


def _steps(records: object, limit: ProcessingTime | None) -> tuple[PlannedStep, ...]:
    """The internal procedure: steps with unique ids, whose working hours add up to at most the
    procedure's time (any amount when the procedure sets none)."""
    if isinstance(records, str | bytes) or not isinstance(records, Sequence):
        raise CatalogueError("field 'steps' must be a list of step records")
    steps: list[PlannedStep] = []
    for index, record in enumerate(records):
        try:
            steps.append(_step(record))
        except CatalogueError as error:
            raise CatalogueError(f"steps[{index}]: {error}") from None
        if any(earlier.step == steps[-1].step for earlier in steps[:-1]):
            raise CatalogueError(f"steps[{index}]: step {steps[-1].step!r} appears twice")
    total = sum((step.working_time for step in steps), timedelta())
    if limit is not None and total > timedelta(hours=limit.working_hours()):
        hours = total / timedelta(hours=1)
        raise CatalogueError(
            f"the steps take {hours:g} working hours, more than the processing time "
            f"({limit.amount} {limit.unit}, {limit.working_hours()} working hours)"
        )
    return tuple(steps)


def _step(record: object) -> PlannedStep:
    if not isinstance(record, Mapping):
        raise CatalogueError("must be an object with the fields " + ", ".join(_STEP_REQUIRED))
    for field in _STEP_REQUIRED:
        if field not in record:
            raise CatalogueError(f"field {field!r} is missing")
    unknown = sorted(str(key) for key in record if key not in _STEP_FIELDS)
    if unknown:
        raise CatalogueError(f"field {unknown[0]!r} is not a field of a step record")
    texts = {}
    for field in ("step", "name", "unit"):
        value = record[field]
        if not isinstance(value, str) or not value.strip() or len(value) > MAX_STEP_TEXT:
            raise CatalogueError(
                f"field {field!r} must be a non-empty string of at most {MAX_STEP_TEXT} "
                f"characters: {value!r}"
            )
        texts[field] = value.strip()
    agency = record.get("agency")
    if agency is not None:
        try:
            AgencyCode.parse(agency if isinstance(agency, str) else repr(agency))
        except InvalidAgencyCode as error:
            raise CatalogueError(f"field 'agency' must be an agency code: {error}") from None
    hours = record["working_hours"]
    if isinstance(hours, bool) or not isinstance(hours, int | float) or not hours > 0:
        raise CatalogueError(f"field 'working_hours' must be a number above 0: {hours!r}")
    working_time = timedelta(hours=hours)
    if working_time % timedelta(minutes=1) or hours > MAX_PROCESSING_HOURS:
        raise CatalogueError(
            f"field 'working_hours' must be whole minutes, at most {MAX_PROCESSING_HOURS} hours: "
            f"{hours!r}"
        )
    return PlannedStep(texts["step"], texts["name"], texts["unit"], agency, working_time)


def _processing_time(record: Mapping[str, Any]) -> ProcessingTime | None:
    amount, unit, cutoff = (record.get(f) for f in ("processing_time", "unit", "same_day_cutoff"))
    if amount is None:
        if cutoff is not None:
            raise CatalogueError("field 'same_day_cutoff' needs a processing time")
        if unit is not None and unit not in _UNITS:
            raise CatalogueError(_unit_rule(unit))
        return None
    if unit is None:
        raise CatalogueError("field 'unit' is missing")
    if not isinstance(unit, str) or unit not in _UNITS:
        raise CatalogueError(_unit_rule(unit))
    time_unit = TimeUnit(unit)
    if isinstance(amount, bool) or not isinstance(amount, int):
        raise CatalogueError(
            f"field 'processing_time' must be a whole number (or null: no due date): {amount!r}"
        )
    highest = MAX_PROCESSING_HOURS if time_unit is TimeUnit.WORKING_HOURS else MAX_PROCESSING_DAYS
    lowest = 1 if cutoff is None else 0
    if not lowest <= amount <= highest:
        raise CatalogueError(
            f"field 'processing_time' must be from {lowest} to {highest}: {amount}"
        )
    if cutoff is None:
        return ProcessingTime(amount, time_unit)
    if time_unit is not TimeUnit.WORKING_DAYS:
        raise CatalogueError("field 'same_day_cutoff' needs the unit 'working_days'")
    if not isinstance(cutoff, str) or not _CUTOFF_PATTERN.fullmatch(cutoff):
        raise CatalogueError(f"field 'same_day_cutoff' must be a clock time HH:MM: {cutoff!r}")
    return ProcessingTime(amount, time_unit, time.fromisoformat(cutoff))


def _unit_rule(unit: object) -> str:
    allowed = " or ".join(repr(str(member)) for member in TimeUnit)
    return f"field 'unit' must be {allowed}: {unit!r}"
