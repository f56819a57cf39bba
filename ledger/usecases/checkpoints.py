"""Tamper evidence: seal committed transactions into a Merkle log, sign tree heads, verify, prove."""

from __future__ import annotations

import array
import dataclasses
import datetime as dt
import itertools
from collections.abc import Callable, Collection

from ledger.clock import rfc3339
from ledger.errors import Conflict
from ledger.journal import content_hash
from ledger.merkle import HASH_SIZE, MerkleAccumulator, fold_peaks, inclusion_proof, leaf_hash
from ledger.ports import UnitOfWork
from ledger.records import CheckpointRecord
from ledger.signing import SigningKey, tree_head_message
from ledger.usecases.log_findings import check_heads
from ledger.usecases.sealed_log import (
    MERKLE_BLOCK,
    LeafLog,
    VerifyReport,
    checkpoint_signature_valid,
    record_problem,
)
from ledger.usecases.trusted_heads import TreeHead, cut, rewritten

__all__ = [
    "InclusionProof",
    "TreeHead",
    "VerifyReport",
    "checkpoint_signature_valid",
    "content_hash",
    "prove_inclusion",
    "seal",
    "verify",
]

SEAL_BATCH_LIMIT = 100_000


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
    accumulator = _resume(uow)
    uow.audit.append_seals(accumulator.size, [transaction_id for transaction_id, _ in batch])
    sealed = b"".join(bytes.fromhex(stored_hash) for _, stored_hash in batch)
    for offset in range(0, len(sealed), HASH_SIZE):
        accumulator.append(leaf_hash(sealed[offset : offset + HASH_SIZE]))
    checkpoint = _sign(uow, key, accumulator, now)
    # What was sealed, kept with its head, so verify can later say which transaction was altered.
    uow.audit.insert_checkpoint_leaves(checkpoint.tree_size, sealed)
    return checkpoint


def _resume(uow: UnitOfWork) -> MerkleAccumulator:
    """The tree as the newest checkpoint left it, refusing to extend a log that was tampered with."""
    latest: CheckpointRecord | None = uow.audit.latest_checkpoint()
    accumulator = MerkleAccumulator()
    if latest is not None:
        peaks = [bytes.fromhex(h) for h in latest.frontier]
        # Signing on from a doctored frontier or past deleted checkpoints would sign a wrong tree.
        if len(peaks) != bin(latest.tree_size).count("1") or fold_peaks(peaks).hex() != latest.root_hash:
            raise Conflict(
                f"checkpoint {latest.tree_size}'s stored frontier does not rebuild its signed root: "
                "the log was tampered with, so nothing more is sealed; run clubcard audit verify"
            )
        accumulator = MerkleAccumulator.resume(latest.tree_size, peaks)
    sealed = uow.audit.sealed_count()
    if sealed != accumulator.size:
        raise Conflict(
            f"{sealed:,} transactions are sealed but the newest checkpoint covers {accumulator.size:,}: "
            "the log was tampered with, so nothing more is sealed; run clubcard audit verify"
        )
    return accumulator


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


def verify(
    uow: UnitOfWork,
    trusted_key_ids: Collection[str],
    progress: Callable[[int], None] | None = None,
    workers: int | None = None,
    trusted_head: TreeHead | None = None,
) -> VerifyReport:
    """Recompute every content hash, every checkpoint root and every signature; name the first bad one.

    On PostgreSQL the hashing is spread over `workers` processes (default: one per core) that read one
    exported snapshot; elsewhere it streams in this process. Either way every transaction's hash is
    recomputed from its header and postings, and the first bad one in (recorded_at, id) order is named.
    Given a `trusted_head` kept outside the database, the log must also extend it (RFC 9162).
    """
    if trusted_head is not None and (problem := trusted_head.problem(trusted_key_ids)) is not None:
        return VerifyReport(0, 0, None, f"trusted head: {problem}")
    if uow.verify.parallel:
        report, log = _verify_parallel(uow, trusted_key_ids, progress, workers)
    else:
        report, log = _verify_serially(uow, trusted_key_ids, progress)
    if not report.ok or trusted_head is None:
        return report
    latest: CheckpointRecord | None = uow.audit.latest_checkpoint()
    problem = cut(trusted_head, latest) or rewritten(
        trusted_head, latest, log.peaks(trusted_head.tree_size), log.subtree_root
    )
    if problem is not None:
        return VerifyReport(report.transactions_checked, report.checkpoints_checked, None, problem)
    return dataclasses.replace(report, trusted_head_size=trusted_head.tree_size)


