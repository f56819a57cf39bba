"""Signed tree heads kept outside the database, and proving the log still extends them (RFC 9162).

Anyone with the database can delete the newest checkpoint and the transactions it sealed: what is left
still verifies. A head copied elsewhere (from /.well-known/clubcard-ledger or `clubcard audit head`)
catches it: the current log must be at least as long and its first `tree_size` leaves must rebuild the
head's root, which an RFC 9162 consistency proof between that head and the newest signed one shows.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from typing import Any

from ledger.clock import parse_rfc3339, rfc3339
from ledger.errors import ValidationFailed
from ledger.merkle import (
    EMPTY_ROOT,
    HASH_SIZE,
    consistency_proof_from_frontier,
    fold_peaks,
    leaf_hash,
    root_hash,
    verify_consistency,
)
from ledger.ports import UnitOfWork
from ledger.records import CheckpointRecord
from ledger.signing import SigningKey, key_id_for, tree_head_message, verify_signature
from ledger.usecases.log_findings import check_heads
from ledger.usecases.sealed_log import LeafLog, VerifyReport, checkpoint_signature_valid, record_problem

ALGORITHM = "Ed25519"
_HEX = {"root_hash": 64, "signature": 128, "public_key": 64, "key_id": 16}


@dataclasses.dataclass(frozen=True)
class TreeHead:
    """A signed tree head with the ledger public key, as published and as auditors save it."""

    tree_size: int
    root_hash: str  # hex SHA-256
    signed_at: str  # RFC 3339 text, exactly as signed
    key_id: str
    signature: str  # hex Ed25519 signature of ledger.signing.tree_head_message
    public_key: str  # hex raw Ed25519 ledger public key

    def document(self) -> dict[str, Any]:
        """The JSON document: the same at /.well-known/clubcard-ledger and from `clubcard audit head`."""
        return {**dataclasses.asdict(self), "algorithm": ALGORITHM}

    @classmethod
    def from_document(cls, document: Any) -> TreeHead:
        """Read a saved head; ValidationFailed says which field is wrong."""
        if not isinstance(document, Mapping):
            raise ValidationFailed("a tree head is a JSON object, as `clubcard audit head` prints")
        size = document.get("tree_size")
        if type(size) is not int or size < 0:
            raise ValidationFailed("tree_size must be a whole number of transactions, 0 or more")
        for name, length in _HEX.items():
            value = document.get(name)
            if not isinstance(value, str) or not re.fullmatch(f"[0-9a-f]{{{length}}}", value):
                raise ValidationFailed(f"{name} must be {length} lower-case hexadecimal characters")
        signed_at = document.get("signed_at")
        if not isinstance(signed_at, str) or not _is_instant(signed_at):
            raise ValidationFailed(
                "signed_at must be an RFC 3339 instant such as 2026-11-30T17:00:00.000000Z"
            )
        if document.get("algorithm", ALGORITHM) != ALGORITHM:
            raise ValidationFailed(f"algorithm must be {ALGORITHM}")
        fields = {name: document[name] for name in ("root_hash", "key_id", "signature", "public_key")}
        return cls(tree_size=size, signed_at=signed_at, **fields)

    def problem(self, trusted_key_ids: Collection[str]) -> str | None:
        """Why this head cannot be trusted (bad signature, someone else's key), or None."""
        public_key = bytes.fromhex(self.public_key)
        if key_id_for(public_key) != self.key_id:
            return f"the head's public key is not key {self.key_id}"
        message = tree_head_message(
            self.tree_size, bytes.fromhex(self.root_hash), self.signed_at, self.key_id
        )
        if not verify_signature(public_key, message, bytes.fromhex(self.signature)):
            return "the head's signature does not verify under its public key: it is not a signed head"
        if self.key_id not in trusted_key_ids:
            return f"the head was signed by key {self.key_id}, not by this ledger's key"
        return None


def _is_instant(text: str) -> bool:
    """True for RFC 3339 text (kept verbatim: the signature covers the text, not the instant)."""
    try:
        parse_rfc3339(text)
    except (ValueError, OverflowError):
        return False
    return "\n" not in text


def published_head(uow: UnitOfWork, key: SigningKey) -> TreeHead | None:
    """The latest signed tree head with the ledger public key; None before anything is sealed."""
    latest: CheckpointRecord | None = uow.audit.latest_checkpoint()
    if latest is None:
        return None
    return TreeHead(
        tree_size=latest.tree_size,
        root_hash=latest.root_hash,
        signed_at=rfc3339(latest.signed_at),
        key_id=latest.key_id,
        signature=latest.signature,
        public_key=key.public_key_bytes().hex(),
    )


def cut(head: TreeHead, latest: CheckpointRecord | None) -> str | None:
    """Whether the log is now shorter than the trusted head says it was."""
    size = 0 if latest is None else latest.tree_size
    if size >= head.tree_size:
        return None
    return (
        f"the log now has {size:,} transactions but the trusted head had {head.tree_size:,}: the log was cut"
    )


def rewritten(
    head: TreeHead,
    latest: CheckpointRecord | None,
    old_peaks: Sequence[bytes],
    appended_root: Callable[[int, int], bytes],
) -> str | None:
    """Whether the newest signed head fails to extend the trusted one (RFC 9162 consistency proof).

    `old_peaks` is the frontier of the log's first `head.tree_size` leaves as they are now, and
    `appended_root(start, end)` the root of later leaves [start, end); the log is not cut.
    """
    message = (
        f"the first {head.tree_size:,} transactions no longer hash to the trusted root: the log was rewritten"
    )
    trusted_root = bytes.fromhex(head.root_hash)
    if latest is None or head.tree_size == 0:
        return None if trusted_root == EMPTY_ROOT else message
    proof = consistency_proof_from_frontier(head.tree_size, old_peaks, latest.tree_size, appended_root)
    latest_root = bytes.fromhex(latest.root_hash)
    if not verify_consistency(head.tree_size, latest.tree_size, trusted_root, latest_root, proof):
        return message
    return None


def verify_since(
    uow: UnitOfWork,
    trusted_key_ids: Collection[str],
    head: TreeHead,
    progress: Callable[[int], None] | None = None,
) -> VerifyReport:
    """Check only what was sealed after a trusted head, and prove the log consistent with that head.

    The tree is resumed from the stored frontier of the newest checkpoint at or before the head (one
    whose frontier rebuilds its own signed root), so earlier transactions are not read at all.
    """
    problem = head.problem(trusted_key_ids)
    if problem is not None:
        return VerifyReport(0, 0, None, f"trusted head: {problem}")
    heads: list[CheckpointRecord] = uow.audit.checkpoints()
    latest = heads[-1] if heads else None
    message = cut(head, latest)
    if message is not None:
        return VerifyReport(0, 0, None, message)
    base = _resume_point(heads, head.tree_size, trusted_key_ids)
    start = 0 if base is None else base.tree_size
    peaks = () if base is None else tuple(bytes.fromhex(h) for h in base.frontier)
    read = _read_since(uow, start, progress)
    if isinstance(read, VerifyReport):
        return read
    leaves, holes, checked = read
    log = LeafLog(leaves, start, peaks)
    report = check_heads(
        uow, log, [h for h in heads if h.tree_size > start], trusted_key_ids, checked, holes, start
    )
    if not report.ok:
        return report
    message = rewritten(head, latest, log.peaks(head.tree_size), lambda a, b: root_hash(log.leaves(a, b)))
    if message is not None:
        return VerifyReport(checked, 0, None, message)
    return dataclasses.replace(report, trusted_head_size=head.tree_size)


def _read_since(
    uow: UnitOfWork, start: int, progress: Callable[[int], None] | None
) -> tuple[bytes, list[int], int] | VerifyReport:
    """Leaves from seal position `start` on, with positions lacking one; or the first bad transaction."""
    leaves, checked = bytearray(), 0
    holes: list[int] = []
    for position, transaction_id, stored_hash, problem in _sealed_since(uow, start):
        expected = start + len(leaves) // HASH_SIZE
        holes.extend(range(expected, position))  # seal records deleted outright
        leaves += bytes(HASH_SIZE * (position - expected))
        if stored_hash is None:  # a seal record whose transaction was deleted
            holes.append(position)
            leaves += bytes(HASH_SIZE)
            continue
        checked += 1
        if progress and checked % 10_000 == 0:
            progress(checked)
        if problem is not None:
            return VerifyReport(checked, 0, transaction_id, f"transaction {transaction_id}: {problem}")
        leaves += leaf_hash(bytes.fromhex(stored_hash))
    return bytes(leaves), holes, checked


def _sealed_since(uow: UnitOfWork, start: int) -> Iterator[tuple[int, str, str | None, str | None]]:
    """(position, transaction id, stored content hash or None if gone, what is wrong) from `start` on."""
    if uow.verify.parallel:  # PostgreSQL: hashed straight from column values, no objects per row
        yield from uow.verify.sealed_since(start)
        return
    for position, transaction_id, record in uow.audit.sealed_transactions(start):
        if record is None:
            yield position, transaction_id, None, "missing"
        else:
            yield position, transaction_id, record.content_hash, record_problem(record)


def _resume_point(
    heads: Sequence[CheckpointRecord], size: int, trusted_key_ids: Collection[str]
) -> CheckpointRecord | None:
    """The newest signed head at or before `size` whose stored frontier rebuilds its root."""
    for candidate in reversed([h for h in heads if h.tree_size <= size]):
        peaks = [bytes.fromhex(h) for h in candidate.frontier]
        if (
            len(peaks) == bin(candidate.tree_size).count("1")
            and fold_peaks(peaks).hex() == candidate.root_hash
            and checkpoint_signature_valid(candidate, trusted_key_ids)
        ):
            return candidate
    return None
