"""Witness cosignatures of checkpoints: C2SP tlog-cosignature/v1, Ed25519 with a timestamp.

    key id        SHA-256(name ‖ 0x0A ‖ 0x04 ‖ 32-byte Ed25519 public key)[:4], big-endian
    verifier key  <name>+<key id, 8 hex digits>+<base64(0x04 ‖ public key)>
    signer key    PRIVATE+KEY+<name>+<key id>+<base64(0x04 ‖ 32-byte private seed)>
    signed        "cosignature/v1\\ntime <timestamp>\\n" ‖ the checkpoint's note text
    line          — <name> <base64(key id ‖ u64 timestamp ‖ Ed25519 signature)>

A cosignature says: as of the timestamp (POSIX seconds), this is the largest tree, consistent
with everything the witness saw before, that the witness has seen of the log.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import struct
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from application.transparency.note import (
    SIGNATURE_PREFIX,
    MalformedKeyError,
    is_valid_key_name,
)

COSIGNATURE_V1 = 0x04
HEADER = "cosignature/v1\n"
_SIGNATURE_SIZE = 4 + 8 + 64
_MAX_TIMESTAMP = 2**63 - 1


def cosigner_key_id(name: str, public_key: bytes) -> int:
    digest = hashlib.sha256(name.encode() + b"\n" + bytes([COSIGNATURE_V1]) + public_key).digest()
    value: int = struct.unpack(">I", digest[:4])[0]
    return value


def signed_message(note_text: str, timestamp: int) -> bytes:
    """What a cosigner signs: the header line, the time line, the checkpoint's whole text."""
    return f"{HEADER}time {timestamp}\n{note_text}".encode()


@dataclass(frozen=True)
class Cosignature:
    """A verified cosignature: who signed, when, and its note signature line."""

    witness: str
    """The witness's verifier key."""
    timestamp: int
    line: str


@dataclass(frozen=True)
class CosignatureVerifier:
    name: str
    key_id: int
    public_key: Ed25519PublicKey

    @classmethod
    def from_vkey(cls, text: str) -> CosignatureVerifier:
        """Reads a witness's verifier key, <name>+<key id>+<base64(0x04 ‖ public key)>."""
        parts = text.strip().split("+", 2)
        if len(parts) != 3:
            raise MalformedKeyError("a witness key is <name>+<key id>+<base64 key>")
        name, id_text, key_text = parts
        key = _key_material(name, id_text, key_text, "witness key")
        if int(id_text, 16) != cosigner_key_id(name, key):
            raise MalformedKeyError(f"the key id {id_text} is not the id of this name and key")
        return cls(name, int(id_text, 16), Ed25519PublicKey.from_public_bytes(key))

    def vkey(self) -> str:
        raw = bytes([COSIGNATURE_V1]) + self.public_key.public_bytes_raw()
        return f"{self.name}+{self.key_id:08x}+{base64.b64encode(raw).decode()}"

    def verify_line(self, note_text: str, line: str) -> Cosignature | None:
        """The cosignature if `line` is this witness's valid cosignature of note_text; None if
        the line is another key's or does not verify."""
        decoded = self._own_signature(line)
        if decoded is None or len(decoded) != _SIGNATURE_SIZE:
            return None
        (timestamp,) = struct.unpack(">Q", decoded[4:12])
        if timestamp > _MAX_TIMESTAMP:
            return None
        try:
            self.public_key.verify(decoded[12:], signed_message(note_text, timestamp))
        except InvalidSignature:
            return None
        return Cosignature(self.vkey(), timestamp, line if line.endswith("\n") else line + "\n")

    def _own_signature(self, line: str) -> bytes | None:
        line = line.rstrip("\n")
        if not line.startswith(SIGNATURE_PREFIX):
            return None
        name, _, encoded = line.removeprefix(SIGNATURE_PREFIX).partition(" ")
        if name != self.name:
            return None
        try:
            decoded = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            return None
        if len(decoded) < 4 or struct.unpack(">I", decoded[:4])[0] != self.key_id:
            return None
        return decoded


