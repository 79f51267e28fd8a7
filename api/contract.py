"""The events handling systems post, typed: one msgspec struct per event type, with bounds.

Each event type is its own struct, chosen by `type` (a msgspec tagged union), so decoding,
validation and the OpenAPI document come from these declarations alone. Every field has bounds
(docs/integrators.md lists them): instants between 2000 and 2100, lengths, counts, amounts, no
NUL character in any text. What the schema cannot say (a business rule) is the domain's.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Annotated, Literal, TypeVar, Union, cast, get_args

import msgspec

from api.problems import ProblemError
from domain.commands import Channel, Outcome, Rating

NO_NUL = r"^[^\x00]*$"
EVENT_ID = r"^[A-Za-z0-9._:-]{1,128}$"
FIRST_YEAR, LAST_YEAR = 2000, 2100  # instants outside these years are refused (any offset)
MAX_AMOUNT_VND = 1_000_000_000_000  # a thousand billion đồng
MAX_ITEMS = 100
MAX_VERSION = 2_147_483_647

Name = Annotated[str, msgspec.Meta(min_length=1, max_length=200, pattern=NO_NUL)]
"""An identifier, a code, a unit's name, a reference: 1 to 200 characters."""
Text = Annotated[str, msgspec.Meta(min_length=1, max_length=2000, pattern=NO_NUL)]
"""A reason or a note: 1 to 2,000 characters."""
Instant = Annotated[
    datetime,
    msgspec.Meta(
        tz=True,
        description=f"RFC 3339 with an offset, in the years {FIRST_YEAR} to {LAST_YEAR}",
        examples=["2026-02-13T10:00:00+07:00"],
    ),
]
AmountVnd = Annotated[int, msgspec.Meta(ge=0, le=MAX_AMOUNT_VND, description="whole VND")]
Secret = Annotated[
    str,
    msgspec.Meta(
        min_length=4,
        max_length=64,
        pattern=NO_NUL,
        description="printed on the receipt; the ledger keeps only its digest",
    ),
]
Version = Annotated[int, msgspec.Meta(ge=0, le=MAX_VERSION)]


class Data(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True, frozen=True):
    """The base of every event type's `data`."""


class SubmittedData(Data, frozen=True):
    """Registered online on a portal, not yet received (status 1 exists only online)."""

    procedure_code: Name
    channel: Literal["online"]


class ReceivedData(Data, frozen=True):
    """Received: the clock starts and the ledger computes the due date."""

    procedure_code: Name
    channel: Channel
    lookup_secret: Secret
    applicant_ref: Name | None = None


class ReceiptRefusedData(Data, frozen=True):
    reason: Text


class TransferredData(Data, frozen=True):
    """A handover between units or agencies: one line of the control slip."""

    from_unit: Name
    to_unit: Name
    step: Name | None = None
    note: Text | None = None


class SupplementRequestedData(Data, frozen=True):
    """The clock pauses until the applicant supplements the dossier."""

    reason: Text
    items: Annotated[list[Text], msgspec.Meta(max_length=MAX_ITEMS)] = []


class SupplementProvidedData(Data, frozen=True):
    pass


class FeeRequestedData(Data, frozen=True):
    amount_vnd: AmountVnd


class FeePaidData(Data, frozen=True):
    amount_vnd: AmountVnd


class WithdrawnData(Data, frozen=True):
    reason: Text | None = None


class ProcessingStoppedData(Data, frozen=True):
    reason: Text


class ResolvedData(Data, frozen=True):
    outcome: Outcome
    electronic_result: bool
    result_ref: Name | None = None


class ResultReturnedData(Data, frozen=True):
    channel: Channel | None = None


class DeadlineExtendedData(Data, frozen=True):
    """The apology letter with a new appointment date (the original due date is kept)."""

    new_due_at: Instant
    reason: Text


class SatisfactionRatedData(Data, frozen=True):
    rating: Rating


class AnnotatedData(Data, frozen=True):
    """A note, or a correction of an earlier event by its version: events are never edited."""

    note: Text
    refers_to_version: Annotated[int, msgspec.Meta(ge=1, le=MAX_VERSION)] | None = None


