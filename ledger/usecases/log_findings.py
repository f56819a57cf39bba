"""Checking the sealed log against its signed heads, and saying exactly what was altered when it fails.

Verify rebuilds the Merkle tree from the content hashes the transactions store. A transaction altered
and rehashed to match, or a seal record moved, still looks self-consistent row by row: only the signed
root of its checkpoint disagrees. To name the culprit, each checkpoint also stores the content hashes it
sealed (`checkpoint_leaves`). Those rows are unsigned, but the signed root authenticates them: extended
from the tree as it stood before the checkpoint, they must rebuild that very root (a forgery would be a
SHA-256 collision). Once authenticated, comparing them with the log position by position says which
transaction changed, or which seal records were moved, and where. If they were altered too (or were
never stored, for checkpoints sealed before they existed), verify names the range of positions and
blames no transaction.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

from ledger.merkle import HASH_SIZE, MerkleAccumulator, leaf_hash
from ledger.ports import UnitOfWork
from ledger.records import CheckpointRecord
from ledger.usecases.sealed_log import LeafLog, VerifyReport, checkpoint_signature_valid, describe_positions

MAX_FINDINGS = 10  # positions described one by one in a report; the rest are counted


def check_heads(
    uow: UnitOfWork,
    log: LeafLog,
    heads: Sequence[CheckpointRecord],
    trusted_key_ids: Collection[str],
    checked: int,
    holes: Sequence[int] = (),
    previous_size: int | None = None,
) -> VerifyReport:
    """Each head's signature, then its root from the log; on a mismatch, what was altered and where."""
    missing = [*holes, *range(log.size, max((head.tree_size for head in heads), default=0))]
    previous = log.start if previous_size is None else previous_size
    for head in heads:
        if not checkpoint_signature_valid(head, trusted_key_ids):
            return VerifyReport(checked, 0, None, f"checkpoint {head.tree_size}: bad or untrusted signature")
        if missing and missing[0] < head.tree_size:
            return missing_report(uow, log, heads, missing, checked)
        if log.root(head.tree_size).hex() != head.root_hash:
            return altered_report(uow, log, heads, head, previous, checked)
        previous = head.tree_size
    if log.size > previous:
        return VerifyReport(
            checked,
            0,
            None,
            f"{describe_positions(range(previous, log.size))} {'is' if log.size - previous == 1 else 'are'} "
            "sealed but no signed checkpoint covers them: the checkpoint that signed them was deleted",
        )
    return VerifyReport(checked, len(heads), None, None)


def missing_report(
    uow: UnitOfWork, log: LeafLog, heads: Sequence[CheckpointRecord], missing: Sequence[int], checked: int
) -> VerifyReport:
    """Sealed positions with no transaction: whether the seal record, the transaction or both went."""
    shown = list(missing[:MAX_FINDINGS])
    seals = uow.audit.seals_at(shown)
    sealed = _sealed_here(uow, log, heads, shown)
    present = uow.audit.transactions_with_content_hashes(sorted(sealed.values()))
    details: list[str] = []
    first_deleted: str | None = None
    for position in shown:
        if position in seals:
            transaction_id = seals[position][0]
            first_deleted = first_deleted or transaction_id
            details.append(
                f"position {position}: transaction {transaction_id} was sealed here "
                "but is missing from the journal"
            )
        elif sealed.get(position) in present:
            details.append(
                f"position {position}: the seal record was deleted; "
                f"transaction {present[sealed[position]]} was sealed here"
            )
        elif position in sealed:
            details.append(
                f"position {position}: the seal record and the transaction sealed here "
                f"(content hash {sealed[position]}) were deleted"
            )
        else:
            details.append(f"position {position}: the seal record was deleted")
    if len(missing) > len(shown):
        details.append(f"and {len(missing) - len(shown)} more")
    signer = next(head.tree_size for head in heads if head.tree_size > missing[0])
    verb, pronoun = ("is", "it") if len(missing) == 1 else ("are", "them")
    return VerifyReport(
        checked,
        0,
        first_deleted,
        f"sealed {describe_positions(missing)} {verb} missing, though checkpoint {signer} signed {pronoun}: "
        + "; ".join(details),
    )


