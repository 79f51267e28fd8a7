"""Signed checkpoints: C2SP signed notes (c2sp.org/signed-note) with Ed25519 keys, whose text is a
C2SP checkpoint (c2sp.org/tlog-checkpoint). Interoperable with golang.org/x/mod/sumdb/note.

    key id         SHA-256(key name ‖ 0x0A ‖ 0x01 ‖ 32-byte public key)[:4], big-endian
    verifier key   <name>+<key id, 8 hex digits>+<base64(0x01 ‖ public key)>
    signer key     PRIVATE+KEY+<name>+<key id>+<base64(0x01 ‖ 32-byte private seed)>
    note           <text ending in a newline>\\n— <name> <base64(key id ‖ Ed25519 signature)>\\n...
    checkpoint     <origin>\\n<tree size, decimal>\\n<base64 root hash>\\n

The ledger signs each checkpoint with a key named after the log's origin, and a verifier accepts
a checkpoint only if its origin is the name of the key it trusts.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import struct
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from application.transparency.merkle import HASH_SIZE

ED25519 = 0x01
SIGNATURE_PREFIX = "\u2014 "  # em dash, space
MAX_SIGNATURES = 100
_KEY_ID = re.compile(r"[0-9a-fA-F]{8}")
_TREE_SIZE = re.compile(r"0|[1-9][0-9]*")


class NoteError(ValueError):
    """A key, a note or a checkpoint cannot be used; the message says why."""


class MalformedKeyError(NoteError):
    pass


class MalformedNoteError(NoteError):
    pass


class MalformedCheckpointError(NoteError):
    pass


class NotSignedByKeyError(NoteError):
    """The note carries no signature by the trusted key."""


class InvalidSignatureError(NoteError):
    """The trusted key's signature does not match the note's text."""


class WrongOriginError(NoteError):
    """The checkpoint is of another log than the one the key belongs to."""


def key_id(name: str, public_key: bytes) -> int:
    digest = hashlib.sha256(name.encode() + b"\n" + bytes([ED25519]) + public_key).digest()
    value: int = struct.unpack(">I", digest[:4])[0]
    return value


def is_valid_key_name(name: str) -> bool:
    return bool(name) and "+" not in name and not any(c.isspace() for c in name)


@dataclass(frozen=True)
class Verifier:
    name: str
    key_id: int
    public_key: Ed25519PublicKey

    @classmethod
    def from_vkey(cls, text: str) -> Verifier:
        """Reads a verifier key, <name>+<key id>+<base64(0x01 ‖ public key)>."""
        parts = text.strip().split("+", 2)
        if len(parts) != 3:
            raise MalformedKeyError("a verifier key is <name>+<key id>+<base64 key>")
        name, id_text, key_text = parts
        key = _key_material(name, id_text, key_text)
        public_key = Ed25519PublicKey.from_public_bytes(key)
        if int(id_text, 16) != key_id(name, key):
            raise MalformedKeyError(f"the key id {id_text} is not the id of this name and key")
        return cls(name, int(id_text, 16), public_key)

    def vkey(self) -> str:
        public = self.public_key.public_bytes_raw()
        return f"{self.name}+{self.key_id:08x}+{_b64(bytes([ED25519]) + public)}"

    def verifies(self, text: bytes, signature: bytes) -> bool:
        try:
            self.public_key.verify(signature, text)
        except InvalidSignature:
            return False
        return True


@dataclass(frozen=True)
class Signer:
    name: str
    key_id: int
    private_key: Ed25519PrivateKey

    @classmethod
    def from_key(cls, text: str) -> Signer:
        """Reads a signer key, PRIVATE+KEY+<name>+<key id>+<base64(0x01 ‖ seed)>."""
        parts = text.strip().split("+", 4)
        if len(parts) != 5 or parts[:2] != ["PRIVATE", "KEY"]:
            raise MalformedKeyError("a signer key is PRIVATE+KEY+<name>+<key id>+<base64 key>")
        name, id_text, key_text = parts[2:]
        private_key = Ed25519PrivateKey.from_private_bytes(_key_material(name, id_text, key_text))
        if int(id_text, 16) != key_id(name, private_key.public_key().public_bytes_raw()):
            raise MalformedKeyError(f"the key id {id_text} is not the id of this name and key")
        return cls(name, int(id_text, 16), private_key)

    @classmethod
    def from_file(cls, path: Path) -> Signer:
        return cls.from_key(path.read_text(encoding="utf-8"))

    def verifier(self) -> Verifier:
        return Verifier(self.name, self.key_id, self.private_key.public_key())

    def signature_line(self, text: str) -> str:
        signature = self.private_key.sign(text.encode())
        return f"{SIGNATURE_PREFIX}{self.name} {_b64(struct.pack('>I', self.key_id) + signature)}\n"


def generate_signer(name: str) -> str:
    """A new signer key text for name (keep it secret; its verifier key is public)."""
    if not is_valid_key_name(name):
        raise MalformedKeyError(f"{name!r} cannot be a key name: empty, or with a space or a +")
    private_key = Ed25519PrivateKey.generate()
    seed = private_key.private_bytes_raw()
    identifier = key_id(name, private_key.public_key().public_bytes_raw())
    return f"PRIVATE+KEY+{name}+{identifier:08x}+{_b64(bytes([ED25519]) + seed)}"


def _key_material(name: str, id_text: str, key_text: str) -> bytes:
    """The 32 key bytes after the Ed25519 type byte, once name and id are well formed."""
    if not is_valid_key_name(name):
        raise MalformedKeyError(f"{name!r} cannot be a key name: empty, or with a space or a +")
    if not _KEY_ID.fullmatch(id_text):
        raise MalformedKeyError(f"the key id {id_text!r} is not 8 hexadecimal digits")
    key = _b64decode(key_text, MalformedKeyError, "the key")
    if len(key) != 33 or key[0] != ED25519:
        raise MalformedKeyError("the key is not 0x01 (Ed25519) followed by 32 bytes")
    return key[1:]


def sign_note(text: str, signer: Signer) -> str:
    _check_note_characters(text)
    if not text.endswith("\n"):
        raise MalformedNoteError("a note's text ends with a newline")
    return f"{text}\n{signer.signature_line(text)}"


def open_note(note: str | bytes, verifier: Verifier) -> str:
    """The note's text once verifier's signature on it verifies (golang.org/x/mod/sumdb/note Open).

    Signatures by other keys are ignored; a wrong signature by the trusted key rejects the note.
    """
    note = _note_text(note)
    text, signature_block = _split_note(note)
    others: list[str] = []
    verified = False
    lines = signature_block.split("\n")[:-1]
    if len(lines) > MAX_SIGNATURES:
        raise MalformedNoteError(f"a note has at most {MAX_SIGNATURES} signatures")
    for line in lines:
        name, identifier, signature = _parse_signature_line(line)
        if (name, identifier) != (verifier.name, verifier.key_id):
            others.append(f"{name}+{identifier:08x}")
        elif not verified:
            if not verifier.verifies(text.encode(), signature):
                raise InvalidSignatureError(
                    f"the signature by {verifier.name}+{verifier.key_id:08x} does not match the"
                    " note: its text was changed after signing, or the signature is forged"
                )
            verified = True
    if not verified:
        trusted = f"{verifier.name}+{verifier.key_id:08x}"
        cause = "another log"
        if any(other.startswith(f"{verifier.name}+") for other in others):
            cause = "another key of the same name (a replaced key, or a forgery)"
        raise NotSignedByKeyError(
            f"the note is not signed by the key {trusted} but by {', '.join(others)}:"
            f" it comes from {cause}"
        )
    return text


def _note_text(note: str | bytes) -> str:
    if isinstance(note, bytes):
        try:
            note = note.decode("utf-8")
        except UnicodeDecodeError as error:
            raise MalformedNoteError(f"a note is UTF-8 text: {error}") from None
    _check_note_characters(note)
    return note


def _check_note_characters(text: str) -> None:
    for position, character in enumerate(text):
        if character < " " and character != "\n":
            raise MalformedNoteError(
                f"control character {ord(character):#04x} at position {position}: a note has"
                " no control characters but newlines (were its line endings converted?)"
            )
        if "\ud800" <= character <= "\udfff":
            raise MalformedNoteError(f"invalid UTF-8 at position {position}")


def _split_note(note: str) -> tuple[str, str]:
    split = note.rfind("\n\n")
    if split < 0:
        raise MalformedNoteError("a note is text, a blank line, then signature lines")
    text, signature_block = note[: split + 1], note[split + 2 :]
    if not signature_block.endswith("\n"):
        raise MalformedNoteError("a note ends with signature lines, each ending in a newline")
    return text, signature_block


def _parse_signature_line(line: str) -> tuple[str, int, bytes]:
    if not line.startswith(SIGNATURE_PREFIX):
        raise MalformedNoteError(f"a signature line starts with an em dash and a space: {line!r}")
    name, _, encoded = line.removeprefix(SIGNATURE_PREFIX).partition(" ")
    if not is_valid_key_name(name) or not encoded:
        raise MalformedNoteError(f"a signature line is '— <key name> <base64>': {line!r}")
    decoded = _b64decode(encoded, MalformedNoteError, f"the signature of {name}")
    if len(decoded) < 5:
        raise MalformedNoteError(f"the signature of {name} is too short")
    identifier: int = struct.unpack(">I", decoded[:4])[0]
    return name, identifier, decoded[4:]


@dataclass(frozen=True)
class Checkpoint:
    """A tree head: the log (origin), its size and its RFC 9162 root hash at that size."""

    origin: str
    tree_size: int
    root_hash: bytes
    extensions: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.origin or "\n" in self.origin:
            raise MalformedCheckpointError("the origin is one non-empty line")
        if self.tree_size < 0:
            raise MalformedCheckpointError("the tree size is not negative")
        if len(self.root_hash) != HASH_SIZE:
            raise MalformedCheckpointError(f"the root hash has {HASH_SIZE} bytes")
        if any(not line or "\n" in line for line in self.extensions):
            raise MalformedCheckpointError("extension lines are non-empty lines")

    def body(self) -> str:
        lines = [self.origin, str(self.tree_size), _b64(self.root_hash), *self.extensions]
        return "".join(f"{line}\n" for line in lines)

    @classmethod
    def parse(cls, text: str) -> Checkpoint:
        if not text.endswith("\n"):
            raise MalformedCheckpointError("a checkpoint's text ends with a newline")
        lines = text[:-1].split("\n")
        if len(lines) < 3:
            raise MalformedCheckpointError("a checkpoint has an origin, a size and a root hash")
        origin, size_text, root_text, *extensions = lines
        if not _TREE_SIZE.fullmatch(size_text):
            raise MalformedCheckpointError(f"the tree size {size_text!r} is not a plain number")
        root = _b64decode(root_text, MalformedCheckpointError, "the root hash")
        if _b64(root) != root_text:
            raise MalformedCheckpointError("the root hash is not in canonical base64")
        return cls(origin, int(size_text), root, tuple(extensions))


def sign_checkpoint(signer: Signer, checkpoint: Checkpoint) -> str:
    """The signed note of checkpoint, as served and exported."""
    if checkpoint.origin != signer.name:
        raise WrongOriginError(
            f"the key {signer.name} signs the checkpoints of that log only,"
            f" not of {checkpoint.origin}"
        )
    return sign_note(checkpoint.body(), signer)


def open_checkpoint(note: str | bytes, verifier: Verifier) -> Checkpoint:
    """The checkpoint in note, once its signature by verifier and its origin are checked."""
    checkpoint = Checkpoint.parse(open_note(note, verifier))
    if checkpoint.origin != verifier.name:
        raise WrongOriginError(
            f"the checkpoint is of the log {checkpoint.origin!r}, and the key {verifier.name}"
            " signs for its own log only"
        )
    return checkpoint


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _b64decode(text: str, error: type[NoteError], what: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise error(f"{what} is not standard base64") from None
