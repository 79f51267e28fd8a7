"""Getting the log's checkpoints cosigned by its witnesses (c2sp.org/tlog-witness, the client).

After each checkpoint, every configured witness is sent `add-checkpoint` with a consistency
proof from the size it last cosigned (as far as the cosignatures table knows; 0 at first). A
409 answer gives the witness's own size: the proof is made again from there. The cosignatures
are kept with the checkpoint and served with it.

A witness that refuses a checkpoint signed with the log's key as inconsistent (422), or that has
cosigned a larger tree than the log now has, has seen another history of this log: the alarm
is raised (application.transparency.alarms).
"""

from __future__ import annotations

import base64
import logging
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from time import monotonic

from application.transparency.alarms import WITNESS_AHEAD, WITNESS_REFUSED, raise_alarm
from application.transparency.cosignature import CosignatureVerifier, note_text_and_lines
from application.transparency.log import AuditLog, StoredCheckpoint

_log = logging.getLogger(__name__)

SIZE_CONTENT_TYPE = "text/x.tlog.size"
MAX_RETRIES = 3


@dataclass(frozen=True)
class WitnessConfig:
    """A witness the log asks for cosignatures: its submission prefix and its verifier key."""

    url: str
    verifier: CosignatureVerifier

    @property
    def name(self) -> str:
        return self.verifier.vkey()

    def add_checkpoint_url(self) -> str:
        return self.url.rstrip("/") + "/add-checkpoint"


def parse_witnesses(text: str) -> tuple[WitnessConfig, ...]:
    """Witnesses as LEDGER_WITNESSES gives them: `<URL> <verifier key>`, separated by `;` or
    newlines. Raises ValueError naming the entry that is wrong."""
    witnesses = []
    for position, entry in enumerate(text.replace("\n", ";").split(";"), start=1):
        if not entry.strip():
            continue
        parts = entry.split()
        if len(parts) != 2 or not parts[0].startswith(("http://", "https://")):
            raise ValueError(f"witness {position} is not `<http(s) URL> <verifier key>`")
        try:
            verifier = CosignatureVerifier.from_vkey(parts[1])
        except ValueError as error:
            raise ValueError(f"witness {position}: {error}") from None
        witnesses.append(WitnessConfig(parts[0], verifier))
    return tuple(witnesses)


@dataclass(frozen=True)
class HttpAnswer:
    status: int
    content_type: str
    body: bytes


Post = Callable[[str, bytes, float], HttpAnswer]


