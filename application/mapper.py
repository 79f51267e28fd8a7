"""Stored events encoded with msgspec: typed JSON, decoded straight into the event's field types."""

from __future__ import annotations

import dataclasses
import typing
from typing import Any
from uuid import UUID

import msgspec
from eventsourcing.domain import DomainEventProtocol
from eventsourcing.persistence import Mapper, MapperDeserialisationError, StoredEvent
from eventsourcing.utils import get_topic, resolve_topic

_IDENTITY_FIELDS = frozenset({"originator_id", "originator_version"})
_ENCODER = msgspec.json.Encoder(order="deterministic")


_STATE_TYPES: dict[type[Any], type[msgspec.Struct]] = {}
_DECODERS: dict[type[Any], msgspec.json.Decoder[Any]] = {}
_TOPICS: dict[str, type[Any]] = {}


_CLASS_VERSION = "class_version"


def _state_type(event_class: type[Any]) -> type[msgspec.Struct]:
    """A msgspec Struct with the event class's fields (its identity fields aside), and the
    class version it was stored at (1 when the stored state does not say)."""
    if (known := _STATE_TYPES.get(event_class)) is not None:
        return known
    hints = typing.get_type_hints(event_class)
    fields: list[tuple[str, Any] | tuple[str, Any, Any]] = [
        (field.name, hints[field.name])
        for field in dataclasses.fields(event_class)
        if field.name not in _IDENTITY_FIELDS
    ]
    fields.append((_CLASS_VERSION, int, 1))
    state_type = msgspec.defstruct(f"{event_class.__qualname__}State", fields, kw_only=True)
    _STATE_TYPES[event_class] = state_type
    return state_type


def _decoder(event_class: type[Any]) -> msgspec.json.Decoder[Any]:
    if (known := _DECODERS.get(event_class)) is None:
        known = _DECODERS[event_class] = msgspec.json.Decoder(_state_type(event_class))
    return known


class MsgspecMapper(Mapper[UUID]):
    """Maps domain events to stored events and back with msgspec (no standard-library json).

    Encoding is deterministic (keys sorted), so the stored bytes of an event are a function of
    the event alone: the transparency log hashes those bytes.
    """

    def to_stored_event(self, domain_event: DomainEventProtocol[UUID]) -> StoredEvent:
        state = dict(vars(domain_event))
        originator_id = state.pop("originator_id")
        originator_version = state.pop("originator_version")
        class_version = getattr(type(domain_event), "class_version", 1)
        if class_version > 1:
            state["class_version"] = class_version
        stored_state = _ENCODER.encode(state)
        if self.compressor:
            stored_state = self.compressor.compress(stored_state)
        if self.cipher:
            stored_state = self.cipher.encrypt(stored_state)
        return StoredEvent(
            originator_id=originator_id,
            originator_version=originator_version,
            topic=get_topic(type(domain_event)),
            state=stored_state,
        )

    def to_domain_event(self, stored_event: StoredEvent) -> DomainEventProtocol[UUID]:
        return self.decode(
            stored_event.topic,
            stored_event.originator_id,
            stored_event.originator_version,
            stored_event.state,
        )

    def decode(
        self, topic: str, originator_id: UUID | str, originator_version: int, data: bytes
    ) -> DomainEventProtocol[UUID]:
        """The domain event of a stored record's fields (projectors decode rows as they are read:
        no StoredEvent in between)."""
        event_class = _TOPICS.get(topic)
        if event_class is None:
            event_class = _TOPICS[topic] = resolve_topic(topic)
        try:
            if self.cipher:
                data = self.cipher.decrypt(data)
            if self.compressor:
                data = self.compressor.decompress(data)
            state = self._decode_state(event_class, data)
        except (msgspec.DecodeError, msgspec.ValidationError, ValueError) as error:
            msg = (
                f"Failed to decode stored event {topic} of "
                f"{originator_id} version {originator_version}: {error}"
            )
            raise MapperDeserialisationError(msg) from error
        state["originator_id"] = (
            originator_id if isinstance(originator_id, UUID) else UUID(originator_id)
        )
        state["originator_version"] = originator_version
        event = object.__new__(event_class)
        object.__setattr__(event, "__dict__", state)
        return typing.cast(DomainEventProtocol[UUID], event)

    @staticmethod
    def _decode_state(event_class: type[Any], data: bytes) -> dict[str, Any]:
        """Straight into the typed state when it was stored at the class's version; else read
        as it was stored, upcast version by version, then typed."""
        class_version: int = getattr(event_class, "class_version", 1)
        try:
            decoded = msgspec.structs.asdict(_decoder(event_class).decode(data))
        except msgspec.ValidationError:
            if class_version == 1:
                raise
        else:
            if decoded.pop(_CLASS_VERSION) == class_version:
                return decoded
        raw: dict[str, Any] = msgspec.json.decode(data)
        from_version = raw.pop("class_version", 1)
        while from_version < class_version:
            getattr(event_class, f"upcast_v{from_version}_v{from_version + 1}")(raw)
            from_version += 1
        converted = msgspec.structs.asdict(
            msgspec.convert(raw, _state_type(event_class), strict=False)
        )
        del converted[_CLASS_VERSION]
        return converted
