"""The wire contract (docs/contract.md): msgspec structs for requests and responses."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any, Literal, overload

import msgspec

from api.problems import RefusedInBatch
from domain.calendar import LOCAL_TZ, WorkCalendar
from domain.steps import StepRun


@overload
def shown(instant: datetime) -> datetime: ...
@overload
def shown(instant: None) -> None: ...
def shown(instant: datetime | None) -> datetime | None:
    """Instants are stored in UTC and shown in Asia/Ho_Chi_Minh (+07:00).

    One too close to the ends of the calendar to be shifted (an event stored before the
    contract bounded its instants) is shown as it was stored: a view never fails on it.
    """
    if instant is None:
        return None
    try:
        return instant.astimezone(LOCAL_TZ)
    except OverflowError:
        return instant


class StatusOut(msgspec.Struct):
    code: int
    name_vi: str
    name_en: str


class Answer(msgspec.Struct, tag_field="outcome", omit_defaults=True):
    """The event is in the ledger: its version and position, the status and due date after it."""

    dossier_code: str
    event_id: str
    version: int
    position: int
    status: StatusOut | None
    due_at: datetime | None
    lookup_url: str | None = None  # Received only: the public page, code and secret in the fragment


class Appended(Answer, tag="appended"):
    """Stored now (201)."""


class AlreadyAppended(Answer, tag="already_appended"):
    """Stored before, by the same event_id: the first answer again (200)."""


AppendedOut = Appended | AlreadyAppended


class BatchOut(msgspec.Struct):
    """One result per event, in order: appended, already_appended, or refused (a problem)."""

    results: list[Appended | AlreadyAppended | RefusedInBatch]


class HealthOut(msgspec.Struct):
    status: Literal["ok", "degraded"]
    database: Literal["ok", "unavailable"]
    events: int | None
    projections: dict[str, dict[str, int | None]]
    alarms: list[str] = []
    """Open alarms about the transparency log (a witness saw another history): act on them."""


def hours(amount: timedelta) -> float:
    """Working time on the wire: hours, as a number."""
    return amount / timedelta(hours=1)


class StepOut(msgspec.Struct):
    """One step of a dossier as it happened (the internal procedure, quy trình nội bộ)."""

    number: int
    step: str
    name: str | None
    unit: str
    agency: str
    agency_name: str | None
    started_at: datetime
    due_at: datetime | None
    finished_at: datetime | None
    timeliness: str | None
    hours_used: float
    hours_allowed: float | None
    overrun_hours: float | None
    flags: list[str]
    skipped: list[str]


def step_out(
    run: StepRun, now: datetime, calendar: WorkCalendar, agencies: Mapping[str, str]
) -> StepOut:
    """A step as it stands at `now`: an open one's hours are counted up to then."""
    timeliness = run.timeliness(now, calendar)
    overrun = run.overrun(calendar, now)
    return StepOut(
        number=run.number,
        step=run.step,
        name=run.name,
        unit=run.unit,
        agency=run.agency,
        agency_name=agencies.get(run.agency),
        started_at=shown(run.started_at),
        due_at=shown(run.due_at),
        finished_at=shown(run.finished_at),
        timeliness=None if timeliness is None else timeliness.value,
        hours_used=hours(run.working_time_used(calendar, now)),
        hours_allowed=None if run.allowed is None else hours(run.allowed),
        overrun_hours=None if overrun is None else hours(overrun),
        flags=[flag.value for flag in run.flags],
        skipped=list(run.skipped),
    )


class DossierOut(msgspec.Struct):
    """An inspector's view of one dossier; `steps` in the view of one dossier (None in lists)."""

    code: str
    procedure: str | None
    agency: str
    agency_name: str | None
    channel: str | None
    status: StatusOut | None
    received_at: datetime | None
    due_at: datetime | None
    original_due_at: datetime | None
    resolved_at: datetime | None
    returned_at: datetime | None
    supplement_requests: int
    extensions: int
    extended_after_due: bool
    timeliness: str | None
    version: int
    steps: list[StepOut] | None = None


