"""RFC 6962 / RFC 9162 (Certificate Transparency) Merkle tree over transaction content hashes.

Leaves are the raw 32-byte SHA-256 content hashes of ledger transactions. Every function that takes
``leaf_hashes`` expects values that have already been through :func:`leaf_hash`.

Trees are built level by level: pair adjacent nodes and carry an odd last node up unchanged. That
gives exactly the root of RFC 6962's recursive definition (split at the largest power of two smaller
than ``n``) without recursion or repeated slicing, so a million leaves take well under a second.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence

__all__ = [
    "EMPTY_ROOT",
    "HASH_SIZE",
    "MerkleAccumulator",
    "consistency_proof",
    "consistency_proof_from_frontier",
    "consistency_subtrees",
    "fold_peaks",
    "inclusion_proof",
    "leaf_hash",
    "node_hash",
    "perfect_subtrees",
    "root_hash",
    "verify_consistency",
    "verify_inclusion",
]

HASH_SIZE = 32
"""Length in bytes of every leaf value, node hash and root (SHA-256)."""

EMPTY_ROOT = hashlib.sha256(b"").digest()
"""Root of the tree with no leaves: SHA-256 of the empty string (RFC 6962 section 2.1)."""

# Domain-separation prefixes stop an interior node from being passed off as a leaf (second preimage).
_LEAF_PREFIX = b"\x00"
_NODE_PREFIX = b"\x01"


def leaf_hash(content_hash: bytes) -> bytes:
    """Return the RFC 6962 leaf hash SHA-256(0x00 || content_hash) of a 32-byte content hash."""
    # Refuse anything but raw digests: hex text (64 bytes) would silently build a different tree.
    if len(content_hash) != HASH_SIZE:
        raise ValueError(f"content hash must be {HASH_SIZE} raw bytes, got {len(content_hash)}")
    return hashlib.sha256(_LEAF_PREFIX + content_hash).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """Return the RFC 6962 interior node hash SHA-256(0x01 || left || right)."""
    return hashlib.sha256(_NODE_PREFIX + left + right).digest()


def root_hash(leaf_hashes: Sequence[bytes]) -> bytes:
    """Return the Merkle tree head over ``leaf_hashes`` (already leaf-hashed); SHA-256(b"") if empty."""
    if not leaf_hashes:
        return EMPTY_ROOT
    level = list(leaf_hashes)
    while len(level) > 1:
        level = _next_level(level)
    return level[0]


def _next_level(level: list[bytes]) -> list[bytes]:
    """Hash adjacent pairs of one tree level into the level above, carrying an odd last node up."""
    sha256 = hashlib.sha256  # local binding: this loop runs once per interior node
    even = len(level) - len(level) % 2
    parents = [
        sha256(_NODE_PREFIX + left + right).digest()
        for left, right in zip(level[0:even:2], level[1:even:2], strict=True)
    ]
    if even != len(level):
        parents.append(level[-1])
    return parents


class MerkleAccumulator:
    """Streaming tree builder: append leaf hashes one at a time in O(log n) memory."""

    __slots__ = ("_peaks", "_size")

    def __init__(self) -> None:
        """Start an empty tree."""
        # Roots of the perfect subtrees the leaves so far decompose into, largest (leftmost) first;
        # one per set bit of ``_size``, so never more than ~64 entries.
        self._peaks: list[bytes] = []
        self._size = 0

    @property
    def size(self) -> int:
        """Number of leaves appended so far."""
        return self._size

    def append(self, leaf_hash: bytes) -> None:
        """Add the next leaf hash (already leaf-hashed) to the right edge of the tree."""
        if len(leaf_hash) != HASH_SIZE:
            raise ValueError(f"leaf hash must be {HASH_SIZE} bytes, got {len(leaf_hash)}")
        node = leaf_hash
        # Like binary increment: each trailing 1 bit of the old size is a same-height peak to merge.
        carry = self._size
        while carry & 1:
            node = node_hash(self._peaks.pop(), node)
            carry >>= 1
        self._peaks.append(node)
        self._size += 1

    @property
    def peaks(self) -> tuple[bytes, ...]:
        """The frontier: perfect-subtree roots, largest first; with `size` it resumes the tree."""
        return tuple(self._peaks)

    @classmethod
    def resume(cls, size: int, peaks: Iterable[bytes]) -> MerkleAccumulator:
        """Rebuild an accumulator from a stored frontier, to extend a checkpoint in O(log n)."""
        accumulator = cls()
        accumulator._peaks = list(peaks)
        accumulator._size = size
        if len(accumulator._peaks) != bin(size).count("1"):
            raise ValueError("frontier does not match the tree size")
        return accumulator

    def extend(self, leaf_hashes: Iterable[bytes]) -> None:
        """Append each of ``leaf_hashes`` in order."""
        for value in leaf_hashes:
            self.append(value)

    def root(self) -> bytes:
        """Return the tree head over every leaf appended so far (same as ``root_hash``)."""
        return fold_peaks(self._peaks)


def inclusion_proof(leaf_hashes: Sequence[bytes], index: int) -> list[bytes]:
    """Return the RFC 9162 section 2.1.3.1 audit path for leaf ``index``, leaf level first."""
    size = len(leaf_hashes)
    if not 0 <= index < size:
        raise ValueError(f"leaf index {index} is outside a tree of size {size}")
    # Walk PATH(m, D[lo:hi]) from the top; each step records the sibling subtree we do not enter.
    path: list[bytes] = []
    lo, hi = 0, size
    while hi - lo > 1:
        mid = lo + _largest_power_of_two_below(hi - lo)
        if index < mid:
            path.append(root_hash(leaf_hashes[mid:hi]))
            hi = mid
        else:
            path.append(root_hash(leaf_hashes[lo:mid]))
            lo = mid
    path.reverse()  # RFC order is bottom-up
    return path


def verify_inclusion(
    leaf_hash: bytes, index: int, tree_size: int, proof: Sequence[bytes], root: bytes
) -> bool:
    """Check an audit path (RFC 9162 section 2.1.3.2); ValueError if ``index`` is outside the tree."""
    if not 0 <= index < tree_size:
        raise ValueError(f"leaf index {index} is outside a tree of size {tree_size}")
    if not _all_hash_sized(leaf_hash, root, *proof):
        return False
    fn, sn = index, tree_size - 1
    r = leaf_hash
    for p in proof:
        if sn == 0:
            return False  # proof longer than the path to the root
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                # Right edge of an unbalanced tree: skip the levels where this node was carried up.
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def consistency_proof(leaf_hashes: Sequence[bytes], old_size: int) -> list[bytes]:
    """Return the RFC 9162 section 2.1.4.1 proof that the first ``old_size`` leaves prefix the whole tree."""
    return [
        root_hash(leaf_hashes[start:end]) for start, end in consistency_subtrees(old_size, len(leaf_hashes))
    ]


def consistency_subtrees(old_size: int, new_size: int) -> list[tuple[int, int]]:
    """The leaf ranges [start, end) whose roots make the RFC 9162 consistency proof, in proof order.

    Every range lies either wholly inside the old tree, where it is one of its perfect subtrees (see
    `perfect_subtrees`), or wholly among the leaves appended since: so the old tree's frontier and the
    new leaves are enough to build a proof.
    """
    if not 0 <= old_size <= new_size:
        raise ValueError(f"old size {old_size} is outside 0..{new_size}")
    if old_size in (0, new_size):
        return []  # every tree extends the empty tree and itself: nothing to prove
    # Walk SUBPROOF(m, D[lo:hi], complete) from the top, recording the subtree not descended into.
    ranges: list[tuple[int, int]] = []
    lo, hi, m = 0, new_size, old_size
    complete = True  # is D[lo:lo+m] still a subtree the verifier already knows the root of?
    while m != hi - lo:
        mid = lo + _largest_power_of_two_below(hi - lo)
        if lo + m <= mid:
            ranges.append((mid, hi))
            hi = mid
        else:
            ranges.append((lo, mid))
            m -= mid - lo
            lo = mid
            complete = False
    if not complete:
        ranges.append((lo, hi))
    ranges.reverse()  # RFC order is bottom-up
    return ranges


def perfect_subtrees(size: int) -> list[tuple[int, int]]:
    """The leaf ranges of the perfect subtrees a tree of ``size`` leaves decomposes into, largest first.

    Their roots are the tree's frontier (`MerkleAccumulator.peaks`), and folded they give its head.
    """
    ranges: list[tuple[int, int]] = []
    start = 0
    for bit in reversed(range(size.bit_length())):
        if size & (1 << bit):
            ranges.append((start, start + (1 << bit)))
            start += 1 << bit
    return ranges


def consistency_proof_from_frontier(
    old_size: int,
    old_peaks: Sequence[bytes],
    new_size: int,
    appended_root: Callable[[int, int], bytes],
) -> list[bytes]:
    """The RFC 9162 proof from the old tree's frontier and roots over the leaves appended since.

    ``appended_root(start, end)`` returns the root of leaves [start, end), always at or after
    ``old_size``; the old leaves themselves are never needed. Equal to `consistency_proof`.
    """
    ranges = perfect_subtrees(old_size)
    if len(old_peaks) != len(ranges):
        raise ValueError("frontier does not match the tree size")
    peaks = dict(zip(ranges, old_peaks, strict=True))
    proof: list[bytes] = []
    for start, end in consistency_subtrees(old_size, new_size):
        if end <= old_size:
            proof.append(peaks[(start, end)])
        else:
            assert start >= old_size, "a proof subtree never straddles the old tree's edge"
            proof.append(appended_root(start, end))
    return proof


def fold_peaks(peaks: Sequence[bytes]) -> bytes:
    """The tree head over a frontier (perfect-subtree roots, largest first), as RFC 6962 defines it."""
    if not peaks:
        return EMPTY_ROOT
    # RFC 6962 puts the largest perfect subtree on the left and recurses on the rest, so the peaks
    # fold together right to left.
    node = peaks[-1]
    for peak in reversed(peaks[:-1]):
        node = node_hash(peak, node)
    return node


def verify_consistency(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> bool:
    """Check that ``new_root`` extends ``old_root`` (RFC 9162 section 2.1.4.2); ValueError on bad sizes."""
    if not 0 <= old_size <= new_size:
        raise ValueError(f"old size {old_size} must be within 0..new size {new_size}")
    if not _all_hash_sized(old_root, new_root, *proof):
        return False
    if old_size == new_size:
        return not proof and old_root == new_root
    if old_size == 0:
        # Anything extends the empty tree, but only if the claimed old head really is the empty one.
        return not proof and old_root == EMPTY_ROOT
    return _verify_nontrivial_consistency(old_size, new_size, old_root, new_root, proof)


def _verify_nontrivial_consistency(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> bool:
    """RFC 9162 section 2.1.4.2 steps 1-7 for 0 < old_size < new_size."""
    path = list(proof)
    if not path:
        return False
    if old_size & (old_size - 1) == 0:
        # A power-of-two old tree is itself a complete subtree, so its root is left out of the proof.
        path.insert(0, old_root)
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False  # proof longer than the path to the root
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return sn == 0 and fr == old_root and sr == new_root


def _largest_power_of_two_below(n: int) -> int:
    """Return the largest power of two strictly less than ``n`` (RFC 6962's split point, n > 1)."""
    return 1 << ((n - 1).bit_length() - 1)


def _all_hash_sized(*values: bytes) -> bool:
    """True if every value is exactly one SHA-256 digest long."""
    # Verifiers see untrusted input; a wrong-length value can never be a genuine node, so reject it.
    return all(len(value) == HASH_SIZE for value in values)
