"""Worked-example procedures and a recorder of one dossier's story, for the rules' unit tests.

The calendar is the ledger's own: `holidays`, the shipped decreed days (the New Year 2026 swap),
no operator file. Working hours 07:00-11:30 and 13:30-17:00, all times Asia/Ho_Chi_Minh.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from zoneinfo import ZoneInfo

from application.catalogue import load_calendar
from domain.code import DossierCode
from domain.commands import Actor, Channel, EventCommand, EventData, ReceivedData, Rules
from domain.commands import SupplementPolicy as Policy
from domain.dossier import Dossier, record
from domain.procedures import ProcedureCatalogue
from domain.status import EventType

TZ = ZoneInfo("Asia/Ho_Chi_Minh")
CALENDAR = load_calendar(None)

FIVE_WORKING_DAYS = "1.000001"
FOUR_WORKING_HOURS = "1.000002"
SAME_DAY = "1.000003"  # received before 15:00: due at that day's close
NO_DUE_DATE = "1.000004"
LAND = "1.000005"  # 10 working days; waiting for fees stops the clock
NO_DOCUMENT = "1.000006"  # 2 working days; the result is not a document (money paid out)
DISTRICT = "1.000007"  # a district procedure: 15 calendar days
TEN_CALENDAR_DAYS = "1.000008"

PROCEDURES = ProcedureCatalogue.from_records(
    [
        {"code": FIVE_WORKING_DAYS, "name": "Năm ngày", "processing_time": 5,
         "unit": "working_days", "level": "province", "result_document": True},
        {"code": FOUR_WORKING_HOURS, "name": "Bốn giờ", "processing_time": 4,
         "unit": "working_hours", "level": "commune", "result_document": True},
        {"code": SAME_DAY, "name": "Trong ngày", "processing_time": 0, "unit": "working_days",
         "same_day_cutoff": "15:00", "level": "commune", "result_document": True},
        {"code": NO_DUE_DATE, "name": "Không hẹn", "processing_time": None, "level": "commune"},
        {"code": LAND, "name": "Đất đai", "processing_time": 10, "unit": "working_days",
         "level": "commune", "fee_pauses_clock": True, "result_document": True},
        {"code": NO_DOCUMENT, "name": "Trợ cấp", "processing_time": 2, "unit": "working_days",
         "level": "commune"},
        {"code": DISTRICT, "name": "Cấp huyện", "processing_time": 15, "unit": "calendar_days",
         "level": "district", "result_document": True},
        {"code": TEN_CALENDAR_DAYS, "name": "Mười ngày", "processing_time": 10,
         "unit": "calendar_days", "level": "province", "result_document": True},
    ]
)  # fmt: skip
RULES = Rules(calendar=CALENDAR, procedures=PROCEDURES)
RESTART = RULES
EXTEND = replace(RULES, supplement_policy=Policy.EXTEND)
RECORDED_AT = datetime(2030, 1, 1, tzinfo=TZ)


def at(year: int, month: int, day: int, hour: int = 9, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=TZ)


class Story:
    """Records events on one dossier, numbering their event_ids."""

    def __init__(self, rules: Rules = RULES, code: str = "000.21.20.H56-260302-0001") -> None:
        self.rules = rules
        self.code = DossierCode.parse(code)
        self.dossier: Dossier | None = None
        self.count = 0

    def then(self, data: EventData, occurred_at: datetime) -> Dossier:
        self.count += 1
        command = EventCommand(
            event_id=f"e-{self.count}",
            type=EventType(type(data).__name__.removesuffix("Data")),
            occurred_at=occurred_at,
            actor=Actor("cb-1", "officer"),
            source="test",
            data=data,
            fingerprint=f"fp-{self.count}",
        )
        self.dossier = record(self.dossier, self.code, command, self.rules, RECORDED_AT).dossier
        return self.dossier

    def received(self, procedure: str, occurred_at: datetime) -> Dossier:
        return self.then(ReceivedData(procedure, Channel.IN_PERSON, "digest"), occurred_at)


def received(procedure: str, occurred_at: datetime, rules: Rules = RULES) -> Story:
    story = Story(rules)
    story.received(procedure, occurred_at)
    return story
