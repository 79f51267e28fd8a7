"""A dossier's exported history verifies offline, and every change to it is named precisely."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

import msgspec
import pytest

from application.transparency.bundle import (
    Bundle,
    RecordedEvent,
    build_bundle,
    decode_bundle,
    decode_consistency_proof,
    decode_hashes,
    encode_base64,
    encode_bundle,
)
from application.transparency.leaf import leaf_bytes
from application.transparency.merkle import (
    MemoryHashStore,
    consistency_proof,
    leaf_hash,
    root_hash,
)
from application.transparency.note import (
    Checkpoint,
    MalformedKeyError,
    Signer,
    generate_signer,
    sign_checkpoint,
)
from application.transparency.verify import (
    CHANGED_EVENT,
    ConsistencyError,
    verify_bundle,
    verify_checkpoint_consistency,
)
from domain.code import DossierCode
from domain.dossier import dossier_id

ORIGIN = "ledger.example/H56"
CODE = "000.17.22.H56-210531-0001"
OTHER_CODE = "000.17.22.H56-210531-0002"
DOSSIER = dossier_id(DossierCode.parse(CODE))
OTHER = dossier_id(DossierCode.parse(OTHER_CODE))
TOPIC = "domain.dossier:Dossier.Annotated"
SIGNER = Signer.from_key(generate_signer(ORIGIN))
VKEY = SIGNER.verifier().vkey()


def state(dossier: str, version: int) -> bytes:
    return msgspec.json.encode({"note": f"{dossier} step {version}", "version": version})


@dataclass
class Log:
    """An in-memory transparency log: two dossiers' events interleaved, then a checkpoint."""

    store: MemoryHashStore
    recorded: list[RecordedEvent]

    @classmethod
    def of(cls, versions: int = 5) -> Log:
        log = cls(MemoryHashStore(), [])
        for version in range(1, versions + 1):
            log.append(OTHER, version, state(OTHER_CODE, version))
            log.recorded.append(RecordedEvent(version, TOPIC, state(CODE, version), log.store.size))
            log.append(DOSSIER, version, state(CODE, version))
        return log

    def append(self, originator: UUID, version: int, stored: bytes) -> None:
        self.store.append([leaf_hash(leaf_bytes(originator, version, TOPIC, stored))])

    def note(self, signer: Signer = SIGNER) -> str:
        size = self.store.size
        return sign_checkpoint(signer, Checkpoint(signer.name, size, root_hash(self.store, size)))

    def bundle(self) -> Bundle:
        return build_bundle(
            CODE,
            dossier_id=DOSSIER,
            checkpoint_note=self.note(),
            verifier=SIGNER.verifier(),
            events=self.recorded,
            store=self.store,
        )


def failures(bundle: Bundle | bytes) -> list[str]:
    data = bundle if isinstance(bundle, bytes) else encode_bundle(bundle)
    return [str(failure) for failure in verify_bundle(data, VKEY).failures]


def test_the_canonical_leaf_is_the_documented_byte_layout() -> None:
    leaf = leaf_bytes(UUID(int=1), 2, "t", b"xy")
    assert leaf.hex() == "01" + "00" * 15 + "01" + "0000000000000002" + "00000001" + "74" + (
        "00000002" + "7879"
    )


def test_an_exported_history_verifies_offline() -> None:
    data = encode_bundle(Log.of().bundle())
    report = verify_bundle(data, VKEY)
    assert report.ok, report.lines()
    assert report.proven_versions == (1, 2, 3, 4, 5)
    assert report.lines()[0].startswith(f"OK: {CODE}: versions 1 to 5 are, byte for byte,")
    assert decode_bundle(data).events[0].event == {"note": f"{CODE} step 1", "version": 1}


def test_the_bundle_is_the_documented_json_document() -> None:
    document = msgspec.json.decode(encode_bundle(Log.of(2).bundle()))
    assert list(document) == [
        "format",
        "origin",
        "dossier_code",
        "dossier_id",
        "checkpoint",
        "events",
    ]
    assert document["format"] == "dossier-ledger-bundle/1"
    assert document["dossier_id"] == str(DOSSIER)
    assert list(document["events"][0]) == [
        "version",
        "topic",
        "leaf_index",
        "state_b64",
        "inclusion_proof",
        "event",
    ]


