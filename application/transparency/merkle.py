"""The RFC 9162 (RFC 6962) Merkle tree of the transparency log, over stored perfect subtrees.

Hashes: SHA-256; a leaf hashes as H(0x00 ‖ leaf), an inner node as H(0x01 ‖ left ‖ right).

Storage layout: the hash of every complete, perfect subtree is stored once, addressed by
(level, index): the subtree of 2**level leaves starting at leaf index * 2**level. Level 0 holds the
leaf hashes. Such a subtree never changes once complete, so one store serves the root, the
inclusion proofs and the consistency proofs of every tree size it has reached, each with
O(log n) reads.

Proof generation follows the recursive definitions of RFC 9162 section 2.1 (MTH, PATH, PROOF),
taking every subtree hash from the store; verification follows sections 2.1.3.2 and 2.1.4.2.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()


class ProofError(ValueError):
    """A proof is malformed or does not prove what it claims; the message says which."""


class RootMismatchError(ProofError):
    """A well-formed proof leads to a root other than the expected one."""


class HashStore(Protocol):
    def get_subtree(self, level: int, index: int) -> bytes:
        """The hash of the perfect subtree of 2**level leaves starting at leaf index * 2**level."""
        ...


@dataclass(frozen=True, slots=True)
class Subtree:
    """A perfect subtree hash to persist: leaves [index * 2**level, (index + 1) * 2**level)."""

    level: int
    index: int
    hash: bytes


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split_point(size: int) -> int:
    """The largest power of two smaller than size (size >= 2): RFC 9162's k."""
    return 1 << ((size - 1).bit_length() - 1)


def subtrees_of_range(start: int, end: int) -> list[tuple[int, int]]:
    """The (level, index) of the perfect subtrees that make up leaves [start, end), largest first.

    The range must start on a multiple of its largest chunk, as every range of an RFC 9162 tree
    does. For [0, size) these are also the subtrees the appender reads to extend the tree.
    """
    size = end - start
    if size <= 0:
        return []
    largest = 1 << (size.bit_length() - 1)
    if start % largest:
        raise ValueError(f"leaves [{start}, {end}) do not form a subtree of an RFC 9162 tree")
    chunks = []
    position = start
    for level in range(size.bit_length() - 1, -1, -1):
        if size >> level & 1:
            chunks.append((level, position >> level))
            position += 1 << level
    return chunks


def range_hash(store: HashStore, start: int, end: int) -> bytes:
    """MTH of leaves [start, end): its perfect subtrees, combined from the right."""
    hashes = [store.get_subtree(level, index) for level, index in subtrees_of_range(start, end)]
    if not hashes:
        return EMPTY_ROOT
    result = hashes[-1]
    for left in reversed(hashes[:-1]):
        result = node_hash(left, result)
    return result


def root_hash(store: HashStore, tree_size: int) -> bytes:
    return range_hash(store, 0, tree_size)


LeafRange = tuple[int, int]
"""Leaves [start, end) of the tree; a proof is the list of the MTHs of such ranges."""


def inclusion_proof(store: HashStore, leaf_index: int, tree_size: int) -> list[bytes]:
    """PATH(leaf_index, D[0:tree_size]) of RFC 9162 section 2.1.3.1, leaf side first."""
    return [range_hash(store, *r) for r in inclusion_proof_ranges(leaf_index, tree_size)]


def consistency_proof(store: HashStore, old_size: int, new_size: int) -> list[bytes]:
    """PROOF(old_size, D[0:new_size]) of RFC 9162 section 2.1.4.1 (empty when nothing to prove)."""
    return [range_hash(store, *r) for r in consistency_proof_ranges(old_size, new_size)]


def inclusion_proof_ranges(leaf_index: int, tree_size: int) -> list[LeafRange]:
    if not 0 <= leaf_index < tree_size:
        raise ProofError(f"leaf {leaf_index} is not in a tree of size {tree_size}")
    ranges = []
    start, end = 0, tree_size
    while end - start > 1:
        middle = start + _split_point(end - start)
        if leaf_index < middle:
            ranges.append((middle, end))
            end = middle
        else:
            ranges.append((start, middle))
            start = middle
    ranges.reverse()
    return ranges


def consistency_proof_ranges(old_size: int, new_size: int) -> list[LeafRange]:
    if not 0 <= old_size <= new_size:
        raise ProofError(f"no consistency proof from size {old_size} to size {new_size}")
    if old_size in (0, new_size):
        return []
    ranges = []
    start, end, whole_old_tree = 0, new_size, True
    while end != old_size:
        middle = start + _split_point(end - start)
        if old_size <= middle:
            ranges.append((middle, end))
            end = middle
        else:
            ranges.append((start, middle))
            start, whole_old_tree = middle, False
    if not whole_old_tree:
        ranges.append((start, end))
    ranges.reverse()
    return ranges


def subtrees_of_proof(ranges: Iterable[LeafRange]) -> set[tuple[int, int]]:
    """The (level, index) of every stored subtree a proof reads: fetch them in one query into a
    MemoryHashStore, then compute the proof from it."""
    return {subtree for start, end in ranges for subtree in subtrees_of_range(start, end)}


