"""Tamper evidence: seal committed transactions into a Merkle log, sign tree heads, verify, prove."""

from __future__ import annotations

import array
import dataclasses
import datetime as dt
from collections.abc import Callable, Collection

from ledger.clock import rfc3339
from ledger.journal import content_hash, header_of
from ledger.merkle import (
    EMPTY_ROOT,
    HASH_SIZE,
    MerkleAccumulator,
    inclusion_proof,
    leaf_hash,
    node_hash,
    root_hash,
)
from ledger.ports import UnitOfWork
from ledger.records import CheckpointRecord
from ledger.signing import SigningKey, key_id_for, tree_head_message, verify_signature

SEAL_BATCH_LIMIT = 100_000
MERKLE_BLOCK = 1 << 16  # verify folds whole aligned blocks of leaves into the tree once


def seal(
    uow: UnitOfWork, key: SigningKey, now: dt.datetime, limit: int = SEAL_BATCH_LIMIT
) -> CheckpointRecord | None:
    """Append committed transactions behind the safe horizon to the log and sign the new tree head."""
    if not uow.audit.try_lock_sealer():
        return None  # another sealer is at work; it will seal these too
    horizon = uow.audit.safe_horizon()
    batch = uow.audit.unsealed(horizon, limit)
    if not batch:
        return None
    latest: CheckpointRecord | None = uow.audit.latest_checkpoint()
    if latest is None:
        accumulator = MerkleAccumulator()
    else:
        accumulator = MerkleAccumulator.resume(latest.tree_size, (bytes.fromhex(h) for h in latest.frontier))
    assert accumulator.size == uow.audit.sealed_count(), "every seal is covered by a checkpoint"
    uow.audit.append_seals(accumulator.size, [transaction_id for transaction_id, _ in batch])
    for _, stored_hash in batch:
        accumulator.append(leaf_hash(bytes.fromhex(stored_hash)))
    return _sign(uow, key, accumulator, now)


def _sign(
    uow: UnitOfWork, key: SigningKey, accumulator: MerkleAccumulator, now: dt.datetime
) -> CheckpointRecord:
    root = accumulator.root()
    signed_at = rfc3339(now)
    signature = key.sign(tree_head_message(accumulator.size, root, signed_at, key.key_id))
    checkpoint = CheckpointRecord(
        tree_size=accumulator.size,
        root_hash=root.hex(),
        signed_at=now,
        key_id=key.key_id,
        public_key=key.public_key_bytes().hex(),
        signature=signature.hex(),
        frontier=tuple(peak.hex() for peak in accumulator.peaks),
    )
    uow.audit.insert_checkpoint(checkpoint)
    return checkpoint


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


@dataclasses.dataclass(frozen=True)
class VerifyReport:
    """The outcome of `clubcard audit verify`."""

    transactions_checked: int
    checkpoints_checked: int
    first_bad_transaction: str | None
    problem: str | None

    @property
    def ok(self) -> bool:
        """True when every hash, root and signature checked out."""
        return self.problem is None


def verify(
    uow: UnitOfWork,
    trusted_key_ids: Collection[str],
    progress: Callable[[int], None] | None = None,
    workers: int | None = None,
) -> VerifyReport:
    """Recompute every content hash, every checkpoint root and every signature; name the first bad one.

    On PostgreSQL the hashing is spread over `workers` processes (default: one per core) that read one
    exported snapshot; elsewhere it streams in this process. Either way every transaction's hash is
    recomputed from its header and postings, and the first bad one in (recorded_at, id) order is named.
    """
    if uow.verify.parallel:
        return _verify_parallel(uow, trusted_key_ids, progress, workers)
    checked = 0
    for record in uow.journal.stream():
        checked += 1
        if progress and checked % 10_000 == 0:
            progress(checked)
        if content_hash(header_of(record), record.postings) != record.content_hash:
            return VerifyReport(
                checked, 0, record.id, f"transaction {record.id}: content hash does not match"
            )
    return _verify_checkpoints(uow, trusted_key_ids, checked)


def _verify_parallel(
    uow: UnitOfWork,
    trusted_key_ids: Collection[str],
    progress: Callable[[int], None] | None,
    workers: int | None,
) -> VerifyReport:
    overview = uow.verify.begin()
    checkpoints: list[CheckpointRecord] = overview.checkpoints
    wanted = {c.tree_size - 1 for c in checkpoints if 0 < c.tree_size <= overview.seals}
    checked = sealed = 0
    first_bad: tuple[str, str] | None = None
    leaves = bytearray(HASH_SIZE * overview.sealed_positions)
    ids: dict[int, str] = {}
    for result in uow.verify.run_parallel(overview, wanted, workers):
        checked += result.checked
        if result.first_bad is not None:
            first_bad = result.first_bad if first_bad is None else min(first_bad, result.first_bad)
        ids.update(result.ids)
        for index, position in enumerate(array.array("q", result.positions)):
            leaves[position * HASH_SIZE : (position + 1) * HASH_SIZE] = result.leaves[
                index * HASH_SIZE : (index + 1) * HASH_SIZE
            ]
            sealed += 1
        if progress:
            progress(checked)
    if first_bad is not None:
        return VerifyReport(
            checked, 0, first_bad[1], f"transaction {first_bad[1]}: content hash does not match"
        )
    assert checked == overview.transactions, "every transaction falls in exactly one partition"
    if not sealed == overview.seals == overview.sealed_positions:
        return VerifyReport(checked, 0, None, "seal positions are not consecutive")
    return _check_heads(checkpoints, bytes(leaves), ids, trusted_key_ids, checked)