def test_events_after_the_checkpoint_are_left_out_of_the_export() -> None:
    log = Log.of(3)
    note = log.note()
    log.recorded.append(RecordedEvent(4, TOPIC, state(CODE, 4), log.store.size))
    log.append(DOSSIER, 4, state(CODE, 4))
    bundle = build_bundle(
        CODE,
        dossier_id=DOSSIER,
        checkpoint_note=note,
        verifier=SIGNER.verifier(),
        events=log.recorded,
        store=log.store,
    )
    assert [event.version for event in bundle.events] == [1, 2, 3]
    assert failures(bundle) == []


def test_a_changed_stored_event_is_named_by_version_and_leaf() -> None:
    bundle = Log.of().bundle()
    changed = msgspec.json.encode({"note": f"{CODE} step 3 (rewritten)", "version": 3})
    bundle.events[2].state_b64 = encode_base64(changed)
    bundle.events[2].event = msgspec.json.decode(changed)
    leaf = bundle.events[2].leaf_index
    assert failures(bundle) == [f"{CODE} version 3 (leaf {leaf}): {CHANGED_EVENT}"]
    assert CHANGED_EVENT == (
        "inclusion proof does not lead to the checkpoint root: the stored event was changed or"
        " the proof is wrong"
    )
    assert verify_bundle(encode_bundle(bundle), VKEY).proven_versions == (1, 2, 4, 5)


def test_a_changed_proof_hash_is_named_by_version_and_leaf() -> None:
    bundle = Log.of().bundle()
    proof = bundle.events[1].inclusion_proof
    proof[0] = encode_base64(bytes(32))
    assert failures(bundle) == [
        f"{CODE} version 2 (leaf {bundle.events[1].leaf_index}): {CHANGED_EVENT}"
    ]


def test_a_dropped_event_is_a_gap_in_the_history() -> None:
    bundle = Log.of().bundle()
    del bundle.events[2]
    assert failures(bundle) == [
        f"{CODE} version 3: is missing: the history has a gap (an event was left out)"
    ]


def test_dropped_events_at_the_start_are_a_gap_too() -> None:
    bundle = Log.of().bundle()
    del bundle.events[:2]
    assert failures(bundle) == [
        f"{CODE}: versions 1 to 2 are missing: the history has a gap (an event was left out)"
    ]


def test_reordered_events_are_named() -> None:
    bundle = Log.of().bundle()
    bundle.events[1], bundle.events[2] = bundle.events[2], bundle.events[1]
    leaf = bundle.events[2].leaf_index
    assert failures(bundle) == [
        f"{CODE} version 2 (leaf {leaf}): is listed after version 3: the events are out of order"
    ]


def test_events_whose_versions_were_swapped_fail_their_proofs() -> None:
    bundle = Log.of().bundle()
    bundle.events[1].version, bundle.events[2].version = 3, 2
    bundle.events[1], bundle.events[2] = bundle.events[2], bundle.events[1]
    found = failures(bundle)
    assert f"{CODE} version 2 (leaf {bundle.events[1].leaf_index}): {CHANGED_EVENT}" in found
    assert f"{CODE} version 3 (leaf {bundle.events[2].leaf_index}): {CHANGED_EVENT}" in found


def test_a_duplicated_event_is_named() -> None:
    bundle = Log.of().bundle()
    bundle.events.insert(2, bundle.events[1])
    assert f"{CODE} version 2: appears 2 times" in failures(bundle)


def test_a_checkpoint_from_another_key_proves_nothing() -> None:
    log = Log.of()
    bundle = log.bundle()
    impostor = Signer.from_key(generate_signer(ORIGIN))
    bundle.checkpoint = log.note(impostor)
    (failure,) = failures(bundle)
    assert failure.startswith(f"{CODE}: checkpoint refused, so nothing in the bundle is proven:")
    assert f"not signed by the key {SIGNER.name}+{SIGNER.key_id:08x}" in failure
    assert "another key of the same name" in failure


def test_a_checkpoint_whose_size_was_changed_proves_nothing() -> None:
    bundle = Log.of().bundle()
    size = bundle.checkpoint.split("\n")[1]
    bundle.checkpoint = bundle.checkpoint.replace(f"\n{size}\n", f"\n{int(size) + 1}\n", 1)
    (failure,) = failures(bundle)
    assert "text was changed after signing" in failure


def test_an_edited_readable_event_is_named_while_the_stored_bytes_stay_proven() -> None:
    bundle = Log.of().bundle()
    bundle.events[3].event = {"note": "nothing happened", "version": 4}
    report = verify_bundle(encode_bundle(bundle), VKEY)
    assert [str(f) for f in report.failures] == [
        f'{CODE} version 4 (leaf {bundle.events[3].leaf_index}): the readable "event" differs'
        " from the stored bytes: it was edited after the export (the stored bytes are what the"
        " log proves)"
    ]
    assert report.proven_versions == (1, 2, 3, 4, 5)
    assert verify_bundle(encode_bundle(bundle), VKEY, decode=None).ok


