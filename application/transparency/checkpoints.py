"""Signing checkpoints of the audit log, never two that contradict each other.

Before signing the tree of size n, the checkpointer proves, from the stored subtrees, that the
last checkpoint it signed is a prefix of it (RFC 9162 consistency), and refuses otherwise. It
remembers that last checkpoint twice: in the checkpoints table, and in a file beside the signing
key (the "witness" file), which someone who rewrites the database, checkpoints table included,
cannot reach.
"""

from __future__ import annotations

import logging
import math
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from time import monotonic

from application.settings import Settings
from application.transparency.keyfile import load_or_create_signer
from application.transparency.log import AuditLog, LogStore, StoredCheckpoint
from application.transparency.merkle import ProofError, verify_consistency
from application.transparency.note import (
    Checkpoint,
    NoteError,
    Signer,
    open_checkpoint,
    sign_checkpoint,
)
from application.transparency.witnessing import Witnessing

_log = logging.getLogger(__name__)

MIN_POLL_SECONDS = 0.05
MAX_POLL_SECONDS = 0.5


class CheckpointRefused(RuntimeError):
    """Signing the current tree would contradict a checkpoint signed before."""


def witness_path(signing_key_path: Path) -> Path:
    return signing_key_path.with_suffix(".checkpoint")


@dataclass
class Checkpointer:
    log: AuditLog
    signer: Signer
    witness: Path | None = None
    """Where the last signed note is kept outside the database (None: only in the database)."""

    def tree_size(self) -> int:
        with self.log.reading() as store:
            return store.tree_size()

    def latest(self) -> StoredCheckpoint | None:
        with self.log.reading() as store:
            return store.latest_checkpoint()

    def checkpoint(self) -> StoredCheckpoint | None:
        """Sign the tree as it stands if it grew since the last checkpoint, once it is proven
        consistent with every checkpoint signed before. The latest checkpoint (None while the
        log is empty). Raises CheckpointRefused, and logs it as critical."""
        try:
            signed = self._checkpoint()
        except CheckpointRefused as error:
            _log.critical("REFUSED to sign a checkpoint of the audit log: %s", error)
            raise
        if signed is not None and self.witness is not None:
            _write_atomically(self.witness, signed.note)
        return signed

    def _checkpoint(self) -> StoredCheckpoint | None:
        with self.log.writing() as store:
            store.lock_checkpoints()
            size = store.tree_size()
            last = store.latest_checkpoint()
            earlier = [self._open(last.note, "the last checkpoint in the database")] if last else []
            if (witnessed := self._witnessed()) is not None:
                earlier.append(witnessed)
            if size == 0 and not earlier:
                return None
            try:
                root = store.root_hash(size)
            except LookupError as error:
                raise CheckpointRefused(f"the stored tree is incomplete: {error}") from None
            for checkpoint in earlier:
                self._check_consistent(store, checkpoint, size, root)
            if last is not None and last.tree_size == size:
                return last
            note = sign_checkpoint(self.signer, Checkpoint(self.signer.name, size, root))
            signed = store.add_checkpoint(size, root, note, self.signer.verifier().vkey())
        _log.info("signed the checkpoint of the audit log at tree size %d", size)
        return signed

    def _witnessed(self) -> Checkpoint | None:
        if self.witness is None or not self.witness.exists():
            return None
        return self._open(self.witness.read_text(encoding="utf-8"), f"the witness {self.witness}")

    def _open(self, note: str, which: str) -> Checkpoint:
        try:
            return open_checkpoint(note, self.signer.verifier())
        except NoteError as error:
            raise CheckpointRefused(
                f"{which} is not a checkpoint of this key: {error}. Was the key replaced, or the"
                " checkpoint forged?"
            ) from None

    @staticmethod
    def _check_consistent(store: LogStore, earlier: Checkpoint, size: int, root: bytes) -> None:
        if earlier.tree_size > size:
            raise CheckpointRefused(
                f"the log has {size} leaves, fewer than the {earlier.tree_size} of a checkpoint"
                " signed before: leaves were removed"
            )
        try:
            proof = store.consistency_proof(earlier.tree_size, size)
            verify_consistency(earlier.tree_size, size, earlier.root_hash, root, proof)
        except (ProofError, LookupError) as error:
            raise CheckpointRefused(
                f"the checkpoint signed at tree size {earlier.tree_size} is not a prefix of the"
                f" log as it stands at size {size} ({error}): logged events were changed,"
                " removed or reordered. Run `ledger audit check`."
            ) from None


def checkpointer_for(log: AuditLog, settings: Settings) -> Checkpointer:
    """The checkpointer of the settings' key (created on first use) and witness file."""
    signer = load_or_create_signer(settings.signing_key_path, settings.log_origin)
    return Checkpointer(log, signer, witness_path(settings.signing_key_path))


def _write_atomically(path: Path, text: str) -> None:
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(text, encoding="utf-8")
    os.replace(temporary, path)


class CheckpointSchedule:
    """A thread signing a checkpoint once the log grew by `every_events` leaves, or grew at all
    `every_seconds` after the last one."""

    def __init__(
        self,
        checkpointer: Checkpointer,
        *,
        every_events: int,
        every_seconds: float,
        on_stop: Callable[[], None] | None = None,
        witnessing: Witnessing | None = None,
    ) -> None:
        self.checkpointer = checkpointer
        self.every_events = every_events
        self.every_seconds = every_seconds
        self.on_stop = on_stop
        self.witnessing = witnessing
        self._witnessed_at = -math.inf
        self.last_error: BaseException | None = None
        self._signed_size: int | None = None
        self._signed_at = -math.inf
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._stopping.clear()
        self._thread = threading.Thread(target=self._run, name="audit-checkpoints", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 30) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        if self.on_stop is not None:
            self.on_stop()

    def _run(self) -> None:
        poll = max(MIN_POLL_SECONDS, min(MAX_POLL_SECONDS, self.every_seconds))
        while not self._stopping.wait(poll):
            try:
                self.step()
            except CheckpointRefused as error:
                self.last_error = error  # logged as critical already; try again later
                self._stopping.wait(self.every_seconds)
            except Exception as error:
                self.last_error = error
                _log.exception("audit checkpoints: cannot sign now; trying again")
                self._stopping.wait(self.every_seconds)

    def step(self) -> None:
        """Sign a checkpoint if one is due."""
        if self._signed_size is None:
            latest = self.checkpointer.latest()
            self._signed_size = 0 if latest is None else latest.tree_size
        grown = self.checkpointer.tree_size() - self._signed_size
        due = grown >= self.every_events or monotonic() - self._signed_at >= self.every_seconds
        signed = False
        if grown < 0 or (grown > 0 and due):  # a shrunk log is refused, loudly
            latest = self.checkpointer.checkpoint()
            self._signed_size = 0 if latest is None else latest.tree_size
            self._signed_at = monotonic()
            self.last_error = None
            signed = True
        if self.witnessing is not None and (
            signed or monotonic() - self._witnessed_at >= self.every_seconds
        ):
            self._witnessed_at = monotonic()
            self.witnessing.witness_latest()
