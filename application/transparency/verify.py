"""The offline verifier: a dossier's exported history, and two checkpoints, against the log's key.

No database and no network: everything is checked from the bundle, the notes and the public key.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import msgspec

from application.transparency.bundle import (
    BUNDLE_FORMAT,
    Bundle,
    BundleEvent,
    StateDecoder,
    decode_base64,
    decode_bundle,
    decode_hashes,
    decode_json_state,
    readable_event,
)
from application.transparency.cosignature import CosignatureVerifier, cosignatures_of
from application.transparency.leaf import leaf_bytes
from application.transparency.merkle import (
    ProofError,
    RootMismatchError,
    leaf_hash,
    verify_consistency,
    verify_inclusion,
)
from application.transparency.note import Checkpoint, NoteError, Verifier, open_checkpoint
from domain.code import DossierCode
from domain.dossier import dossier_id
from domain.errors import InvalidDossierCode

GAP = "the history has a gap (an event was left out)"
CHANGED_EVENT = (
    "inclusion proof does not lead to the checkpoint root:"
    " the stored event was changed or the proof is wrong"
)


class ConsistencyError(ValueError):
    """Two checkpoints cannot both be true of one append-only log; the message says why."""


@dataclass(frozen=True)
class Failure:
    dossier_code: str
    problem: str
    version: int | None = None
    leaf_index: int | None = None

    def __str__(self) -> str:
        where = self.dossier_code or "the bundle"
        if self.version is not None:
            where += f" version {self.version}"
        if self.leaf_index is not None:
            where += f" (leaf {self.leaf_index})"
        return f"{where}: {self.problem}"


@dataclass(frozen=True)
class VerificationReport:
    dossier_code: str
    checkpoint: Checkpoint | None
    proven_versions: tuple[int, ...] = ()
    """Versions whose stored bytes are proven included in the checkpoint."""
    readable_events_checked: bool = False
    failures: tuple[Failure, ...] = ()
    cosigned_by: tuple[str, ...] = ()
    """The witnesses of the policy whose valid cosignature the checkpoint carries."""

    @property
    def ok(self) -> bool:
        return not self.failures and bool(self.proven_versions)

    def lines(self) -> list[str]:
        """The report for people: the verdict, then each failure."""
        if self.ok and self.checkpoint is not None:
            readable = "match" if self.readable_events_checked else "were not checked"
            lines = [
                f"OK: {self.dossier_code}: versions 1 to {len(self.proven_versions)} are, byte for"
                f" byte, events of the log {self.checkpoint.origin} as signed at tree size"
                f" {self.checkpoint.tree_size}; their readable forms {readable}"
            ]
            if self.cosigned_by:
                witnesses = ", ".join(self.cosigned_by)
                lines.append(f"cosigned by {len(self.cosigned_by)} witness(es): {witnesses}")
            return lines
        return [f"FAILED: {len(self.failures)} problem(s)", *map(str, self.failures)]


@dataclass(frozen=True)
class WitnessPolicy:
    """A checkpoint is trusted once `quorum` of these witnesses cosigned it."""

    witnesses: tuple[CosignatureVerifier, ...] = ()
    quorum: int = 0

    def __post_init__(self) -> None:
        if not 0 <= self.quorum <= len(self.witnesses):
            raise ValueError(
                f"a quorum of {self.quorum} needs at least as many witnesses"
                f" ({len(self.witnesses)} given)"
            )

    def check(self, note: str | bytes) -> tuple[tuple[str, ...], str | None]:
        """The witnesses of the policy that cosigned note, and what is wrong (None: the quorum
        is met)."""
        text = note.decode("utf-8", errors="replace") if isinstance(note, bytes) else note
        try:
            found = cosignatures_of(text, self.witnesses)
        except ValueError:
            found = []
        names = tuple(sorted(c.witness.split("+", 1)[0] for c in found))
        if len(found) >= self.quorum:
            return names, None
        return names, (
            f"the checkpoint carries {len(found)} valid cosignature(s) of the witnesses given,"
            f" fewer than the quorum of {self.quorum}: nobody independent vouches that this is"
            " the history everyone else sees"
        )


def verify_bundle(
    bundle_bytes: bytes,
    verifier_key_text: str,
    decode: StateDecoder | None = decode_json_state,
    policy: WitnessPolicy | None = None,
) -> VerificationReport:
    """Checks a dossier-ledger-bundle/1 document against the log's verifier key.

    The checkpoint's signature and, with a policy, its witnesses' cosignatures; each event's
    stored bytes against the checkpoint root through its inclusion proof; versions exactly
    1..N, in order, in log order; the readable events against the stored bytes (unless decode is
    None). Raises MalformedKeyError for an unusable key.
    """
    verifier = Verifier.from_vkey(verifier_key_text)
    try:
        bundle = decode_bundle(bundle_bytes)
    except msgspec.DecodeError as error:
        return _refused("", f"this is not a {BUNDLE_FORMAT} document: {error}")
    code = bundle.dossier_code
    if bundle.format != BUNDLE_FORMAT:
        return _refused(code, f"the format {bundle.format!r} is not {BUNDLE_FORMAT!r}")
    try:
        checkpoint = open_checkpoint(bundle.checkpoint, verifier)
    except NoteError as error:
        return _refused(code, f"checkpoint refused, so nothing in the bundle is proven: {error}")
    failures = _header_failures(bundle, checkpoint)
    cosigned_by: tuple[str, ...] = ()
    if policy is not None:
        cosigned_by, problem = policy.check(bundle.checkpoint)
        if problem is not None:
            failures.append(Failure(code, problem))
    proven = []
    for event in bundle.events:
        is_proven, failure = _check_event(bundle, event, checkpoint, decode)
        if is_proven:
            proven.append(event.version)
        if failure is not None:
            failures.append(failure)
    failures += _history_failures(code, bundle.events)
    return VerificationReport(
        code, checkpoint, tuple(proven), decode is not None, tuple(failures), cosigned_by
    )


def _refused(code: str, problem: str) -> VerificationReport:
    return VerificationReport(code, None, failures=(Failure(code, problem),))


def _header_failures(bundle: Bundle, checkpoint: Checkpoint) -> list[Failure]:
    code = bundle.dossier_code
    failures = []
    if bundle.origin != checkpoint.origin:
        failures.append(
            Failure(
                code,
                f"the bundle names the log {bundle.origin!r}, its checkpoint is of"
                f" {checkpoint.origin!r}",
            )
        )
    try:
        expected_id = dossier_id(DossierCode.parse(code))
    except InvalidDossierCode as error:
        failures.append(Failure(code, f"the dossier code is malformed: {error}"))
    else:
        if expected_id != bundle.dossier_id:
            failures.append(
                Failure(
                    code,
                    f"the dossier id {bundle.dossier_id} is not the id of this code"
                    f" ({expected_id}): the events are another dossier's",
                )
            )
    return failures


def _check_event(
    bundle: Bundle, event: BundleEvent, checkpoint: Checkpoint, decode: StateDecoder | None
) -> tuple[bool, Failure | None]:
    """Whether the event's stored bytes are proven, and what is wrong with the event if anything."""

    def failure(problem: str) -> Failure:
        return Failure(bundle.dossier_code, problem, event.version, event.leaf_index)

    try:
        state = decode_base64(event.state_b64)
        proof = decode_hashes(event.inclusion_proof)
        leaf = leaf_hash(leaf_bytes(bundle.dossier_id, event.version, event.topic, state))
    except ValueError as error:
        return False, failure(f"malformed event, so it cannot be checked: {error}")
    try:
        verify_inclusion(leaf, event.leaf_index, checkpoint.tree_size, proof, checkpoint.root_hash)
    except RootMismatchError:
        return False, failure(CHANGED_EVENT)
    except ProofError as error:
        return False, failure(f"the inclusion proof is malformed: {error}")
    if decode is not None and _as_json(event.event) != readable_event(decode, event.topic, state):
        return True, failure(
            'the readable "event" differs from the stored bytes: it was edited after the export'
            " (the stored bytes are what the log proves)"
        )
    return True, None