def altered_report(
    uow: UnitOfWork,
    log: LeafLog,
    heads: Sequence[CheckpointRecord],
    head: CheckpointRecord,
    previous_size: int,
    checked: int,
) -> VerifyReport:
    """A head whose root the log no longer rebuilds: which transaction was rewritten, which seals moved."""
    prefix = f"checkpoint {head.tree_size}: root does not match"
    where = describe_positions(range(previous_size, head.tree_size))
    originals = _authentic_originals(uow, log, heads, head)
    if originals is None or not originals[0]:
        return VerifyReport(
            checked,
            0,
            None,
            f"{prefix}; a transaction or seal record at {where} was altered after sealing, and the "
            "content hashes this checkpoint sealed "
            f"{'were not stored' if originals is None else 'were altered too'}, so which one cannot be told",
        )
    here = originals[0]
    changed = sorted(p for p, sealed in here.items() if log.leaf(p) != leaf_hash(sealed))
    assert changed, "the authentic leaves differ from the log somewhere, or the roots would match"
    findings, first_bad = _explain(uow, log, originals, changed)
    return VerifyReport(checked, 0, first_bad, f"{prefix}; " + "; ".join(findings))


def _explain(
    uow: UnitOfWork, log: LeafLog, originals: list[dict[int, bytes]], changed: list[int]
) -> tuple[list[str], str | None]:
    """Each changed position as a moved seal record or a rewritten transaction; the first rewritten one."""
    shown = changed[:MAX_FINDINGS]
    now = uow.audit.seals_at(shown)
    sealed_at = {value: position for segment in originals for position, value in segment.items()}
    swapped: set[int] = set()
    findings: list[str] = []
    rewritten: list[str] = []
    for position in shown:
        transaction_id, stored = now[position]
        assert stored is not None, "a position without its transaction is reported as missing first"
        origin = sealed_at.get(bytes.fromhex(stored))
        if origin is None or origin == position:
            rewritten.append(transaction_id)
            findings.append(
                f"transaction {transaction_id}, sealed at position {position}, was altered after sealing "
                "and its content hash was recomputed to match"
            )
        elif log.leaf(origin) == leaf_hash(originals[0][position]):
            if position not in swapped:
                swapped.update((position, origin))
                first, second = sorted((position, origin))
                findings.append(f"the seal records at positions {first} and {second} were swapped")
        else:
            findings.append(
                f"the seal record at position {position} now names transaction {transaction_id}, "
                f"which was sealed at position {origin}"
            )
    if len(changed) > len(shown):
        findings.append(f"and {len(changed) - len(shown)} more positions differ from what was sealed")
    return findings, (rewritten[0] if rewritten else None)


def _authentic_originals(
    uow: UnitOfWork, log: LeafLog, heads: Sequence[CheckpointRecord], head: CheckpointRecord
) -> list[dict[int, bytes]] | None:
    """The content hashes sealed by `head` and each later head, where their signed roots vouch for them.

    None if `head` stored none; an empty first segment if what it stored does not rebuild its root. A
    later head's hashes count only while the chain of authenticated frontiers reaches it unbroken.
    """
    stored = uow.audit.checkpoint_leaves(head.tree_size)
    if stored is None:
        return None
    start = head.tree_size - len(stored) // HASH_SIZE
    if len(stored) % HASH_SIZE or not log.start <= start <= log.size:
        return [{}]
    accumulator = MerkleAccumulator.resume(start, log.peaks(start))
    segments: list[dict[int, bytes]] = []
    for later in (h for h in heads if h.tree_size >= head.tree_size):
        if later is not head:
            stored = uow.audit.checkpoint_leaves(later.tree_size)
            if (
                stored is None
                or len(stored) % HASH_SIZE
                or later.tree_size - len(stored) // HASH_SIZE != accumulator.size
            ):
                break
        trial = MerkleAccumulator.resume(accumulator.size, accumulator.peaks)
        hashes = [stored[i : i + HASH_SIZE] for i in range(0, len(stored), HASH_SIZE)]
        trial.extend(leaf_hash(value) for value in hashes)
        if trial.root().hex() != later.root_hash:
            break
        segments.append(dict(zip(range(accumulator.size, trial.size), hashes, strict=True)))
        accumulator = trial
    return segments or [{}]


def _sealed_here(
    uow: UnitOfWork, log: LeafLog, heads: Sequence[CheckpointRecord], positions: Sequence[int]
) -> dict[int, str]:
    """position -> the content hash (hex) sealed there, where a signed root vouches for it."""
    found: dict[int, str] = {}
    for head in heads:
        wanted = [p for p in positions if p < head.tree_size and p not in found]
        if not wanted:
            continue
        segments = _authentic_originals(uow, log, [head], head) or [{}]
        found.update({p: segments[0][p].hex() for p in wanted if p in segments[0]})
    return found