def test_another_dossiers_events_under_this_code_are_refused() -> None:
    bundle = Log.of().bundle()
    bundle.dossier_code = OTHER_CODE
    found = failures(bundle)
    assert found[0] == (
        f"{OTHER_CODE}: the dossier id {DOSSIER} is not the id of this code ({OTHER}):"
        " the events are another dossier's"
    )


def test_a_document_that_is_not_a_bundle_is_refused() -> None:
    assert failures(b'{"format": 1}')[0].startswith(
        "the bundle: this is not a dossier-ledger-bundle/1 document:"
    )
    bundle = Log.of(1).bundle()
    bundle.format = "dossier-ledger-bundle/2"
    assert failures(bundle) == [
        f"{CODE}: the format 'dossier-ledger-bundle/2' is not 'dossier-ledger-bundle/1'"
    ]


def test_a_malformed_event_is_named() -> None:
    bundle = Log.of(2).bundle()
    bundle.events[1].state_b64 = "not base64!"
    bundle.events[0].inclusion_proof[0] = encode_base64(b"short")
    assert failures(bundle) == [
        f"{CODE} version 1 (leaf {bundle.events[0].leaf_index}): malformed event, so it cannot be"
        " checked: proof hash 0 has 5 bytes, not 32",
        f"{CODE} version 2 (leaf {bundle.events[1].leaf_index}): malformed event, so it cannot be"
        " checked: not standard base64",
    ]


def test_an_unusable_public_key_is_an_error_not_a_finding() -> None:
    with pytest.raises(MalformedKeyError):
        verify_bundle(encode_bundle(Log.of(1).bundle()), "not a key")


def test_a_grown_log_is_consistent_with_its_earlier_checkpoint() -> None:
    log = Log.of(3)
    old_note, old_size = log.note(), log.store.size
    for version in range(4, 9):
        log.append(DOSSIER, version, state(CODE, version))
    proof = consistency_proof(log.store, old_size, log.store.size)
    old, new = verify_checkpoint_consistency(old_note, log.note(), proof, SIGNER.verifier())
    assert (old.tree_size, new.tree_size) == (old_size, log.store.size)
    document = msgspec.json.encode(
        {"from": old_size, "to": new.tree_size, "hashes": [encode_base64(h) for h in proof]}
    )
    assert decode_hashes(decode_consistency_proof(document).hashes) == proof


def test_a_rewritten_log_is_not_consistent_with_its_earlier_checkpoint() -> None:
    log = Log.of(3)
    old_note, old_size = log.note(), log.store.size
    rewritten = Log.of(3)
    rewritten.store = MemoryHashStore()
    for version in range(1, 8):
        rewritten.append(DOSSIER, version, state(CODE, version * 10))
    proof = consistency_proof(rewritten.store, old_size, rewritten.store.size)
    with pytest.raises(ConsistencyError, match=f"size {old_size} is not a prefix"):
        verify_checkpoint_consistency(old_note, rewritten.note(), proof, SIGNER.verifier())


def test_two_checkpoints_of_one_size_with_different_roots_are_a_fork() -> None:
    log, forked = Log.of(2), Log.of(2)
    forked.store = MemoryHashStore()
    for version in range(1, 5):
        forked.append(DOSSIER, version, state(OTHER_CODE, version))
    with pytest.raises(ConsistencyError, match="forked"):
        verify_checkpoint_consistency(log.note(), forked.note(), [], SIGNER.verifier())


def test_consistency_needs_both_checkpoints_signed_and_in_order() -> None:
    log = Log.of(2)
    old_note = log.note()
    log.append(DOSSIER, 3, state(CODE, 3))
    new_note = log.note()
    impostor = Signer.from_key(generate_signer(ORIGIN))
    with pytest.raises(ConsistencyError, match="the new checkpoint is refused"):
        verify_checkpoint_consistency(old_note, log.note(impostor), [], SIGNER.verifier())
    with pytest.raises(ConsistencyError, match="give the older one first"):
        verify_checkpoint_consistency(new_note, old_note, [], SIGNER.verifier())
    with pytest.raises(ConsistencyError, match="malformed"):
        verify_checkpoint_consistency(old_note, new_note, [], SIGNER.verifier())
