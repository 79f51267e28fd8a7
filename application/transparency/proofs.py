"""What the ledger serves from the audit log: proofs against signed checkpoints, and a dossier's
history exported with its proofs (dossier-ledger-bundle/1).

Proofs are served only for tree sizes the ledger has signed: a proof to an unsigned root proves
nothing to a verifier. Each proof reads O(log n) stored subtrees, in one query.
"""

from __future__ import annotations

from dataclasses import dataclass

from application.transparency.bundle import Bundle, build_bundle
from application.transparency.log import AuditLog, LogStore, StoredCheckpoint
from application.transparency.merkle import inclusion_proof_ranges, subtrees_of_proof
from application.transparency.note import Verifier
from domain.code import DossierCode
from domain.dossier import dossier_id


class AuditLogError(LookupError):
    """A proof or an export cannot be given; the message says why, `tree_size` of what size."""

    def __init__(self, message: str, tree_size: int | None = None) -> None:
        super().__init__(message)
        self.tree_size = tree_size


class NoCheckpointYet(AuditLogError):
    pass


class TreeSizeBeyondLog(AuditLogError):
    pass


class CheckpointNotFound(AuditLogError):
    """The tree size is within the log, but no checkpoint was signed at it."""


class DossierNotFound(AuditLogError):
    pass


class VersionNotFound(AuditLogError):
    pass


class NotYetLogged(AuditLogError):
    """The event is stored, but the audit log projection has not logged it yet."""


class NotInCheckpoint(AuditLogError):
    """The event was logged after the checkpoint asked for."""


class InvalidTreeSizes(AuditLogError):
    pass


@dataclass(frozen=True)
class InclusionProof:
    leaf_index: int
    tree_size: int
    leaf_hash: bytes
    hashes: list[bytes]


def signed_checkpoint(store: LogStore, tree_size: int | None = None) -> StoredCheckpoint:
    """The checkpoint signed at tree_size (None: the latest one)."""
    if tree_size is None:
        latest = store.latest_checkpoint()
        if latest is None:
            raise NoCheckpointYet("no checkpoint is signed yet: the log is empty or just started")
        return latest
    checkpoint = store.checkpoint(tree_size)
    if checkpoint is not None:
        return checkpoint
    size = store.tree_size()
    if tree_size > size:
        raise TreeSizeBeyondLog(f"the log has {size} leaves, not {tree_size}", tree_size)
    latest = store.latest_checkpoint()
    hint = "none yet" if latest is None else f"the latest is at {latest.tree_size}"
    raise CheckpointNotFound(
        f"no checkpoint was signed at tree size {tree_size} ({hint}): proofs are given for"
        " signed tree sizes only",
        tree_size,
    )


def prove_inclusion(
    log: AuditLog, code: DossierCode, version: int, tree_size: int | None = None
) -> InclusionProof:
    """The logged leaf hash of the dossier's event `version` and its inclusion proof in the
    checkpoint of tree_size (None: the latest)."""
    with log.reading() as store:
        checkpoint = signed_checkpoint(store, tree_size)
        events = store.dossier_events(dossier_id(code))
        if not events:
            raise DossierNotFound(f"no dossier {code} in the ledger")
        event = next((e for e in events if e.version == version), None)
        if event is None:
            raise VersionNotFound(f"{code} has no version {version} (it has {len(events)})")
        if event.leaf_index is None:
            raise NotYetLogged(f"{code} version {version} is stored but not logged yet")
        if event.leaf_index >= checkpoint.tree_size:
            raise NotInCheckpoint(
                f"{code} version {version} is leaf {event.leaf_index}, logged after the"
                f" checkpoint of size {checkpoint.tree_size}: ask for a later checkpoint"
            )
        leaf, hashes = store.inclusion_proof(event.leaf_index, checkpoint.tree_size)
    return InclusionProof(event.leaf_index, checkpoint.tree_size, leaf, hashes)


def prove_consistency(log: AuditLog, old_size: int, new_size: int) -> list[bytes]:
    """The consistency proof from the checkpoint of old_size (or the empty tree) to the one of
    new_size."""
    if old_size > new_size:
        raise InvalidTreeSizes(f"from ({old_size}) is larger than to ({new_size})")
    with log.reading() as store:
        if old_size > 0:
            signed_checkpoint(store, old_size)
        signed_checkpoint(store, new_size)
        return store.consistency_proof(old_size, new_size)


def export_bundle(log: AuditLog, code: DossierCode) -> Bundle:
    """The dossier's events included in the latest checkpoint, as stored, with their proofs;
    the checkpoint carries the cosignatures its witnesses gave."""
    with log.reading() as store:
        checkpoint = signed_checkpoint(store)
        events = store.dossier_events(dossier_id(code))
        if not events:
            raise DossierNotFound(f"no dossier {code} in the ledger")
        included = [
            event.recorded()
            for event in events
            if event.leaf_index is not None and event.leaf_index < checkpoint.tree_size
        ]
        if not included:
            raise NotInCheckpoint(
                f"no event of {code} is in the latest checkpoint (size {checkpoint.tree_size})"
                " yet: export it again after the next checkpoint"
            )
        ranges = [inclusion_proof_ranges(e.leaf_index, checkpoint.tree_size) for e in included]
        hashes = store.hash_store(set().union(*map(subtrees_of_proof, ranges)))
        cosignatures = store.cosignature_lines(checkpoint.tree_size)
    return build_bundle(
        str(code),
        dossier_id=dossier_id(code),
        checkpoint_note=checkpoint.note + "".join(cosignatures),
        verifier=Verifier.from_vkey(checkpoint.verifier_key),
        events=included,
        store=hashes,
    )
