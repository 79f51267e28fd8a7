"""The stored-subtree Merkle tree against a reference written from RFC 9162 section 2.1."""

from __future__ import annotations

import hashlib
from functools import cache

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from application.transparency.merkle import (
    EMPTY_ROOT,
    MemoryHashStore,
    ProofError,
    RootMismatchError,
    Subtree,
    append_leaves,
    consistency_proof,
    consistency_proof_ranges,
    inclusion_proof,
    inclusion_proof_ranges,
    leaf_hash,
    root_from_inclusion_proof,
    root_hash,
    subtrees_of_proof,
    subtrees_of_range,
    verify_consistency,
    verify_inclusion,
)

MAX_SIZE = 300
LEAVES = tuple(f"leaf {i}".encode() for i in range(2000))


# The reference: MTH, PATH and PROOF/SUBPROOF exactly as RFC 9162 section 2.1 defines them, on
# the range D[start:end] of LEAVES (a tree of size n is the prefix D[0:n]).


def _sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def _k(n: int) -> int:
    """The largest power of two smaller than n."""
    k = 1
    while k * 2 < n:
        k *= 2
    return k


@cache
def reference_mth(start: int, end: int) -> bytes:
    n = end - start
    if n == 0:
        return _sha256(b"")
    if n == 1:
        return _sha256(b"\x00" + LEAVES[start])
    k = _k(n)
    return _sha256(b"\x01" + reference_mth(start, start + k) + reference_mth(start + k, end))


def reference_path(m: int, start: int, end: int) -> list[bytes]:
    n = end - start
    if n == 1:
        return []
    k = _k(n)
    if m < k:
        return [*reference_path(m, start, start + k), reference_mth(start + k, end)]
    return [*reference_path(m - k, start + k, end), reference_mth(start, start + k)]


def reference_subproof(m: int, start: int, end: int, whole: bool) -> list[bytes]:
    n = end - start
    if m == n:
        return [] if whole else [reference_mth(start, end)]
    k = _k(n)
    if m <= k:
        return [*reference_subproof(m, start, start + k, whole), reference_mth(start + k, end)]
    return [*reference_subproof(m - k, start + k, end, False), reference_mth(start, start + k)]


def reference_proof(m: int, n: int) -> list[bytes]:
    return reference_subproof(m, 0, n, True)


def grown_store(size: int) -> MemoryHashStore:
    store = MemoryHashStore()
    store.append([leaf_hash(data) for data in LEAVES[:size]])
    return store


def flipped(data: bytes) -> bytes:
    return bytes([data[0] ^ 1]) + data[1:]


LARGE_STORE = grown_store(len(LEAVES))


class CountingStore:
    def __init__(self, store: MemoryHashStore) -> None:
        self.store = store
        self.read: set[tuple[int, int]] = set()
        self.reads = 0

    def get_subtree(self, level: int, index: int) -> bytes:
        self.read.add((level, index))
        self.reads += 1
        return self.store.get_subtree(level, index)


def test_hashes_follow_rfc_9162_domain_separation() -> None:
    assert _sha256(b"") == EMPTY_ROOT
    assert leaf_hash(b"x") == _sha256(b"\x00x")
    assert root_hash(MemoryHashStore(), 0) == EMPTY_ROOT


def test_every_root_inclusion_and_consistency_proof_up_to_300_leaves_matches_the_rfc() -> None:
    store = MemoryHashStore()
    for size in range(1, MAX_SIZE + 1):
        store.append([leaf_hash(LEAVES[size - 1])])
        root = root_hash(store, size)
        assert root == reference_mth(0, size)
        for index in range(size):
            proof = inclusion_proof(store, index, size)
            assert proof == reference_path(index, 0, size)
            verify_inclusion(leaf_hash(LEAVES[index]), index, size, proof, root)
        for old_size in range(1, size + 1):
            proof = consistency_proof(store, old_size, size)
            assert proof == reference_proof(old_size, size)
            verify_consistency(old_size, size, reference_mth(0, old_size), root, proof)


def test_a_store_grown_to_a_larger_size_still_proves_every_smaller_size() -> None:
    store = grown_store(MAX_SIZE)
    for size in (1, 2, 3, 7, 8, 9, 100, 255, 256, 257):
        assert root_hash(store, size) == reference_mth(0, size)
        assert inclusion_proof(store, size - 1, size) == reference_path(size - 1, 0, size)