@dataclass(frozen=True)
class CosignatureSigner:
    name: str
    key_id: int
    private_key: Ed25519PrivateKey

    @classmethod
    def from_key(cls, text: str) -> CosignatureSigner:
        parts = text.strip().split("+", 4)
        if len(parts) != 5 or parts[:2] != ["PRIVATE", "KEY"]:
            raise MalformedKeyError("a signer key is PRIVATE+KEY+<name>+<key id>+<base64 key>")
        name, id_text, key_text = parts[2:]
        seed = _key_material(name, id_text, key_text, "witness signer key")
        private_key = Ed25519PrivateKey.from_private_bytes(seed)
        if int(id_text, 16) != cosigner_key_id(name, private_key.public_key().public_bytes_raw()):
            raise MalformedKeyError(f"the key id {id_text} is not the id of this name and key")
        return cls(name, int(id_text, 16), private_key)

    @classmethod
    def from_file(cls, path: Path) -> CosignatureSigner:
        return cls.from_key(path.read_text(encoding="utf-8"))

    def verifier(self) -> CosignatureVerifier:
        return CosignatureVerifier(self.name, self.key_id, self.private_key.public_key())

    def cosign(self, note_text: str, timestamp: int) -> str:
        """The signature line cosigning the checkpoint whose note text is note_text."""
        if not 0 < timestamp <= _MAX_TIMESTAMP:
            raise ValueError("a cosignature's timestamp is a positive POSIX time")
        signature = self.private_key.sign(signed_message(note_text, timestamp))
        raw = struct.pack(">IQ", self.key_id, timestamp) + signature
        return f"{SIGNATURE_PREFIX}{self.name} {base64.b64encode(raw).decode()}\n"


def generate_cosigner(name: str) -> str:
    """A new witness signer key text for name (keep it secret; publish its verifier key)."""
    if not is_valid_key_name(name):
        raise MalformedKeyError(f"{name!r} cannot be a key name: empty, or with a space or a +")
    private_key = Ed25519PrivateKey.generate()
    identifier = cosigner_key_id(name, private_key.public_key().public_bytes_raw())
    raw = bytes([COSIGNATURE_V1]) + private_key.private_bytes_raw()
    return f"PRIVATE+KEY+{name}+{identifier:08x}+{base64.b64encode(raw).decode()}"


def note_text_and_lines(note: str) -> tuple[str, list[str]]:
    """A signed note's text (up to and with its last newline before the blank line) and its
    signature lines."""
    split = note.rfind("\n\n")
    if split < 0:
        raise ValueError("a note is text, a blank line, then signature lines")
    return note[: split + 1], [line for line in note[split + 2 :].split("\n") if line]


def cosignatures_of(note: str, witnesses: Iterable[CosignatureVerifier]) -> list[Cosignature]:
    """The valid cosignatures in note by the given witnesses, one per witness (others ignored)."""
    text, lines = note_text_and_lines(note)
    found: dict[str, Cosignature] = {}
    for witness in witnesses:
        for line in lines:
            cosignature = witness.verify_line(text, line)
            if cosignature is not None:
                found.setdefault(cosignature.witness, cosignature)
                break
    return list(found.values())


def _key_material(name: str, id_text: str, key_text: str, what: str) -> bytes:
    if not is_valid_key_name(name):
        raise MalformedKeyError(f"{name!r} cannot be a key name: empty, or with a space or a +")
    if len(id_text) != 8 or any(c not in "0123456789abcdefABCDEF" for c in id_text):
        raise MalformedKeyError(f"the key id {id_text!r} is not 8 hexadecimal digits")
    try:
        key = base64.b64decode(key_text, validate=True)
    except (binascii.Error, ValueError):
        raise MalformedKeyError(f"the {what} is not standard base64") from None
    if len(key) != 33 or key[0] != COSIGNATURE_V1:
        raise MalformedKeyError(
            f"the {what} is not 0x04 (an Ed25519 cosignature key) followed by 32 bytes"
        )
    return key[1:]