def _as_json(value: object) -> object:
    return msgspec.json.decode(msgspec.json.encode(value))


def _history_failures(code: str, events: Sequence[BundleEvent]) -> list[Failure]:
    """A complete history is versions 1..N, each once, listed in order, and in log order."""
    if not events:
        return [Failure(code, "the bundle has no events: a dossier's history starts at version 1")]
    counts = Counter(event.version for event in events)
    failures = [
        Failure(code, f"appears {count} times", version)
        for version, count in sorted(counts.items())
        if count > 1
    ]
    failures += [
        Failure(code, "is not a version: versions start at 1", version)
        for version in sorted(counts)
        if version < 1
    ]
    failures += _gaps(code, sorted(version for version in counts if version >= 1))
    for before, after in itertools.pairwise(events):
        if after.version < before.version:
            failures.append(
                Failure(
                    code,
                    f"is listed after version {before.version}: the events are out of order",
                    after.version,
                    after.leaf_index,
                )
            )
        elif after.version > before.version and after.leaf_index <= before.leaf_index:
            failures.append(
                Failure(
                    code,
                    f"is in the log before version {before.version} (leaf {before.leaf_index}):"
                    " the ledger logs a dossier's events in version order",
                    after.version,
                    after.leaf_index,
                )
            )
    return failures


def _gaps(code: str, versions: Sequence[int]) -> list[Failure]:
    failures = []
    for previous, following in itertools.pairwise([0, *versions]):
        if following - previous == 2:
            failures.append(Failure(code, f"is missing: {GAP}", previous + 1))
        elif following - previous > 2:
            failures.append(
                Failure(code, f"versions {previous + 1} to {following - 1} are missing: {GAP}")
            )
    return failures


def verify_checkpoint_consistency(
    old_note: str | bytes, new_note: str | bytes, proof_hashes: Sequence[bytes], verifier: Verifier
) -> tuple[Checkpoint, Checkpoint]:
    """The two checkpoints, once both are signed by verifier and the old log is a prefix of the
    new one; raises ConsistencyError naming what does not hold."""
    old = _open(old_note, verifier, "the old checkpoint")
    new = _open(new_note, verifier, "the new checkpoint")
    if old.tree_size > new.tree_size:
        raise ConsistencyError(
            f"the old checkpoint (size {old.tree_size}) is larger than the new one"
            f" (size {new.tree_size}): give the older one first"
        )
    try:
        verify_consistency(old.tree_size, new.tree_size, old.root_hash, new.root_hash, proof_hashes)
    except RootMismatchError as error:
        if old.tree_size == new.tree_size:
            raise ConsistencyError(
                f"two signed checkpoints of size {old.tree_size} with different roots: the log"
                " was forked or rewritten; keep both notes as evidence"
            ) from None
        raise ConsistencyError(
            f"the log of size {old.tree_size} is not a prefix of the log of size"
            f" {new.tree_size}: entries before {old.tree_size} were changed, removed or"
            f" reordered, or the proof is wrong ({error})"
        ) from None
    except ProofError as error:
        raise ConsistencyError(f"the consistency proof is malformed: {error}") from None
    return old, new


def _open(note: str | bytes, verifier: Verifier, which: str) -> Checkpoint:
    try:
        return open_checkpoint(note, verifier)
    except NoteError as error:
        raise ConsistencyError(f"{which} is refused: {error}") from None