@settings(max_examples=50, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=40), max_size=40))
def test_appending_in_batches_stores_the_same_subtrees_as_one_leaf_at_a_time(
    batch_sizes: list[int],
) -> None:
    batched, one_by_one = MemoryHashStore(), MemoryHashStore()
    for batch_size in batch_sizes:
        start = batched.size
        leaves = [leaf_hash(data) for data in LEAVES[start : start + batch_size]]
        batched.append(leaves)
        for leaf in leaves:
            one_by_one.append([leaf])
    size = batched.size
    assert size == one_by_one.size == sum(batch_sizes)
    assert root_hash(batched, size) == root_hash(one_by_one, size) == reference_mth(0, size)


def test_appending_reads_only_the_subtrees_waiting_for_a_right_half() -> None:
    store = grown_store(11)
    counting = CountingStore(store)
    new = append_leaves(11, [leaf_hash(data) for data in LEAVES[11:16]], counting)
    assert counting.read == {(3, 0), (1, 4), (0, 10)} == set(subtrees_of_range(0, 11))
    assert [(s.level, s.index) for s in new] == [
        *[(0, 11), (1, 5), (2, 2)],
        *[(0, 12)],
        *[(0, 13), (1, 6)],
        *[(0, 14)],
        *[(0, 15), (1, 7), (2, 3), (3, 1), (4, 0)],
    ]


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_proofs_read_a_logarithmic_number_of_subtrees(data: st.DataObject) -> None:
    store = LARGE_STORE
    size = data.draw(st.integers(min_value=1, max_value=LARGE_STORE.size))
    index = data.draw(st.integers(min_value=0, max_value=size - 1))
    old_size = data.draw(st.integers(min_value=1, max_value=size))
    budget = 2 * size.bit_length() + 2
    counting = CountingStore(store)
    proof = inclusion_proof(counting, index, size)
    assert counting.reads <= budget
    verify_inclusion(leaf_hash(LEAVES[index]), index, size, proof, reference_mth(0, size))
    counting = CountingStore(store)
    proof = consistency_proof(counting, old_size, size)
    assert counting.reads <= budget
    verify_consistency(old_size, size, reference_mth(0, old_size), reference_mth(0, size), proof)


TAMPER_SIZE = 21


@pytest.mark.parametrize("index", range(TAMPER_SIZE))
def test_a_changed_leaf_fails_inclusion(index: int) -> None:
    store = grown_store(TAMPER_SIZE)
    proof = inclusion_proof(store, index, TAMPER_SIZE)
    root = root_hash(store, TAMPER_SIZE)
    with pytest.raises(RootMismatchError):
        verify_inclusion(leaf_hash(LEAVES[index] + b"!"), index, TAMPER_SIZE, proof, root)


@pytest.mark.parametrize("index", range(TAMPER_SIZE))
def test_a_changed_proof_hash_fails_inclusion(index: int) -> None:
    store = grown_store(TAMPER_SIZE)
    proof = inclusion_proof(store, index, TAMPER_SIZE)
    root = root_hash(store, TAMPER_SIZE)
    for position in range(len(proof)):
        tampered = [*proof[:position], flipped(proof[position]), *proof[position + 1 :]]
        with pytest.raises(RootMismatchError):
            verify_inclusion(leaf_hash(LEAVES[index]), index, TAMPER_SIZE, tampered, root)


@pytest.mark.parametrize("index", range(TAMPER_SIZE))
def test_another_index_fails_inclusion(index: int) -> None:
    store = grown_store(TAMPER_SIZE)
    proof = inclusion_proof(store, index, TAMPER_SIZE)
    root = root_hash(store, TAMPER_SIZE)
    for other in [*range(index), *range(index + 1, TAMPER_SIZE + 3)]:
        with pytest.raises(ProofError):
            verify_inclusion(leaf_hash(LEAVES[index]), other, TAMPER_SIZE, proof, root)


