"""The wire contract (DESIGN.md, "Wire contract"): msgspec structs for requests and responses."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

import msgspec

from domain.calendar import LOCAL_TZ


def shown(instant: datetime | None) -> datetime | None:
    """Instants are stored in UTC and shown in Asia/Ho_Chi_Minh (+07:00)."""
    return None if instant is None else instant.astimezone(LOCAL_TZ)


class Actor(msgspec.Struct, forbid_unknown_fields=True):
    """A pseudonymous official id and role, never a name."""

    id: str
    role: str


class EventIn(msgspec.Struct, forbid_unknown_fields=True):
    """One event, as POSTed to /v1/dossiers/{code}/events."""

    event_id: str
    type: str
    occurred_at: datetime
    actor: Actor
    data: dict[str, Any] = msgspec.field(default_factory=dict)
    expected_version: int | None = None


class BatchEventIn(EventIn, forbid_unknown_fields=True):
    """One event of a batch: the same fields, plus the dossier it belongs to."""

    dossier_code: str = ""


class BatchIn(msgspec.Struct, forbid_unknown_fields=True):
    """Events are validated one by one, so that one bad event does not sink the batch."""

    events: list[dict[str, Any]]


class StatusOut(msgspec.Struct):
    code: int
    name_vi: str
    name_en: str


class AppendedOut(msgspec.Struct):
    outcome: Literal["appended", "already_appended"]
    dossier_code: str
    event_id: str
    version: int
    position: int
    status: StatusOut | None
    due_at: datetime | None


class BatchOut(msgspec.Struct):
    results: list[dict[str, Any]]


class HealthOut(msgspec.Struct):
    status: Literal["ok", "degraded"]
    database: Literal["ok", "unavailable"]
    events: int | None
    projections: dict[str, dict[str, int | None]]


class DossierOut(msgspec.Struct):
    """An inspector's view of one dossier."""

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


EXAMPLE_EVENT: dict[str, Any] = {
    "event_id": "tn-2026-000123-1",
    "type": "Received",
    "occurred_at": "2026-02-13T10:00:00+07:00",
    "actor": {"id": "cb-0042", "role": "receiving_officer"},
    "expected_version": 0,
    "data": {"procedure_code": "1.001757", "channel": "in_person", "lookup_secret": "7KQ4M2"},
}

EXAMPLE_APPENDED: dict[str, Any] = {
    "outcome": "appended",
    "dossier_code": "000.00.31.H56-260213-0001",
    "event_id": "tn-2026-000123-1",
    "version": 1,
    "position": 4711,
    "status": {"code": 2, "name_vi": "Được tiếp nhận", "name_en": "Received"},
    "due_at": "2026-02-27T10:00:00+07:00",
}