class PublicDossierOut(msgspec.Struct):
    """What the public may see of a dossier: nothing about people."""

    code: str
    status: StatusOut | None
    procedure: dict[str, str | None]
    agency: str
    agency_name: str | None
    received_at: datetime | None
    due_at: datetime | None
    timeliness: str | None
    updated_at: datetime | None


def _example(event_id: str, type_: str, at: str, role: str, **data: Any) -> dict[str, Any]:
    return {
        "event_id": event_id,
        "type": type_,
        "occurred_at": at,
        "actor": {"id": "cb-0042", "role": role},
        "data": data,
    }


EXAMPLE_EVENTS: list[dict[str, Any]] = [
    {
        **_example(
            "tn-2026-000123-1",
            "Received",
            "2026-02-13T10:00:00+07:00",
            "receiving_officer",
            procedure_code="1.001757",
            channel="in_person",
            lookup_secret="7KQ4M2",  # noqa: S106 (an example on the receipt)
        ),
        "expected_version": 0,
    },
    _example(
        "tn-2026-000123-2",
        "Transferred",
        "2026-02-13T14:00:00+07:00",
        "receiving_officer",
        from_unit="mot-cua",
        to_unit="phong-tu-phap",
        step="tham-dinh",
    ),
    _example(
        "s-1",
        "Submitted",
        "2026-02-12T09:00:00+07:00",
        "portal",
        procedure_code="1.001757",
        channel="online",
    ),
    _example(
        "rr-1",
        "ReceiptRefused",
        "2026-02-13T10:00:00+07:00",
        "receiving_officer",
        reason="Thiếu giấy tờ",
    ),
    _example(
        "sr-1",
        "SupplementRequested",
        "2026-02-16T09:00:00+07:00",
        "specialist",
        reason="Bổ sung bản sao",
        items=["Bản sao CCCD"],
    ),
    _example("sp-1", "SupplementProvided", "2026-02-18T09:00:00+07:00", "receiving_officer"),
    _example("fr-1", "FeeRequested", "2026-02-18T10:00:00+07:00", "specialist", amount_vnd=50000),
    _example("fp-1", "FeePaid", "2026-02-18T11:00:00+07:00", "cashier", amount_vnd=50000),
    _example(
        "w-1", "Withdrawn", "2026-02-18T11:00:00+07:00", "receiving_officer", reason="Theo đề nghị"
    ),
    _example(
        "ps-1",
        "ProcessingStopped",
        "2026-02-18T11:00:00+07:00",
        "leader",
        reason="Không đủ điều kiện",
    ),
    _example(
        "rs-1",
        "Resolved",
        "2026-02-20T15:00:00+07:00",
        "leader",
        outcome="approved",
        electronic_result=True,
    ),
    _example(
        "rt-1",
        "ResultReturned",
        "2026-02-23T09:00:00+07:00",
        "receiving_officer",
        channel="in_person",
    ),
    _example(
        "de-1",
        "DeadlineExtended",
        "2026-02-26T09:00:00+07:00",
        "leader",
        new_due_at="2026-03-03T17:00:00+07:00",
        reason="Văn bản xin lỗi số 12",
    ),
    _example(
        "sat-1", "SatisfactionRated", "2026-02-23T10:00:00+07:00", "portal", rating="satisfied"
    ),
    _example(
        "an-1",
        "Annotated",
        "2026-02-23T10:00:00+07:00",
        "officer",
        note="Sửa lỗi nhập liệu",
        refers_to_version=2,
    ),
]
"""One example of each event type, for the OpenAPI document (and checked against it in tests)."""

EXAMPLE_APPENDED: dict[str, Any] = {
    "outcome": "appended",
    "dossier_code": "000.00.31.H56-260213-0001",
    "event_id": "tn-2026-000123-1",
    "version": 1,
    "position": 4711,
    "status": {"code": 2, "name_vi": "Được tiếp nhận", "name_en": "Received"},
    "due_at": "2026-02-27T10:00:00+07:00",
}
