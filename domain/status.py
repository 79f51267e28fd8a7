"""The status model: the national portal's status codes, the event types and ONE transition table.

Status codes follow the national public service portal's TrangThaiHoSo, so reports line up with
what provinces already use. `TRANSITIONS` says which events each status allows (None: the dossier
does not exist yet); `STATUS_AFTER` says where each event leads (None: the status is unchanged).
Everything else (terminal statuses, opening events) is derived from these two tables.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import IntEnum, StrEnum
from types import MappingProxyType


class Status(IntEnum):
    """Trạng thái hồ sơ: the status of a dossier, by the national portal's code."""

    SUBMITTED = 1
    RECEIVED = 2
    RECEIPT_REFUSED = 3
    PROCESSING = 4
    SUPPLEMENT_REQUESTED = 5
    FEE_REQUESTED = 6
    WITHDRAWN = 7
    PROCESSING_STOPPED = 8
    RESOLVED = 9
    RESULT_RETURNED = 10

    @property
    def name_vi(self) -> str:
        return _NAMES[self][0]

    @property
    def name_en(self) -> str:
        return _NAMES[self][1]

    @property
    def label(self) -> str:
        """`5 (Yêu cầu bổ sung / Supplement requested)`: for messages."""
        return f"{int(self)} ({self.name_vi} / {self.name_en})"


_NAMES: Mapping[Status, tuple[str, str]] = MappingProxyType(
    {
        Status.SUBMITTED: ("Mới đăng ký", "Submitted"),
        Status.RECEIVED: ("Được tiếp nhận", "Received"),
        Status.RECEIPT_REFUSED: ("Không được tiếp nhận", "Receipt refused"),
        Status.PROCESSING: ("Đang xử lý", "Processing"),
        Status.SUPPLEMENT_REQUESTED: ("Yêu cầu bổ sung", "Supplement requested"),
        Status.FEE_REQUESTED: ("Yêu cầu thực hiện nghĩa vụ tài chính", "Fee requested"),
        Status.WITHDRAWN: ("Rút hồ sơ", "Withdrawn"),
        Status.PROCESSING_STOPPED: ("Dừng xử lý", "Processing stopped"),
        Status.RESOLVED: ("Đã xử lý xong", "Resolved"),
        Status.RESULT_RETURNED: ("Đã trả kết quả", "Result returned"),
    }
)


class EventType(StrEnum):
    """What can happen to a dossier; the value is the wire `type` and the stored event's name."""

    SUBMITTED = "Submitted"
    RECEIVED = "Received"
    RECEIPT_REFUSED = "ReceiptRefused"
    TRANSFERRED = "Transferred"
    SUPPLEMENT_REQUESTED = "SupplementRequested"
    SUPPLEMENT_PROVIDED = "SupplementProvided"
    FEE_REQUESTED = "FeeRequested"
    FEE_PAID = "FeePaid"
    WITHDRAWN = "Withdrawn"
    PROCESSING_STOPPED = "ProcessingStopped"
    RESOLVED = "Resolved"
    RESULT_RETURNED = "ResultReturned"
    DEADLINE_EXTENDED = "DeadlineExtended"
    SATISFACTION_RATED = "SatisfactionRated"
    ANNOTATED = "Annotated"


E = EventType

EVENT_TYPES: Mapping[str, EventType] = MappingProxyType({t.value: t for t in EventType})
"""Each event type by its name: what `EventType(name)` answers, without the enum's call (a
lookup per event on the write path and in every read model's catch-up)."""

_IN_PROGRESS = frozenset(
    {
        E.TRANSFERRED,
        E.SUPPLEMENT_REQUESTED,
        E.FEE_REQUESTED,
        E.WITHDRAWN,
        E.PROCESSING_STOPPED,
        E.RESOLVED,
        E.DEADLINE_EXTENDED,
        E.ANNOTATED,
    }
)
_ANNOTATED_ONLY = frozenset({E.ANNOTATED})

TRANSITIONS: Mapping[Status | None, frozenset[EventType]] = MappingProxyType(
    {
        None: frozenset({E.SUBMITTED, E.RECEIVED, E.RECEIPT_REFUSED}),
        Status.SUBMITTED: frozenset({E.RECEIVED, E.RECEIPT_REFUSED, E.WITHDRAWN, E.ANNOTATED}),
        Status.RECEIVED: _IN_PROGRESS,
        Status.RECEIPT_REFUSED: _ANNOTATED_ONLY,
        Status.PROCESSING: _IN_PROGRESS,
        Status.SUPPLEMENT_REQUESTED: frozenset(
            {E.SUPPLEMENT_PROVIDED, E.WITHDRAWN, E.PROCESSING_STOPPED, E.ANNOTATED}
        ),
        Status.FEE_REQUESTED: frozenset(
            {E.FEE_PAID, E.WITHDRAWN, E.PROCESSING_STOPPED, E.DEADLINE_EXTENDED, E.ANNOTATED}
        ),
        Status.WITHDRAWN: _ANNOTATED_ONLY,
        Status.PROCESSING_STOPPED: _ANNOTATED_ONLY,
        Status.RESOLVED: frozenset({E.RESULT_RETURNED, E.SATISFACTION_RATED, E.ANNOTATED}),
        Status.RESULT_RETURNED: frozenset({E.SATISFACTION_RATED, E.ANNOTATED}),
    }
)
"""The one transition table: the events each status allows (None: no dossier yet)."""

STATUS_AFTER: Mapping[EventType, Status | None] = MappingProxyType(
    {
        E.SUBMITTED: Status.SUBMITTED,
        E.RECEIVED: Status.RECEIVED,
        E.RECEIPT_REFUSED: Status.RECEIPT_REFUSED,
        E.TRANSFERRED: Status.PROCESSING,
        E.SUPPLEMENT_REQUESTED: Status.SUPPLEMENT_REQUESTED,
        E.SUPPLEMENT_PROVIDED: Status.PROCESSING,
        E.FEE_REQUESTED: Status.FEE_REQUESTED,
        E.FEE_PAID: Status.PROCESSING,
        E.WITHDRAWN: Status.WITHDRAWN,
        E.PROCESSING_STOPPED: Status.PROCESSING_STOPPED,
        E.RESOLVED: Status.RESOLVED,
        E.RESULT_RETURNED: Status.RESULT_RETURNED,
        E.DEADLINE_EXTENDED: None,
        E.SATISFACTION_RATED: None,
        E.ANNOTATED: None,
    }
)
"""The status each event leads to (None: the status is unchanged)."""

del E

OPENING_EVENTS: frozenset[EventType] = TRANSITIONS[None]
"""The events that may start a dossier's history."""

TERMINAL_STATUSES: frozenset[Status] = frozenset(
    status
    for status, allowed in TRANSITIONS.items()
    if status is not None and all(STATUS_AFTER[event] is None for event in allowed)
)
"""Statuses no event can leave: 3, 7, 8 and 10 (a note or a rating may still be added)."""


def is_allowed(status: Status | None, event_type: EventType) -> bool:
    """Whether the transition table allows `event_type` in `status` (None: no dossier yet)."""
    return event_type in TRANSITIONS[status]


def status_after(status: Status | None, event_type: EventType) -> Status | None:
    """The status once `event_type` is applied in `status` (which must allow it)."""
    after = STATUS_AFTER[event_type]
    return status if after is None else after