class MemoryHashStore:
    """A HashStore in a dict: the tests' tree, and the appender's view of what it has computed."""

    def __init__(self, subtrees: Iterable[Subtree] = ()) -> None:
        self._hashes: dict[tuple[int, int], bytes] = {}
        self.size = 0
        self.add(subtrees)

    def get_subtree(self, level: int, index: int) -> bytes:
        try:
            return self._hashes[level, index]
        except KeyError:
            raise LookupError(f"no stored subtree at level {level}, index {index}") from None

    def add(self, subtrees: Iterable[Subtree]) -> None:
        for subtree in subtrees:
            self._hashes[subtree.level, subtree.index] = subtree.hash
            if subtree.level == 0:
                self.size = max(self.size, subtree.index + 1)

    def append(self, leaf_hashes: Sequence[bytes]) -> list[Subtree]:
        """Appends leaves after the current size; returns the subtrees it stored."""
        new = append_leaves(self.size, leaf_hashes, self)
        self.add(new)
        return new


def append_leaves(
    existing_size: int, leaf_hashes: Sequence[bytes], store: HashStore
) -> list[Subtree]:
    """Every perfect subtree completed by appending leaf_hashes to a tree of existing_size.

    Level-0 entries are the leaves themselves. The store is read only for the subtrees listed by
    subtrees_of_range(0, existing_size), the left siblings still waiting for a right half;
    persist the result in the same transaction as the leaves.
    """
    pending: dict[tuple[int, int], bytes] = {}
    completed: list[Subtree] = []

    def hash_at(level: int, index: int) -> bytes:
        if (level, index) in pending:
            return pending[level, index]
        return store.get_subtree(level, index)

    for offset, leaf in enumerate(leaf_hashes):
        if len(leaf) != HASH_SIZE:
            raise ValueError(f"a leaf hash has {HASH_SIZE} bytes, not {len(leaf)}")
        level, index, hash_ = 0, existing_size + offset, leaf
        while True:
            pending[level, index] = hash_
            completed.append(Subtree(level, index, hash_))
            if index % 2 == 0:
                break
            hash_ = node_hash(hash_at(level, index - 1), hash_)
            level, index = level + 1, index // 2
    return completed


def root_from_inclusion_proof(
    leaf_hash: bytes, leaf_index: int, tree_size: int, proof: Sequence[bytes]
) -> bytes:
    """The root that proof leads to from leaf_hash (RFC 9162 section 2.1.3.2, steps 1 to 4)."""
    if not 0 <= leaf_index < tree_size:
        raise ProofError(f"leaf index {leaf_index} is not below the tree size {tree_size}")
    _check_hash_sizes(proof)
    fn, sn = leaf_index, tree_size - 1
    result = leaf_hash
    for sibling in proof:
        if sn == 0:
            raise ProofError(_wrong_length("inclusion", len(proof), "long"))
        if fn & 1 or fn == sn:
            result = node_hash(sibling, result)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            result = node_hash(result, sibling)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0:
        raise ProofError(_wrong_length("inclusion", len(proof), "short"))
    return result


def verify_inclusion(
    leaf_hash: bytes, leaf_index: int, tree_size: int, proof: Sequence[bytes], root: bytes
) -> None:
    """Raises ProofError unless proof shows leaf_hash at leaf_index in the tree with that root."""
    if root_from_inclusion_proof(leaf_hash, leaf_index, tree_size, proof) != root:
        raise RootMismatchError(
            f"the inclusion proof of leaf {leaf_index} does not lead to the root"
            f" of the tree of size {tree_size}"
        )


def verify_consistency(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> None:
    """Raises ProofError unless the tree (old_size, old_root) is a prefix of (new_size, new_root).

    RFC 9162 section 2.1.4.2, plus the two cases its algorithm leaves out: an empty old tree and
    equal sizes, both proved by an empty proof.
    """
    if not 0 <= old_size <= new_size:
        raise ProofError(f"a tree of size {old_size} cannot be a prefix of one of size {new_size}")
    _check_hash_sizes(proof)
    if old_size in (0, new_size):
        if proof:
            raise ProofError(_wrong_length("consistency", len(proof), "long"))
        if old_size == 0 and old_root != EMPTY_ROOT:
            raise RootMismatchError("the old root is not the root of the empty tree")
        if old_size == new_size and old_root != new_root:
            raise RootMismatchError(f"two different roots for the same tree size {new_size}")
        return
    if not proof:
        raise ProofError(_wrong_length("consistency", 0, "short"))
    old_computed, new_computed = _roots_from_consistency_proof(old_size, new_size, old_root, proof)
    if old_computed != old_root:
        raise RootMismatchError(
            f"the consistency proof does not lead to the old root (size {old_size})"
        )
    if new_computed != new_root:
        raise RootMismatchError(
            f"the consistency proof does not lead to the new root (size {new_size})"
        )


def _roots_from_consistency_proof(
    old_size: int, new_size: int, old_root: bytes, proof: Sequence[bytes]
) -> tuple[bytes, bytes]:
    path = list(proof)
    if old_size & (old_size - 1) == 0:
        path.insert(0, old_root)
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    old_computed = new_computed = path[0]
    for sibling in path[1:]:
        if sn == 0:
            raise ProofError(_wrong_length("consistency", len(proof), "long"))
        if fn & 1 or fn == sn:
            old_computed = node_hash(sibling, old_computed)
            new_computed = node_hash(sibling, new_computed)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            new_computed = node_hash(new_computed, sibling)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0:
        raise ProofError(_wrong_length("consistency", len(proof), "short"))
    return old_computed, new_computed


def _check_hash_sizes(proof: Sequence[bytes]) -> None:
    for position, hash_ in enumerate(proof):
        if len(hash_) != HASH_SIZE:
            raise ProofError(f"proof hash {position} has {len(hash_)} bytes, not {HASH_SIZE}")


def _wrong_length(kind: str, length: int, too: str) -> str:
    return f"the {kind} proof of {length} hashes is too {too} for these tree sizes"