def _check_heads(
    checkpoints: list[CheckpointRecord],
    leaves: bytes,
    ids: dict[int, str],
    trusted_key_ids: Collection[str],
    checked: int,
) -> VerifyReport:
    """Each checkpoint's root from the leaves (whole aligned blocks folded in once), then its signature."""
    accumulator = MerkleAccumulator()  # over block roots: perfect subtrees of one height
    done = previous_size = 0
    for target in checkpoints:
        if target.tree_size * HASH_SIZE > len(leaves):
            return VerifyReport(
                checked, 0, None, f"checkpoint {target.tree_size} covers transactions that are missing"
            )
        while done + MERKLE_BLOCK <= target.tree_size:
            accumulator.append(root_hash(_split(leaves, done, done + MERKLE_BLOCK)))
            done += MERKLE_BLOCK
        if (
            _fold([*accumulator.peaks, *_peaks(_split(leaves, done, target.tree_size))]).hex()
            != target.root_hash
        ):
            return VerifyReport(
                checked,
                0,
                ids.get(target.tree_size - 1),
                (
                    f"checkpoint {target.tree_size}: root does not match; a transaction sealed at "
                    f"positions {previous_size}..{target.tree_size - 1} was altered"
                ),
            )
        if not checkpoint_signature_valid(target, trusted_key_ids):
            return VerifyReport(
                checked, 0, None, f"checkpoint {target.tree_size}: bad or untrusted signature"
            )
        previous_size = target.tree_size
    return VerifyReport(checked, len(checkpoints), None, None)


def _split(leaves: bytes, start: int, end: int) -> list[bytes]:
    return [leaves[i : i + HASH_SIZE] for i in range(start * HASH_SIZE, end * HASH_SIZE, HASH_SIZE)]


def _peaks(leaves: list[bytes]) -> list[bytes]:
    """Roots of the perfect subtrees that `leaves` (from an aligned start) decompose into, largest first."""
    peaks: list[bytes] = []
    offset = 0
    for bit in reversed(range(len(leaves).bit_length())):
        if len(leaves) & (1 << bit):
            peaks.append(root_hash(leaves[offset : offset + (1 << bit)]))
            offset += 1 << bit
    return peaks


def _fold(peaks: list[bytes]) -> bytes:
    """The tree head over peaks, largest (leftmost) first, as MerkleAccumulator.root folds them."""
    if not peaks:
        return EMPTY_ROOT
    node = peaks[-1]
    for peak in reversed(peaks[:-1]):
        node = node_hash(peak, node)
    return node


def _verify_checkpoints(uow: UnitOfWork, trusted_key_ids: Collection[str], checked: int) -> VerifyReport:
    checkpoints: list[CheckpointRecord] = uow.audit.checkpoints()
    accumulator = MerkleAccumulator()
    pending = iter(checkpoints)
    target = next(pending, None)
    previous_size = 0
    for position, transaction_id, stored_hash in uow.audit.sealed_hashes():
        assert position == accumulator.size, "seal positions are consecutive"
        accumulator.append(leaf_hash(bytes.fromhex(stored_hash)))
        while target is not None and accumulator.size == target.tree_size:
            if accumulator.root().hex() != target.root_hash:
                return VerifyReport(
                    checked,
                    0,
                    transaction_id,
                    (
                        f"checkpoint {target.tree_size}: root does not match; a transaction sealed at "
                        f"positions {previous_size}..{target.tree_size - 1} was altered"
                    ),
                )
            if not checkpoint_signature_valid(target, trusted_key_ids):
                return VerifyReport(
                    checked, 0, None, f"checkpoint {target.tree_size}: bad or untrusted signature"
                )
            previous_size = target.tree_size
            target = next(pending, None)
    if target is not None:
        return VerifyReport(
            checked, 0, None, f"checkpoint {target.tree_size} covers transactions that are missing"
        )
    return VerifyReport(checked, len(checkpoints), None, None)


@dataclasses.dataclass(frozen=True)
class InclusionProof:
    """Proof that a transaction is in the log under a signed tree head."""

    transaction_id: str
    content_hash: str
    leaf_index: int
    tree_size: int
    root_hash: str
    audit_path: tuple[str, ...]
    checkpoint: CheckpointRecord


def prove_inclusion(uow: UnitOfWork, transaction_id: str) -> InclusionProof | None:
    """The audit path from a sealed transaction to the first signed head that covers it; None if not yet."""
    position = uow.audit.seal_position(transaction_id)
    if position is None:
        return None
    checkpoint: CheckpointRecord | None = uow.audit.checkpoint_covering(position)
    if checkpoint is None:
        return None
    hashes = [leaf_hash(bytes.fromhex(h)) for _, _, h in uow.audit.sealed_hashes(limit=checkpoint.tree_size)]
    record = uow.journal.get(transaction_id)
    path = inclusion_proof(hashes, position)
    return InclusionProof(
        transaction_id,
        record.content_hash,
        position,
        checkpoint.tree_size,
        checkpoint.root_hash,
        tuple(p.hex() for p in path),
        checkpoint,
    )