def _verify_serially(
    uow: UnitOfWork, trusted_key_ids: Collection[str], progress: Callable[[int], None] | None
) -> tuple[VerifyReport, LeafLog]:
    checked = 0
    for record in uow.journal.stream():
        checked += 1
        if progress and checked % 10_000 == 0:
            progress(checked)
        if (problem := record_problem(record)) is not None:
            return VerifyReport(checked, 0, record.id, f"transaction {record.id}: {problem}"), LeafLog(b"")
    leaves = bytearray()
    holes: list[int] = []
    for position, _, stored_hash in uow.audit.seal_records():
        expected = len(leaves) // HASH_SIZE
        holes.extend(range(expected, position))  # seal records deleted outright
        leaves += bytes(HASH_SIZE * (position - expected))
        if stored_hash is None:  # a seal record whose transaction was deleted
            holes.append(position)
            leaves += bytes(HASH_SIZE)
        else:
            leaves += leaf_hash(bytes.fromhex(stored_hash))
    log = LeafLog(bytes(leaves))
    return check_heads(uow, log, uow.audit.checkpoints(), trusted_key_ids, checked, holes), log


def _verify_parallel(
    uow: UnitOfWork,
    trusted_key_ids: Collection[str],
    progress: Callable[[int], None] | None,
    workers: int | None,
) -> tuple[VerifyReport, LeafLog]:
    overview = uow.verify.begin()
    checkpoints: list[CheckpointRecord] = overview.checkpoints
    checked = sealed = 0
    first_bad: tuple[str, str, str] | None = None
    leaves = bytearray(HASH_SIZE * overview.sealed_positions)
    blocks: dict[int, bytes] = {}  # Merkle block index -> its root, as the workers hashed them
    for result in uow.verify.run_parallel(overview, set(), workers, MERKLE_BLOCK):
        checked += result.checked
        if result.first_bad is not None:
            first_bad = result.first_bad if first_bad is None else min(first_bad, result.first_bad)
        sealed += len(result.leaves) // HASH_SIZE
        if result.run_start is not None:  # a whole range of the log, in order: one copy
            offset = result.run_start * HASH_SIZE
            leaves[offset : offset + len(result.leaves)] = result.leaves
            first_block = result.run_start // MERKLE_BLOCK
            blocks.update(enumerate(result.block_roots, first_block))
        else:
            for index, position in enumerate(array.array("q", result.positions)):
                leaves[position * HASH_SIZE : (position + 1) * HASH_SIZE] = result.leaves[
                    index * HASH_SIZE : (index + 1) * HASH_SIZE
                ]
        if progress:
            progress(checked)
    if first_bad is not None:
        _, bad_id, problem = first_bad
        return VerifyReport(checked, 0, bad_id, f"transaction {bad_id}: {problem}"), LeafLog(b"")
    assert checked == overview.transactions, "every transaction falls in exactly one partition"
    # The workers' block roots, as far as they run without a gap (the log hashes any others itself).
    block_roots = list(itertools.takewhile(lambda root: root is not None, map(blocks.get, itertools.count())))
    log = LeafLog(bytes(leaves), block_roots=block_roots)  # type: ignore[arg-type]
    # Positions with no leaf: only worth looking for when the counts say some seal or transaction is gone.
    holes = [] if sealed == overview.seals == overview.sealed_positions else log.holes()
    return check_heads(uow, log, checkpoints, trusted_key_ids, checked, holes), log


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
