"""What a handling system asks of the ledger, typed and independent of HTTP.

One frozen dataclass per event type holds its `data`, with the field names of the wire contract
(docs/contract.md); the HTTP layer decodes `data` into `DATA_TYPES[type]`. Each class
checks in `__post_init__` what its types cannot say, raising InvalidEventData that names the wire
field. `Received` carries the digest of the lookup secret, never the secret itself: the HTTP layer
hashes it before building the command.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from types import MappingProxyType

from domain.calendar import WorkCalendar
from domain.errors import InvalidEventData
from domain.procedures import ProcedureCatalogue
from domain.status import EventType

EVENT_ID_PATTERN = re.compile(r"[A-Za-z0-9._:-]{1,128}", re.ASCII)
MAX_TEXT = 2000  # a reason or a note; longer text belongs in the handling system's own records
MAX_NAME = 200  # an identifier, a unit's name, a reference


class Channel(StrEnum):
    """How the dossier reached the agency (kênh nộp hồ sơ / kênh trả kết quả)."""

    IN_PERSON = "in_person"
    ONLINE = "online"
    POSTAL = "postal"


class Outcome(StrEnum):
    APPROVED = "approved"
    DENIED = "denied"


class Rating(StrEnum):
    VERY_SATISFIED = "very_satisfied"
    SATISFIED = "satisfied"
    DISSATISFIED = "dissatisfied"


class SupplementPolicy(StrEnum):
    """How the clock resumes once the applicant supplements the dossier.

    RESTART (the rule in force): the full processing time counts again from the complete
    supplement. EXTEND: the due date moves by the working time spent waiting.
    """

    RESTART = "restart"
    EXTEND = "extend"


def require_text(value: str, field: str, max_length: int = MAX_TEXT) -> None:
    """A required text: not blank, not longer than `max_length` characters."""
    if not value.strip():
        raise InvalidEventData(field, "must not be empty")
    if len(value) > max_length:
        raise InvalidEventData(field, f"must be at most {max_length} characters")


def optional_text(value: str | None, field: str, max_length: int = MAX_TEXT) -> None:
    if value is not None:
        require_text(value, field, max_length)


def require_aware(value: datetime, field: str) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidEventData(
            field, "needs a UTC offset (RFC 3339), e.g. 2026-02-13T10:00:00+07:00"
        )


def require_amount(value: int, field: str) -> None:
    if isinstance(value, bool) or value < 0:
        raise InvalidEventData(field, "must be a whole number of VND, 0 or more")


@dataclass(frozen=True)
class Actor:
    """The official who acted, pseudonymous: an id in the handling system and a role."""

    id: str
    role: str

    def __post_init__(self) -> None:
        require_text(self.id, "actor.id", MAX_NAME)
        require_text(self.role, "actor.role", MAX_NAME)


@dataclass(frozen=True)
class SubmittedData:
    """Registered online on a portal, not yet received (status 1 exists only online)."""

    procedure_code: str
    channel: Channel

    def __post_init__(self) -> None:
        require_text(self.procedure_code, "data.procedure_code", MAX_NAME)
        if self.channel != Channel.ONLINE:
            raise InvalidEventData("data.channel", "a dossier is submitted (status 1) only online")


@dataclass(frozen=True)
class ReceivedData:
    procedure_code: str
    channel: Channel
    lookup_secret_digest: str
    applicant_ref: str | None = None

    def __post_init__(self) -> None:
        require_text(self.procedure_code, "data.procedure_code", MAX_NAME)
        require_text(self.lookup_secret_digest, "data.lookup_secret", MAX_NAME)
        optional_text(self.applicant_ref, "data.applicant_ref", MAX_NAME)


@dataclass(frozen=True)
class ReceiptRefusedData:
    reason: str

    def __post_init__(self) -> None:
        require_text(self.reason, "data.reason")


@dataclass(frozen=True)
class TransferredData:
    """A handover between units or agencies: one line of the control slip (phiếu kiểm soát)."""

    from_unit: str
    to_unit: str
    step: str | None = None
    note: str | None = None

    def __post_init__(self) -> None:
        require_text(self.from_unit, "data.from_unit", MAX_NAME)
        require_text(self.to_unit, "data.to_unit", MAX_NAME)
        optional_text(self.step, "data.step", MAX_NAME)
        optional_text(self.note, "data.note")


@dataclass(frozen=True)
class SupplementRequestedData:
    reason: str
    items: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        require_text(self.reason, "data.reason")
        for index, item in enumerate(self.items):
            require_text(item, f"data.items[{index}]")


@dataclass(frozen=True)
class SupplementProvidedData:
    pass


@dataclass(frozen=True)
class FeeRequestedData:
    amount_vnd: int

    def __post_init__(self) -> None:
        require_amount(self.amount_vnd, "data.amount_vnd")


@dataclass(frozen=True)
class FeePaidData:
    amount_vnd: int

    def __post_init__(self) -> None:
        require_amount(self.amount_vnd, "data.amount_vnd")


@dataclass(frozen=True)
class WithdrawnData:
    reason: str | None = None

    def __post_init__(self) -> None:
        optional_text(self.reason, "data.reason")


@dataclass(frozen=True)
class ProcessingStoppedData:
    reason: str

    def __post_init__(self) -> None:
        require_text(self.reason, "data.reason")


@dataclass(frozen=True)
class ResolvedData:
    outcome: Outcome
    electronic_result: bool
    result_ref: str | None = None

    def __post_init__(self) -> None:
        optional_text(self.result_ref, "data.result_ref", MAX_NAME)


@dataclass(frozen=True)
class ResultReturnedData:
    channel: Channel | None = None


@dataclass(frozen=True)
class DeadlineExtendedData:
    """The apology letter (văn bản xin lỗi) with a new appointment date."""

    new_due_at: datetime
    reason: str

    def __post_init__(self) -> None:
        require_aware(self.new_due_at, "data.new_due_at")
        require_text(self.reason, "data.reason")


@dataclass(frozen=True)
class SatisfactionRatedData:
    rating: Rating


@dataclass(frozen=True)
class AnnotatedData:
    """A note, or a correction of an earlier event (by its version): events are never edited."""

    note: str
    refers_to_version: int | None = None

    def __post_init__(self) -> None:
        require_text(self.note, "data.note")
        if self.refers_to_version is not None and self.refers_to_version < 1:
            raise InvalidEventData("data.refers_to_version", "must be a version, 1 or more")


EventData = (
    SubmittedData
    | ReceivedData
    | ReceiptRefusedData
    | TransferredData
    | SupplementRequestedData
    | SupplementProvidedData
    | FeeRequestedData
    | FeePaidData
    | WithdrawnData
    | ProcessingStoppedData
    | ResolvedData
    | ResultReturnedData
    | DeadlineExtendedData
    | SatisfactionRatedData
    | AnnotatedData
)

DATA_TYPES: Mapping[EventType, type[EventData]] = MappingProxyType(
    {
        EventType.SUBMITTED: SubmittedData,
        EventType.RECEIVED: ReceivedData,
        EventType.RECEIPT_REFUSED: ReceiptRefusedData,
        EventType.TRANSFERRED: TransferredData,
        EventType.SUPPLEMENT_REQUESTED: SupplementRequestedData,
        EventType.SUPPLEMENT_PROVIDED: SupplementProvidedData,
        EventType.FEE_REQUESTED: FeeRequestedData,
        EventType.FEE_PAID: FeePaidData,
        EventType.WITHDRAWN: WithdrawnData,
        EventType.PROCESSING_STOPPED: ProcessingStoppedData,
        EventType.RESOLVED: ResolvedData,
        EventType.RESULT_RETURNED: ResultReturnedData,
        EventType.DEADLINE_EXTENDED: DeadlineExtendedData,
        EventType.SATISFACTION_RATED: SatisfactionRatedData,
        EventType.ANNOTATED: AnnotatedData,
    }
)
"""The data class of each event type (the HTTP layer decodes `data` into it)."""


@dataclass(frozen=True)
class EventCommand:
    """One event a handling system asks the ledger to record on one dossier.

    `fingerprint` is a digest of the sender's request, computed by the application: the same
    event_id with the same fingerprint is a retry; with another fingerprint, a reused event_id.
    """

    event_id: str
    type: EventType
    occurred_at: datetime
    actor: Actor
    source: str
    data: EventData
    fingerprint: str

    def __post_init__(self) -> None:
        if not EVENT_ID_PATTERN.fullmatch(self.event_id):
            raise InvalidEventData("event_id", "must be 1 to 128 characters of A-Z a-z 0-9 . _ : -")
        require_aware(self.occurred_at, "occurred_at")
        require_text(self.source, "source", MAX_NAME)
        require_text(self.fingerprint, "fingerprint", MAX_NAME)
        if type(self.data) is not DATA_TYPES[self.type]:
            expected = DATA_TYPES[self.type].__name__
            raise InvalidEventData("data", f"a {self.type} event needs {expected}")


@dataclass(frozen=True)
class Rules:
    """What the ledger decides with: the work calendar, the procedure catalogue, the policies."""

    calendar: WorkCalendar
    procedures: ProcedureCatalogue
    supplement_policy: SupplementPolicy = SupplementPolicy.RESTART
    max_clock_skew: timedelta = timedelta(minutes=5)