class Actor(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """A pseudonymous official id and role, never a name."""

    id: Name
    role: Name


class Event(
    msgspec.Struct, tag_field="type", forbid_unknown_fields=True, frozen=True, kw_only=True
):
    """The fields every event carries; `type` chooses the struct and so the `data`."""

    event_id: Annotated[
        str, msgspec.Meta(pattern=EVENT_ID, description="the sender's idempotency key")
    ]
    occurred_at: Instant
    actor: Actor
    expected_version: Version | None = None


class SubmittedEvent(Event, tag="Submitted", frozen=True):
    data: SubmittedData


class ReceivedEvent(Event, tag="Received", frozen=True):
    data: ReceivedData


class ReceiptRefusedEvent(Event, tag="ReceiptRefused", frozen=True):
    data: ReceiptRefusedData


class TransferredEvent(Event, tag="Transferred", frozen=True):
    data: TransferredData


class SupplementRequestedEvent(Event, tag="SupplementRequested", frozen=True):
    data: SupplementRequestedData


class SupplementProvidedEvent(Event, tag="SupplementProvided", frozen=True):
    data: SupplementProvidedData = SupplementProvidedData()


class FeeRequestedEvent(Event, tag="FeeRequested", frozen=True):
    data: FeeRequestedData


class FeePaidEvent(Event, tag="FeePaid", frozen=True):
    data: FeePaidData


class WithdrawnEvent(Event, tag="Withdrawn", frozen=True):
    data: WithdrawnData = WithdrawnData()


class ProcessingStoppedEvent(Event, tag="ProcessingStopped", frozen=True):
    data: ProcessingStoppedData


class ResolvedEvent(Event, tag="Resolved", frozen=True):
    data: ResolvedData


class ResultReturnedEvent(Event, tag="ResultReturned", frozen=True):
    data: ResultReturnedData = ResultReturnedData()


class DeadlineExtendedEvent(Event, tag="DeadlineExtended", frozen=True):
    data: DeadlineExtendedData


class SatisfactionRatedEvent(Event, tag="SatisfactionRated", frozen=True):
    data: SatisfactionRatedData


class AnnotatedEvent(Event, tag="Annotated", frozen=True):
    data: AnnotatedData


EventIn = Union[  # noqa: UP007 (a union of classes is a value here, for msgspec and OpenAPI)
    SubmittedEvent,
    ReceivedEvent,
    ReceiptRefusedEvent,
    TransferredEvent,
    SupplementRequestedEvent,
    SupplementProvidedEvent,
    FeeRequestedEvent,
    FeePaidEvent,
    WithdrawnEvent,
    ProcessingStoppedEvent,
    ResolvedEvent,
    ResultReturnedEvent,
    DeadlineExtendedEvent,
    SatisfactionRatedEvent,
    AnnotatedEvent,
]
EVENT_TYPES: tuple[type[Event], ...] = get_args(EventIn)


DossierCodeText = Annotated[
    str,
    msgspec.Meta(
        min_length=1,
        max_length=64,
        pattern=NO_NUL,
        description="the dossier code, {agency}-{yyMMdd}-{serial}",
        examples=["000.00.31.H56-260213-0001"],
    ),
]


def _in_batch(event_type: type[Event]) -> type[Event]:
    """The same event as a batch item: its fields and the dossier it belongs to."""
    # defstruct is typed to return a Struct; with `bases=(event_type,)` it is an Event.
    return cast(
        "type[Event]",
        msgspec.defstruct(
            f"{event_type.__struct_config__.tag}InBatch",
            [("dossier_code", DossierCodeText)],
            bases=(event_type,),
            tag_field="type",
            tag=event_type.__struct_config__.tag,
            forbid_unknown_fields=True,
            frozen=True,
            kw_only=True,
            module=__name__,
        ),
    )


BATCH_EVENT_TYPES = tuple(_in_batch(t) for t in EVENT_TYPES)
BatchEventIn = Union[BATCH_EVENT_TYPES]  # type: ignore[valid-type]  # noqa: UP007
MAX_BATCH_EVENTS = 10_000  # the schema's own bound; the setting LEDGER_BATCH_LIMIT is lower


class BatchIn(msgspec.Struct, forbid_unknown_fields=True):
    """Events across dossiers, judged one by one: one bad event does not sink the batch."""

    events: Annotated[list[BatchEventIn], msgspec.Meta(min_length=1)]


class _RawBatch(msgspec.Struct, forbid_unknown_fields=True):
    events: list[msgspec.Raw]


class _DossierCodeOnly(msgspec.Struct):
    dossier_code: str | None = None


_EVENT_DECODER = msgspec.json.Decoder(EventIn)
_BATCH_ITEM_DECODER = msgspec.json.Decoder(BatchEventIn)
_RAW_BATCH_DECODER = msgspec.json.Decoder(_RawBatch)
_CODE_ONLY_DECODER = msgspec.json.Decoder(_DossierCodeOnly)
_TYPE_NAMES = ", ".join(t.__struct_config__.tag for t in EVENT_TYPES)  # type: ignore[misc]


def decode_event(body: bytes) -> Event:
    """One event from a request body, or a ProblemError naming the field and the rule."""
    return _checked(_decode(_EVENT_DECODER, body))


def decode_batch(body: bytes) -> list[msgspec.Raw]:
    """A batch's events, each still raw: they are decoded one by one (`decode_batch_item`)."""
    try:
        body.decode("utf-8")  # the items are only skipped here: check their text as a whole
    except UnicodeDecodeError as error:
        raise ProblemError(400, "malformed_json", f"the body is not valid UTF-8: {error}") from None
    return _decode(_RAW_BATCH_DECODER, body).events


def decode_batch_item(raw: msgspec.Raw) -> Event:
    return _checked(_decode(_BATCH_ITEM_DECODER, raw))


MAX_DEPTH = 32
"""JSON nested deeper than this is refused as malformed (an event needs four levels)."""
_STRUCTURE = re.compile(rb'[\[\]{}"\\]')


def nested_too_deeply(body: bytes | msgspec.Raw, limit: int = MAX_DEPTH) -> bool:
    """Whether arrays and objects nest deeper than `limit` (strings are skipped)."""
    data = bytes(body)
    if data.count(b"[") + data.count(b"{") <= limit:
        return False
    depth = 0
    in_string = escaped = False
    for match in _STRUCTURE.finditer(data):
        token = match.group()
        if in_string:
            if escaped:  # the character after a backslash
                escaped = False
            elif token == b"\\":
                escaped = data[match.end() : match.end() + 1] in (b'"', b"\\")
            elif token == b'"':
                in_string = False
        elif token == b'"':
            in_string = True
        elif token in (b"[", b"{"):
            depth += 1
            if depth > limit:
                return True
        elif token in (b"]", b"}"):
            depth -= 1
    return False


def batch_item_code(raw: msgspec.Raw) -> str | None:
    """The dossier code of a batch item that may be invalid otherwise (authority comes first)."""
    try:
        code = _CODE_ONLY_DECODER.decode(raw).dossier_code
    except (msgspec.DecodeError, msgspec.ValidationError, RecursionError, UnicodeDecodeError):
        return None
    return code


T = TypeVar("T")


def _decode(decoder: msgspec.json.Decoder[T], body: bytes | msgspec.Raw) -> T:
    try:
        return decoder.decode(body)
    except msgspec.ValidationError as error:
        if nested_too_deeply(body):  # judged only on failure: valid events cost nothing
            raise _too_deep() from None
        raise _invalid(str(error)) from None
    except (msgspec.DecodeError, UnicodeDecodeError) as error:
        raise ProblemError(400, "malformed_json", f"the body is not valid JSON: {error}") from None
    except RecursionError:
        raise _too_deep() from None


def _too_deep() -> ProblemError:
    return ProblemError(
        400, "malformed_json", f"the body nests arrays and objects deeper than {MAX_DEPTH} levels"
    )


def _invalid(message: str) -> ProblemError:
    """msgspec's message names the path (`… - at `$.data.reason``): the wire field and the rule."""
    path = ""
    if " - at `$" in message:
        message, path = message.rsplit(" - at `$", 1)
        path = path.rstrip("`")
    field = _field_name(path)
    if message.startswith("Object missing required field `"):
        name = message.split("`")[1]
        return ProblemError(
            422, "missing_field", f"{_join(field, name)} is required", field=_join(field, name)
        )
    if message.startswith("Object contains unknown field `"):
        name = message.split("`")[1]
        return ProblemError(
            422,
            "unknown_field",
            f"there is no field {_join(field, name)}",
            field=_join(field, name),
        )
    if field.endswith("type") and message.startswith("Invalid value"):
        return ProblemError(
            422, "unknown_event_type", f"{message}; type is one of: {_TYPE_NAMES}", field=field
        )
    if not field:  # the body is JSON, but not an object
        return ProblemError(422, "invalid_value", f"the body must be a JSON object: {message}")
    return ProblemError(422, "invalid_value", f"{field}: {message}", field=field)


def _field_name(path: str) -> str:
    """`.events[3].data.reason` → `events[3].data.reason`; `` → ``."""
    return path.lstrip(".")


def _join(parent: str, name: str) -> str:
    return f"{parent}.{name}" if parent else name


def _checked(event: Event) -> Event:
    """What msgspec cannot bound: instants within the years the ledger can compute with."""
    check_year(event.occurred_at, "occurred_at")
    if isinstance(event, DeadlineExtendedEvent):
        check_year(event.data.new_due_at, "data.new_due_at")
    return event


def check_year(value: date | datetime, field: str) -> None:
    """A date or instant within the years the ledger can compute with (its local year)."""
    if not FIRST_YEAR <= value.year <= LAST_YEAR:
        raise ProblemError(
            422,
            "invalid_value",
            f"{field} must be in the years {FIRST_YEAR} to {LAST_YEAR}",
            field=field,
        )
