"""The canonical leaf of a stored event: what the transparency log hashes for each event.

Format 1, all integers unsigned big-endian, nothing implicit:

    offset  size  field
    0       1     format version, 0x01
    1       16    originator_id: the dossier's UUID, its 16 bytes in RFC 9562 order
    17      8     originator_version: the event's version in its dossier (1, 2, ...)
    25      4     length T of the topic in bytes
    29      T     topic, UTF-8 (the event class's eventsourcing topic)
    29+T    4     length S of the stored state in bytes
    33+T    S     state: the stored bytes exactly as in the events table

The leaf hash is then SHA-256(0x00 ‖ leaf), as for every RFC 9162 leaf.
"""

from __future__ import annotations

import struct
from uuid import UUID

LEAF_FORMAT = 1
_MAX_U32 = 2**32 - 1
_MAX_U64 = 2**64 - 1


def leaf_bytes(originator_id: UUID, originator_version: int, topic: str, state: bytes) -> bytes:
    if not 0 <= originator_version <= _MAX_U64:
        raise ValueError(f"the version {originator_version} does not fit in 8 bytes")
    topic_bytes = topic.encode("utf-8")
    if len(topic_bytes) > _MAX_U32 or len(state) > _MAX_U32:
        raise ValueError("a topic or a stored state longer than 4 GiB cannot be a leaf")
    return b"".join(
        (
            struct.pack(
                ">B16sQI", LEAF_FORMAT, originator_id.bytes, originator_version, len(topic_bytes)
            ),
            topic_bytes,
            struct.pack(">I", len(state)),
            state,
        )
    )
