"""Dossier codes (mã hồ sơ): `{agency}-{yyMMdd}-{serial}`, e.g. `000.17.22.H56-210531-0001`.

The agency is the receiving agency's identifier code (QCVN 102:2016: four dot-separated segments of
2 or 3 characters, the last one the top level: `H56` a province, `G04` a ministry), then the receipt
date, then a daily serial of 4 to 7 digits.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from functools import cached_property

from domain.errors import InvalidDossierCode

CODE_PATTERN = re.compile(
    r"^[0-9A-Z]{2,3}(\.[0-9A-Z]{2,3}){3}-\d{2}(0[1-9]|1[0-2])(0[1-9]|[12]\d|3[01])-\d{4,7}$",
    re.ASCII,
)
"""The whole code, as published (OpenAPI). `parse` is stricter: no trailing newline, real dates."""

_AGENCY = re.compile(r"[0-9A-Z]{2,3}(\.[0-9A-Z]{2,3}){3}", re.ASCII)
_RECEIPT_DATE = re.compile(r"[0-9]{6}", re.ASCII)
_SERIAL = re.compile(r"[0-9]{4,7}", re.ASCII)

_FORMAT_EXPECTED = "{agency}-{yyMMdd}-{serial}, e.g. 000.17.22.H56-210531-0001"
_AGENCY_EXPECTED = "four dot-separated segments of 2 or 3 characters 0-9 A-Z, e.g. 000.17.22.H56"
_DATE_EXPECTED = "the receipt date as yyMMdd, e.g. 210531"
_SERIAL_EXPECTED = "4 to 7 digits, e.g. 0001"


@dataclass(frozen=True)
class DossierCode:
    agency: str
    receipt_date: date
    serial: str

    def __post_init__(self) -> None:
        text = f"{self.agency}-?-{self.serial}"
        if not _AGENCY.fullmatch(self.agency):
            raise InvalidDossierCode(text, "agency", f"the agency must be {_AGENCY_EXPECTED}")
        if not 2000 <= self.receipt_date.year <= 2099:
            raise InvalidDossierCode(
                text, "receipt_date", "the receipt date must be in the years 2000 to 2099"
            )
        if not _SERIAL.fullmatch(self.serial):
            raise InvalidDossierCode(text, "serial", f"the serial must be {_SERIAL_EXPECTED}")

    @classmethod
    def parse(cls, text: str) -> DossierCode:
        """Read a code; InvalidDossierCode says which part is wrong and what was expected."""
        parts = text.split("-")
        if len(parts) != 3:
            raise InvalidDossierCode(text, "format", f"expected {_FORMAT_EXPECTED}")
        agency, receipt_date, serial = parts
        if not _AGENCY.fullmatch(agency):
            raise InvalidDossierCode(
                text, "agency", f"the agency {agency!r} is not {_AGENCY_EXPECTED}"
            )
        if not _SERIAL.fullmatch(serial):
            raise InvalidDossierCode(
                text, "serial", f"the serial {serial!r} is not {_SERIAL_EXPECTED}"
            )
        code = cls(agency, _parse_receipt_date(text, receipt_date), serial)
        # Every part was read strictly, so `text` is already the canonical form: keep it.
        code.__dict__["text"] = text
        return code

    def __str__(self) -> str:
        return self.text

    @cached_property
    def text(self) -> str:
        """The canonical code (computed once: the ingest path asks for it many times)."""
        return f"{self.agency}-{self.receipt_date:%y%m%d}-{self.serial}"


def _parse_receipt_date(text: str, part: str) -> date:
    if not _RECEIPT_DATE.fullmatch(part):
        raise InvalidDossierCode(text, "receipt_date", f"{part!r} is not {_DATE_EXPECTED}")
    year, month, day = 2000 + int(part[:2]), int(part[2:4]), int(part[4:])
    try:
        return date(year, month, day)
    except ValueError:
        raise InvalidDossierCode(
            text, "receipt_date", f"the receipt date {part!r} is not a real date ({_DATE_EXPECTED})"
        ) from None
