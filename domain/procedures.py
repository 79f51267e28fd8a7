"""Administrative procedures (thủ tục hành chính) and their legal processing times.

A procedure is known by its code in the National Database of Administrative Procedures (for example
`1.001757`). Its processing time (thời hạn giải quyết) is set by law in working days or in calendar
days; the work calendar turns it into a due date.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType
from typing import Any, Final

PROCEDURE_CODE_PATTERN: Final = re.compile(r"[0-9]\.[0-9]{6}")
"""A code of the National Database of Administrative Procedures: a digit, a dot, six digits."""

LEVELS: Final = frozenset({"central", "province", "district", "commune"})
"""The level of government that handles the procedure (cấp trung ương, tỉnh, huyện, xã)."""

MAX_PROCESSING_TIME: Final = 365
"""No procedure takes longer than a year; a larger number is a data-entry error."""


class TimeUnit(StrEnum):
    WORKING_DAYS = "working_days"  # ngày làm việc
    CALENDAR_DAYS = "calendar_days"  # ngày (ngày lịch)


@dataclass(frozen=True)
class ProcessingTime:
    """A legal processing time: `amount` working days or calendar days."""

    amount: int
    unit: TimeUnit


@dataclass(frozen=True)
class Procedure:
    code: str
    name: str
    processing_time: ProcessingTime
    level: str


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
        "unit": "working_days", "level": "province"}`.
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


_FIELDS: Final = ("code", "name", "processing_time", "unit", "level")
_UNITS: Final = frozenset(str(unit) for unit in TimeUnit)


def _procedure(index: int, record: Mapping[str, Any]) -> Procedure:
    def refuse(rule: str) -> CatalogueError:
        return CatalogueError(f"record {index}: {rule}")

    if not isinstance(record, Mapping):
        raise refuse("must be an object with the fields " + ", ".join(_FIELDS))
    for field in _FIELDS:
        if field not in record:
            raise refuse(f"field {field!r} is missing")
    unknown = sorted(str(key) for key in record if key not in _FIELDS)
    if unknown:
        raise refuse(f"field {unknown[0]!r} is not a field of a procedure record")

    code, name, amount, unit, level = (record[field] for field in _FIELDS)
    if not isinstance(code, str) or not PROCEDURE_CODE_PATTERN.fullmatch(code):
        raise refuse(
            f"field 'code' must look like '1.001757' (a digit, a dot, six digits): {code!r}"
        )
    if not isinstance(name, str) or not name.strip():
        raise refuse(f"field 'name' must be a non-empty string: {name!r}")
    if isinstance(amount, bool) or not isinstance(amount, int):
        raise refuse(f"field 'processing_time' must be a whole number of days: {amount!r}")
    if not 1 <= amount <= MAX_PROCESSING_TIME:
        raise refuse(f"field 'processing_time' must be from 1 to {MAX_PROCESSING_TIME}: {amount}")
    if not isinstance(unit, str) or unit not in _UNITS:
        allowed = " or ".join(repr(str(member)) for member in TimeUnit)
        raise refuse(f"field 'unit' must be {allowed}: {unit!r}")
    if not isinstance(level, str) or level not in LEVELS:
        allowed = ", ".join(repr(value) for value in sorted(LEVELS))
        raise refuse(f"field 'level' must be one of {allowed}: {level!r}")
    return Procedure(code, name.strip(), ProcessingTime(amount, TimeUnit(unit)), level)
