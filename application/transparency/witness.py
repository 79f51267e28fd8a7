"""A witness of other bodies' logs (c2sp.org/tlog-witness): it cosigns a log's checkpoint only
if it is consistent with the last checkpoint of that log it cosigned.

Its state is one JSON file, `{origin: {"size", "root", "note"}}`, the note being the last
cosigned checkpoint with the log's signature and the witness's cosignature. Checking a request
against the state and writing the new state happen under one lock (a lock file, so two
processes serving one state file take turns), and the state is on disk before the answer.
"""

from __future__ import annotations

import base64
import binascii
import fcntl
import hashlib
import json
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from application.transparency.cosignature import CosignatureSigner, note_text_and_lines
from application.transparency.merkle import EMPTY_ROOT, HASH_SIZE, ProofError, verify_consistency
from application.transparency.note import (
    Checkpoint,
    InvalidSignatureError,
    NoteError,
    NotSignedByKeyError,
    Verifier,
    open_checkpoint,
)

_log = logging.getLogger(__name__)

MAX_PROOF_LINES = 63


class WitnessRefusal(Exception):
    """An add-checkpoint request the witness does not cosign; `status` is the HTTP answer."""

    status = 400


class UnknownLog(WitnessRefusal):
    status = 404


class NotSignedByLog(WitnessRefusal):
    status = 403


class BadRequest(WitnessRefusal):
    status = 400


class OldSizeMismatch(WitnessRefusal):
    """The client's old size is not the size of the last checkpoint cosigned: `size` is."""

    status = 409

    def __init__(self, size: int) -> None:
        super().__init__(f"the last checkpoint cosigned has size {size}")
        self.size = size


class Inconsistent(WitnessRefusal):
    status = 422


@dataclass(frozen=True)
class Submission:
    old_size: int
    proof: list[bytes]
    note: str


def parse_submission(body: bytes) -> Submission:
    """An add-checkpoint body: `old <size>`, proof lines (base64), an empty line, a checkpoint."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise BadRequest("the body is not UTF-8") from None
    head, separator, note = text.partition("\n\n")
    if not separator:
        raise BadRequest("the body is an old size line, proof lines, an empty line, a checkpoint")
    lines = head.split("\n")
    old_line, proof_lines = lines[0], lines[1:]
    size_text = old_line.removeprefix("old ")
    if (
        not old_line.startswith("old ")
        or not size_text.isdigit()
        or (size_text != "0" and size_text.startswith("0"))
    ):
        raise BadRequest("the first line is `old <size>`, the size in decimal")
    if len(proof_lines) > MAX_PROOF_LINES:
        raise BadRequest(f"a consistency proof has at most {MAX_PROOF_LINES} hashes")
    proof = []
    for position, line in enumerate(proof_lines):
        try:
            hash_ = base64.b64decode(line, validate=True)
        except (binascii.Error, ValueError):
            raise BadRequest(f"proof line {position + 1} is not base64") from None
        if len(hash_) != HASH_SIZE:
            raise BadRequest(f"proof line {position + 1} is not a {HASH_SIZE}-byte hash")
        proof.append(hash_)
    return Submission(int(size_text), proof, note)


def origin_hash(origin: str) -> str:
    """The monitoring path's name of a log: the SHA-256 of its origin, lowercase hex."""
    return hashlib.sha256(origin.encode()).hexdigest()


@dataclass
class Witness:
    signer: CosignatureSigner
    logs: dict[str, Verifier]
    """origin -> the key the log signs with."""
    state_path: Path
    clock: Callable[[], float] = time.time
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add_checkpoint(self, body: bytes) -> str:
        """The cosignature line of the submitted checkpoint, once it is recorded as the latest
        of its log; raises a WitnessRefusal otherwise."""
        submission = parse_submission(body)
        checkpoint = self._open(submission.note)
        if submission.old_size > checkpoint.tree_size:
            raise BadRequest(
                f"the old size {submission.old_size} is larger than the checkpoint's"
                f" {checkpoint.tree_size}"
            )
        with self._locked_state() as state:
            latest = state.get(checkpoint.origin)
            size = 0 if latest is None else int(latest["size"])
            if submission.old_size != size:
                raise OldSizeMismatch(size)
            self._check_consistent(submission, checkpoint, latest)
            text, _ = note_text_and_lines(submission.note)
            line = self.signer.cosign(text, max(1, int(self.clock())))
            state[checkpoint.origin] = {
                "size": checkpoint.tree_size,
                "root": base64.b64encode(checkpoint.root_hash).decode(),
                "note": submission.note + line,
            }
        _log.info("cosigned %s at tree size %d", checkpoint.origin, checkpoint.tree_size)
        return line

    def latest_note(self, hashed_origin: str) -> str | None:
        """The last cosigned checkpoint of the log whose origin hashes to hashed_origin."""
        with self._locked_state() as state:
            for origin, latest in state.items():
                if origin_hash(origin) == hashed_origin:
                    note: str = latest["note"]
                    return note
        return None

    def _open(self, note: str) -> Checkpoint:
        origin = note.split("\n", 1)[0]
        verifier = self.logs.get(origin)
        if verifier is None:
            raise UnknownLog(f"this witness does not witness the log {origin!r}")
        try:
            return open_checkpoint(note, verifier)
        except (NotSignedByKeyError, InvalidSignatureError) as error:
            raise NotSignedByLog(str(error)) from None
        except NoteError as error:
            raise BadRequest(f"not a signed checkpoint: {error}") from None

    @staticmethod
    def _check_consistent(
        submission: Submission, checkpoint: Checkpoint, latest: dict[str, Any] | None
    ) -> None:
        size, root = checkpoint.tree_size, checkpoint.root_hash
        if size == 0 and root != EMPTY_ROOT:
            raise Inconsistent("a checkpoint of size 0 has the root of the empty tree")
        if submission.old_size == 0:
            if submission.proof:
                raise Inconsistent("from size 0 the consistency proof is empty")
            return
        assert latest is not None
        old_root = base64.b64decode(latest["root"])
        try:
            verify_consistency(submission.old_size, size, old_root, root, submission.proof)
        except ProofError as error:
            _log.warning(
                "REFUSED a checkpoint of %s signed by its key, inconsistent with the one cosigned"
                " at size %d (%s); it may be evidence of a fork:\n%s",
                checkpoint.origin,
                submission.old_size,
                error,
                submission.note,
            )
            raise Inconsistent(
                f"not consistent with the checkpoint cosigned at size {submission.old_size}:"
                f" {error}"
            ) from None

    @contextmanager
    def _locked_state(self) -> Iterator[dict[str, Any]]:
        self.state_path.parent.mkdir(parents=True, exist_ok=True)
        lock_path = self.state_path.with_name(self.state_path.name + ".lock")
        with self._lock, open(lock_path, "a") as lock_file:
            fcntl.flock(lock_file, fcntl.LOCK_EX)
            try:
                state = self._read()
                before = json.dumps(state, sort_keys=True)
                yield state
                if json.dumps(state, sort_keys=True) != before:
                    self._write(state)
            finally:
                fcntl.flock(lock_file, fcntl.LOCK_UN)

    def _read(self) -> dict[str, Any]:
        if not self.state_path.exists():
            return {}
        state: dict[str, Any] = json.loads(self.state_path.read_text(encoding="utf-8"))
        return state

    def _write(self, state: dict[str, Any]) -> None:
        temporary = self.state_path.with_name(self.state_path.name + ".tmp")
        with open(temporary, "w", encoding="utf-8") as file:
            json.dump(state, file, indent=2, sort_keys=True)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, self.state_path)