def http_post(url: str, body: bytes, timeout: float) -> HttpAnswer:
    request = urllib.request.Request(  # noqa: S310 (the URL is the operator's, http or https)
        url, data=body, method="POST", headers={"Content-Type": "text/plain; charset=utf-8"}
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            return HttpAnswer(
                response.status, response.headers.get("Content-Type", ""), response.read()
            )
    except urllib.error.HTTPError as error:
        return HttpAnswer(error.code, error.headers.get("Content-Type", ""), error.read())


class WitnessUnreachable(RuntimeError):
    pass


@dataclass
class Witnessing:
    """Asks every witness to cosign the latest checkpoint; tries a failing witness again after
    `retry_seconds`."""

    log: AuditLog
    witnesses: tuple[WitnessConfig, ...]
    timeout: float = 10.0
    retry_seconds: float = 10.0
    post: Post = http_post

    def __post_init__(self) -> None:
        self._next_try: dict[str, float] = {}
        self._alarmed: dict[str, int] = {}

    def witness_latest(self) -> dict[str, str]:
        """Each witness's outcome for the latest checkpoint, in words (for people and logs)."""
        with self.log.reading() as store:
            latest = store.latest_checkpoint()
        if latest is None:
            return {}
        outcomes = {}
        for witness in self.witnesses:
            if monotonic() < self._next_try.get(witness.name, 0):
                continue
            if self._alarmed.get(witness.name) == latest.tree_size:
                continue  # raised once for this checkpoint: the next one is tried again
            try:
                outcome = self.submit(witness, latest)
            except WitnessUnreachable as error:
                _log.warning("witness %s: %s; trying again later", witness.url, error)
                outcome = f"unreachable: {error}"
            if outcome.startswith("ALARM"):
                self._alarmed[witness.name] = latest.tree_size
            elif not outcome.startswith("cosigned"):
                self._next_try[witness.name] = monotonic() + self.retry_seconds
            outcomes[witness.url] = outcome
        return outcomes

    def submit(self, witness: WitnessConfig, checkpoint: StoredCheckpoint) -> str:
        with self.log.reading() as store:
            old = store.witnessed_size(witness.name) or 0
        if old == checkpoint.tree_size:
            return f"cosigned size {old} already"
        for _ in range(MAX_RETRIES):
            if old > checkpoint.tree_size:
                return self._alarm(
                    WITNESS_AHEAD,
                    checkpoint,
                    f"the witness {witness.url} cosigned a tree of {old} leaves, larger than"
                    f" the {checkpoint.tree_size} the log has: the log was rolled back, or"
                    " someone else signs checkpoints with the log's key",
                )
            answer = self._post(witness, self._body(old, checkpoint))
            if answer.status == 200:
                return self._store(witness, checkpoint, answer.body)
            if answer.status == 409:
                old = self._witness_size(witness, answer)
                continue
            if answer.status == 422:
                return self._alarm(
                    WITNESS_REFUSED,
                    checkpoint,
                    f"the witness {witness.url} refused the checkpoint of size"
                    f" {checkpoint.tree_size}, signed with the log's key, as inconsistent with"
                    f" the one of size {old} it cosigned: {answer.body.decode(errors='replace')}"
                    " The witness has seen another history of this log (a fork).",
                )
            _log.error(
                "witness %s answered %d to add-checkpoint: %s (is it configured for this log"
                " and its key?)",
                witness.url,
                answer.status,
                answer.body[:300].decode(errors="replace"),
            )
            return f"refused ({answer.status})"
        return "gave up: the witness's size keeps changing"

    def _body(self, old: int, checkpoint: StoredCheckpoint) -> bytes:
        proof: list[bytes] = []
        if 0 < old < checkpoint.tree_size:
            with self.log.reading() as store:
                proof = store.consistency_proof(old, checkpoint.tree_size)
        lines = "".join(base64.b64encode(hash_).decode() + "\n" for hash_ in proof)
        return f"old {old}\n{lines}\n{checkpoint.note}".encode()

    def _post(self, witness: WitnessConfig, body: bytes) -> HttpAnswer:
        try:
            return self.post(witness.add_checkpoint_url(), body, self.timeout)
        except (OSError, ValueError) as error:
            raise WitnessUnreachable(str(error)) from error

    @staticmethod
    def _witness_size(witness: WitnessConfig, answer: HttpAnswer) -> int:
        text = answer.body.decode(errors="replace").strip()
        if not answer.content_type.startswith(SIZE_CONTENT_TYPE) or not text.isdigit():
            raise WitnessUnreachable(f"a 409 answer that is not a tree size: {text[:100]!r}")
        return int(text)

    def _store(self, witness: WitnessConfig, checkpoint: StoredCheckpoint, body: bytes) -> str:
        text, _ = note_text_and_lines(checkpoint.note)
        lines = body.decode(errors="replace").splitlines()
        for line in lines:
            cosignature = witness.verifier.verify_line(text, line)
            if cosignature is not None:
                with self.log.writing() as store:
                    store.add_cosignature(
                        checkpoint.tree_size, witness.name, cosignature.line, cosignature.timestamp
                    )
                return f"cosigned size {checkpoint.tree_size}"
        _log.error("witness %s answered 200 without a valid cosignature by its key", witness.url)
        return "no valid cosignature in the answer"

    def _alarm(self, kind: str, checkpoint: StoredCheckpoint, reason: str) -> str:
        raise_alarm(self.log, kind, checkpoint.tree_size, reason)
        return f"ALARM: {reason}"


def with_cosignatures(log: AuditLog, checkpoint: StoredCheckpoint) -> str:
    """The checkpoint's note with the cosignatures kept for it."""
    with log.reading() as store:
        return checkpoint.note + "".join(store.cosignature_lines(checkpoint.tree_size))