@pytest.mark.parametrize("index", range(TAMPER_SIZE))
def test_a_proof_fails_against_a_tree_of_another_size(index: int) -> None:
    store = grown_store(2 * TAMPER_SIZE)
    proof = inclusion_proof(store, index, TAMPER_SIZE)
    for other_size in range(index + 1, 2 * TAMPER_SIZE + 1):
        if other_size != TAMPER_SIZE:
            with pytest.raises(ProofError):
                verify_inclusion(
                    leaf_hash(LEAVES[index]),
                    index,
                    other_size,
                    proof,
                    root_hash(store, other_size),
                )


def test_inclusion_proofs_of_the_wrong_length_are_named_as_such() -> None:
    store = grown_store(10)
    proof = inclusion_proof(store, 3, 10)
    with pytest.raises(ProofError, match="too short"):
        root_from_inclusion_proof(leaf_hash(LEAVES[3]), 3, 10, proof[:-1])
    with pytest.raises(ProofError, match="too long"):
        root_from_inclusion_proof(leaf_hash(LEAVES[3]), 3, 10, [*proof, proof[0]])
    with pytest.raises(ProofError, match="not below the tree size"):
        root_from_inclusion_proof(leaf_hash(LEAVES[3]), 10, 10, proof)
    with pytest.raises(ProofError, match="33 bytes"):
        root_from_inclusion_proof(leaf_hash(LEAVES[3]), 3, 10, [proof[0] + b"x", *proof[1:]])


@pytest.mark.parametrize("old_size", range(1, TAMPER_SIZE))
def test_consistency_fails_for_any_changed_root_proof_hash_or_size(old_size: int) -> None:
    store = grown_store(2 * TAMPER_SIZE)
    new_size = TAMPER_SIZE
    proof = consistency_proof(store, old_size, new_size)
    old_root, new_root = root_hash(store, old_size), root_hash(store, new_size)
    verify_consistency(old_size, new_size, old_root, new_root, proof)
    with pytest.raises(RootMismatchError):
        verify_consistency(old_size, new_size, flipped(old_root), new_root, proof)
    with pytest.raises(RootMismatchError):
        verify_consistency(old_size, new_size, old_root, flipped(new_root), proof)
    for position in range(len(proof)):
        tampered = [*proof[:position], flipped(proof[position]), *proof[position + 1 :]]
        with pytest.raises(ProofError):
            verify_consistency(old_size, new_size, old_root, new_root, tampered)
    for other_new in range(old_size, 2 * TAMPER_SIZE + 1):
        if other_new != new_size:
            with pytest.raises(ProofError):
                verify_consistency(
                    old_size, other_new, old_root, root_hash(store, other_new), proof
                )
    for other_old in range(1, new_size + 1):
        if other_old != old_size:
            with pytest.raises(ProofError):
                verify_consistency(
                    other_old, new_size, root_hash(store, other_old), new_root, proof
                )


def test_consistency_of_equal_sizes_and_of_the_empty_tree_needs_an_empty_proof() -> None:
    store = grown_store(5)
    root = root_hash(store, 5)
    verify_consistency(5, 5, root, root, [])
    verify_consistency(0, 5, EMPTY_ROOT, root, [])
    with pytest.raises(RootMismatchError, match="same tree size"):
        verify_consistency(5, 5, root, flipped(root), [])
    with pytest.raises(ProofError, match="too long"):
        verify_consistency(5, 5, root, root, [root])
    with pytest.raises(ProofError, match="too short"):
        verify_consistency(3, 5, root_hash(store, 3), root, [])
    with pytest.raises(ProofError, match="cannot be a prefix"):
        verify_consistency(6, 5, root, root, [])


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_a_proof_computed_from_its_prefetched_subtrees_is_the_same(data: st.DataObject) -> None:
    size = data.draw(st.integers(min_value=1, max_value=LARGE_STORE.size))
    index = data.draw(st.integers(min_value=0, max_value=size - 1))
    old_size = data.draw(st.integers(min_value=0, max_value=size))
    needed = subtrees_of_proof(
        [*inclusion_proof_ranges(index, size), *consistency_proof_ranges(old_size, size)]
    )
    prefetched = MemoryHashStore(
        Subtree(level, position, LARGE_STORE.get_subtree(level, position))
        for level, position in needed
    )
    assert inclusion_proof(prefetched, index, size) == inclusion_proof(LARGE_STORE, index, size)
    assert consistency_proof(prefetched, old_size, size) == consistency_proof(
        LARGE_STORE, old_size, size
    )
