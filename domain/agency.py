"""Agency codes (mã định danh, QCVN 102:2016) and the hierarchy they describe.

A code has four dot-separated segments of 2 or 3 characters 0-9 A-Z, written lowest level first:
`000.17.22.H56` is unit 000 of unit 17 of unit 22 of H56. The last segment is the top level, a
letter and two digits (`H56` a province, `G04` a ministry). A segment of zeros stands for "every
agency at this level": `000.00.31.H56` is unit 31 of H56 and everything below it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

_SEGMENT = re.compile(r"[0-9A-Z]{2,3}", re.ASCII)
_TOP_LEVEL = re.compile(r"[A-Z][0-9]{2}", re.ASCII)
_ZEROS = re.compile(r"0{2,3}", re.ASCII)
EXAMPLE = "000.00.31.H56"


class InvalidAgencyCode(ValueError):
    """The text is not an agency code the ledger can scope a key to; the message says why."""


@dataclass(frozen=True)
class AgencyCode:
    levels: tuple[str, str, str, str]
    """The segments top level first: `000.00.31.H56` is ("H56", "31", "00", "000")."""

    @classmethod
    def parse(cls, text: str) -> AgencyCode:
        """Read a code (InvalidAgencyCode names the part that is wrong)."""
        return _parse(text)

    @classmethod
    def parse_scope(cls, text: str) -> AgencyCode:
        """Read a code a key is scoped to: below a level of zeros there are only zeros.

        `000.17.00.H56` would read as "all of H56" while looking like "unit 17": refused.
        """
        code = _parse(text)
        zero_seen = False
        for segment in code.levels[1:]:
            if zero_seen and not _ZEROS.fullmatch(segment):
                msg = (
                    f"the agency {text!r} has {segment!r} below a level of zeros; zeros stand for"
                    " every agency at that level and below, so the levels below must be zeros too"
                )
                raise InvalidAgencyCode(msg)
            zero_seen = zero_seen or bool(_ZEROS.fullmatch(segment))
        return code

    def covers(self, other: AgencyCode) -> bool:
        """This agency is `other` or above it: compared top level first, zeros match anything.

        The top level is never a wildcard: no key covers another province or ministry.
        """
        top, *below = self.levels
        if top != other.levels[0]:
            return False
        for mine, theirs in zip(below, other.levels[1:], strict=True):
            if _ZEROS.fullmatch(mine):
                return True
            if mine != theirs:
                return False
        return True

    def __str__(self) -> str:
        return ".".join(reversed(self.levels))


@lru_cache(maxsize=4096)
def _parse(text: str) -> AgencyCode:
    expected = (
        "four dot-separated segments of 2 or 3 characters 0-9 A-Z, the last one the top level"
        f" (QCVN 102:2016), e.g. {EXAMPLE}"
    )
    if not text:
        msg = f"the agency code is empty; expected {expected}"
        raise InvalidAgencyCode(msg)
    segments = text.split(".")
    if len(segments) != 4 or not all(_SEGMENT.fullmatch(s) for s in segments):
        msg = f"the agency {text!r} is not {expected}"
        raise InvalidAgencyCode(msg)
    lowest, third, second, top = segments
    if not _TOP_LEVEL.fullmatch(top):
        msg = (
            f"the agency {text!r} has top level {top!r} (its last segment); a top level is a"
            " letter and two digits, e.g. H56 (a province) or G04 (a ministry)"
        )
        raise InvalidAgencyCode(msg)
    return AgencyCode((top, second, third, lowest))
