"""A catalogue of worked-example internal procedures (quy trình nội bộ), for the steps' tests.

The calendar is the ledger's own (tests.unit.stories): working hours 07:00-11:30 and
13:30-17:00, 8 hours a working day, all times Asia/Ho_Chi_Minh.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from domain.commands import Rules
from domain.procedures import ProcedureCatalogue
from tests.unit.stories import CALENDAR

H = timedelta(hours=1)
QUARTERS = "1.100001"  # 2 working days (16 h): four steps of 4 h
FOUR_STEPS = "1.100002"  # 4 working days (32 h): four steps of 8 h
INTERCONNECTED = "1.100003"  # 4 working days: the appraisal in another agency (liên thông)
LAND = "1.100004"  # 4 working days, fees stop the clock
NO_PLAN = "1.100005"  # 3 working days, no internal procedure
ELSEWHERE = "1.100006"  # 5 working days: the appraisal in a third agency (liên thông)
RECEIVING = "000.21.20.H56"
OTHER_AGENCY = "000.00.13.H56"
THIRD_AGENCY = "000.00.04.H56"


def step(name: str, unit: str, hours: float, agency: str | None = None) -> dict[str, Any]:
    record: dict[str, Any] = {"step": name, "name": name.title(), "unit": unit}
    record["working_hours"] = hours
    if agency is not None:
        record["agency"] = agency
    return record


def procedure(code: str, days: int, steps: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {
        "code": code,
        "name": code,
        "processing_time": days,
        "unit": "working_days",
        "level": "commune",
        "steps": steps,
        **extra,
    }


PLAN = [
    step("tiep-nhan", "mot-cua", 8),
    step("tham-dinh", "phong-chuyen-mon", 8),
    step("phe-duyet", "lanh-dao", 8),
    step("tra-ket-qua", "mot-cua", 8),
]
RECORDS = [
    procedure(QUARTERS, 2, [step(s, "u-" + s, 4) for s in ("a", "b", "c", "d")]),
    procedure(FOUR_STEPS, 4, PLAN),
    procedure(
        INTERCONNECTED,
        4,
        [
            step("tiep-nhan", "mot-cua", 8),
            step("tham-dinh", "phong-ho-tich", 16, agency=OTHER_AGENCY),
            step("tra-ket-qua", "mot-cua", 8),
        ],
    ),
    procedure(LAND, 4, PLAN, fee_pauses_clock=True),
    procedure(NO_PLAN, 3, []),
    procedure(
        ELSEWHERE,
        5,
        [
            step("tiep-nhan", "mot-cua", 4),
            step("tham-dinh", "phong-quy-hoach", 24, agency=THIRD_AGENCY),
            step("phe-duyet", "lanh-dao", 8),
            step("tra-ket-qua", "mot-cua", 4),
        ],
    ),
]
PROCEDURES = ProcedureCatalogue.from_records(RECORDS)
RULES = Rules(calendar=CALENDAR, procedures=PROCEDURES)
