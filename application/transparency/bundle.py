"""The export of one dossier's history with its proofs (format dossier-ledger-bundle/1).

One JSON document: the signed checkpoint, and for each event of the dossier up to that checkpoint
its stored bytes, its leaf index and its inclusion proof. Each event also carries a readable
"event" object for people; the verifier never trusts it, it only checks that it says what the
stored bytes say.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import msgspec

from application.transparency.merkle import HASH_SIZE, HashStore, inclusion_proof
from application.transparency.note import Verifier, open_checkpoint

BUNDLE_FORMAT = "dossier-ledger-bundle/1"

StateDecoder = Callable[[str, bytes], Any]
"""(topic, stored state) -> the readable event; deterministic, and msgspec can encode its result."""


class BundleEvent(msgspec.Struct):
    version: int
    topic: str
    leaf_index: int
    state_b64: str
    inclusion_proof: list[str]
    event: Any = None


class Bundle(msgspec.Struct):
    format: str
    origin: str
    dossier_code: str
    dossier_id: UUID
    checkpoint: str
    events: list[BundleEvent]


class ConsistencyProofDocument(msgspec.Struct, rename={"from_": "from"}):
    """GET /v1/audit/proofs/consistency: {"from", "to", "hashes"}, hashes in standard base64."""

    from_: int
    to: int
    hashes: list[str]


@dataclass(frozen=True)
class RecordedEvent:
    """A stored event of the dossier as the events table holds it, and its leaf index in the log."""

    version: int
    topic: str
    state: bytes
    leaf_index: int


def decode_json_state(topic: str, state: bytes) -> Any:
    """The ledger's readable event: the stored state decoded as JSON; None if it is not JSON
    (a compressed or encrypted state cannot be read offline)."""
    try:
        return msgspec.json.decode(state)
    except msgspec.DecodeError:
        return None


def readable_event(decode: StateDecoder, topic: str, state: bytes) -> Any:
    """What the readable "event" of a bundle must be, normalized to plain JSON values."""
    return msgspec.json.decode(msgspec.json.encode(decode(topic, state)))


def build_bundle(
    dossier_code: str,
    *,
    dossier_id: UUID,
    checkpoint_note: str,
    verifier: Verifier,
    events: Iterable[RecordedEvent],
    store: HashStore,
    decode: StateDecoder | None = decode_json_state,
) -> Bundle:
    """The bundle of the dossier's events included in the signed checkpoint (later ones are left
    out: the checkpoint cannot prove them)."""
    checkpoint = open_checkpoint(checkpoint_note, verifier)
    included = sorted(
        (event for event in events if event.leaf_index < checkpoint.tree_size),
        key=lambda event: event.version,
    )
    return Bundle(
        format=BUNDLE_FORMAT,
        origin=checkpoint.origin,
        dossier_code=dossier_code,
        dossier_id=dossier_id,
        checkpoint=checkpoint_note,
        events=[
            BundleEvent(
                version=event.version,
                topic=event.topic,
                leaf_index=event.leaf_index,
                state_b64=encode_base64(event.state),
                inclusion_proof=[
                    encode_base64(hash_)
                    for hash_ in inclusion_proof(store, event.leaf_index, checkpoint.tree_size)
                ],
                event=None if decode is None else readable_event(decode, event.topic, event.state),
            )
            for event in included
        ],
    )


def encode_bundle(bundle: Bundle) -> bytes:
    """The bundle as indented JSON, for people to read."""
    return msgspec.json.format(msgspec.json.encode(bundle), indent=2) + b"\n"


def decode_bundle(data: bytes) -> Bundle:
    """Raises msgspec.DecodeError (or its ValidationError) if data is not a bundle document."""
    return msgspec.json.decode(data, type=Bundle)


def decode_consistency_proof(data: bytes) -> ConsistencyProofDocument:
    return msgspec.json.decode(data, type=ConsistencyProofDocument)


def encode_base64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def decode_base64(text: str) -> bytes:
    """Strict standard base64; raises ValueError."""
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("not standard base64") from None


def decode_hashes(texts: Iterable[str]) -> list[bytes]:
    """Proof hashes from base64; raises ValueError naming the first bad one."""
    hashes = []
    for position, text in enumerate(texts):
        try:
            hash_ = decode_base64(text)
        except ValueError:
            raise ValueError(f"proof hash {position} is not standard base64") from None
        if len(hash_) != HASH_SIZE:
            raise ValueError(f"proof hash {position} has {len(hash_)} bytes, not {HASH_SIZE}")
        hashes.append(hash_)
    return hashes
