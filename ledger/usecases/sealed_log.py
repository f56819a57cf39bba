"""The sealed log as verify rebuilds it, the report it gives, and how a signed head is checked."""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Sequence

from ledger.clock import rfc3339
from ledger.journal import content_hash, header_of, unbalanced_units
from ledger.merkle import (
    HASH_SIZE,
    MerkleAccumulator,
    fold_peaks,
    perfect_subtrees,
    root_hash,
)
from ledger.records import CheckpointRecord, TransactionRecord
from ledger.signing import key_id_for, tree_head_message, verify_signature

# Aligned blocks of this many leaves are hashed once; every larger subtree is built from their roots, so
# the checkpoints along the log cost a few thousand hashes each, not a rehash of their ragged edge.
MERKLE_BLOCK = 1 << 12
_NO_LEAF = bytes(HASH_SIZE)  # stands in for a position with no leaf (never a real SHA-256 output)
# What verify says of a transaction that fails a rule (the database's exact recheck says the same).
CONTENT_HASH_MISMATCH = "content hash does not match"
UNBALANCED = "postings do not sum to zero per unit"


@dataclasses.dataclass(frozen=True)
class VerifyReport:
    """The outcome of `clubcard audit verify`."""

    transactions_checked: int
    checkpoints_checked: int
    first_bad_transaction: str | None
    problem: str | None
    trusted_head_size: int | None = None  # set when the log was proved to extend a trusted head

    @property
    def ok(self) -> bool:
        """True when every hash, root and signature checked out."""
        return self.problem is None


def record_problem(record: TransactionRecord) -> str | None:
    """What is wrong with a recorded transaction: its content hash, or postings not summing to zero."""
    if content_hash(header_of(record), record.postings) != record.content_hash:
        return CONTENT_HASH_MISMATCH
    if unbalanced_units((p.unit, p.amount_minor) for p in record.postings):
        return UNBALANCED
    return None


def checkpoint_signature_valid(checkpoint: CheckpointRecord, trusted_key_ids: Collection[str]) -> bool:
    """True when the head is signed by a trusted key over exactly this size, root and time."""
    if checkpoint.key_id not in trusted_key_ids:
        return False
    # The key id is a hash of the public key: a row that pairs a trusted id with some other key (forged by
    # anyone able to write the table) must not verify.
    public_key = bytes.fromhex(checkpoint.public_key)
    if key_id_for(public_key) != checkpoint.key_id:
        return False
    message = tree_head_message(
        checkpoint.tree_size,
        bytes.fromhex(checkpoint.root_hash),
        rfc3339(checkpoint.signed_at),
        checkpoint.key_id,
    )
    return verify_signature(public_key, message, bytes.fromhex(checkpoint.signature))


class LeafLog:
    """The sealed log as verify rebuilt it: one leaf hash per position from `start` on.

    `start_peaks` is the frontier of the first `start` leaves (empty when the log starts at 0), and
    `block_roots` the roots of its first MERKLE_BLOCK-leaf blocks when they were hashed elsewhere already.
    """

    def __init__(
        self,
        leaves: bytes,
        start: int = 0,
        start_peaks: Sequence[bytes] = (),
        block_roots: Sequence[bytes] = (),
    ) -> None:
        """Wrap 32-byte leaf hashes laid end to end (all zero where a position has none)."""
        assert len(leaves) % HASH_SIZE == 0
        assert not block_roots or (start == 0 and len(block_roots) * MERKLE_BLOCK * HASH_SIZE <= len(leaves))
        self._leaves = leaves
        self.start = start
        self._start_peaks = tuple(start_peaks)
        self._block_roots: list[bytes] = list(block_roots)
        self._accumulator: MerkleAccumulator | None = None

    @property
    def size(self) -> int:
        """Positions covered: the first one after the log."""
        return self.start + len(self._leaves) // HASH_SIZE

    def leaf(self, position: int) -> bytes:
        """The leaf hash at a position (zeros if the position has none)."""
        offset = (position - self.start) * HASH_SIZE
        return self._leaves[offset : offset + HASH_SIZE]

    def leaves(self, start: int, end: int) -> list[bytes]:
        """The leaf hashes of positions [start, end)."""
        buffer, first = self._leaves, (start - self.start) * HASH_SIZE
        return [buffer[i : i + HASH_SIZE] for i in range(first, (end - self.start) * HASH_SIZE, HASH_SIZE)]

    def holes(self) -> list[int]:
        """Positions with no leaf (a seal record or the transaction it names is missing)."""
        found, offset = [], self._leaves.find(_NO_LEAF)
        while offset != -1:
            if offset % HASH_SIZE == 0:
                found.append(self.start + offset // HASH_SIZE)
                offset += HASH_SIZE
            else:
                offset += 1
            offset = self._leaves.find(_NO_LEAF, offset)
        return found

    def peaks(self, size: int) -> list[bytes]:
        """The frontier of the first `size` leaves (perfect-subtree roots, largest first)."""
        assert self.start <= size <= self.size
        if self.start:
            return self._peaks_after_start(size)
        return [self._perfect_root(start, end) for start, end in perfect_subtrees(size)]

    def root(self, size: int) -> bytes:
        """The tree head over the first `size` leaves."""
        return fold_peaks(self.peaks(size))

    def subtree_root(self, start: int, end: int) -> bytes:
        """The root of leaves [start, end), from whole blocks already hashed where it can."""
        return fold_peaks(
            [self._perfect_root(start + a, start + b) for a, b in perfect_subtrees(end - start)]
        )

    def _perfect_root(self, start: int, end: int) -> bytes:
        """The root of the perfect subtree over leaves [start, end)."""
        if self.start or end - start < MERKLE_BLOCK or start % MERKLE_BLOCK:
            return root_hash(self.leaves(start, end))
        self._fill_blocks(end // MERKLE_BLOCK)
        return root_hash(self._block_roots[start // MERKLE_BLOCK : end // MERKLE_BLOCK])

    def _fill_blocks(self, count: int) -> None:
        while len(self._block_roots) < count:
            first = len(self._block_roots) * MERKLE_BLOCK
            self._block_roots.append(root_hash(self.leaves(first, first + MERKLE_BLOCK)))

    def _peaks_after_start(self, size: int) -> list[bytes]:
        # Sizes are asked in increasing order while heads are checked: keep extending one accumulator.
        if self._accumulator is None or self._accumulator.size > size:
            self._accumulator = MerkleAccumulator.resume(self.start, self._start_peaks)
        self._accumulator.extend(self.leaves(self._accumulator.size, size))
        return list(self._accumulator.peaks)


def describe_positions(positions: Sequence[int]) -> str:
    """ "position 7", "positions 300..301" or "positions 4, 9..12" for sorted positions."""
    runs: list[list[int]] = []
    for position in positions:
        if runs and position == runs[-1][1] + 1:
            runs[-1][1] = position
        else:
            runs.append([position, position])
    text = ", ".join(str(a) if a == b else f"{a}..{b}" for a, b in runs)
    return f"position {text}" if len(positions) == 1 else f"positions {text}"
