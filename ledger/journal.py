"""Transactions and postings: the immutable facts of the ledger, their invariants and content hash."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from ledger.clock import rfc3339
from ledger.errors import ValidationFailed
from ledger.units import MAX_AMOUNT_MINOR, Unit

MAX_POSTINGS_PER_TRANSACTION = 256
MAX_METADATA_BYTES = 4096


@dataclasses.dataclass(frozen=True)
class Posting:
    """One line of a transaction: a signed amount on one account (debit negative, credit positive)."""

    account_id: str
    unit: Unit
    amount_minor: int


@dataclasses.dataclass(frozen=True)
class TransactionDraft:
    """A balanced transaction ready to be recorded."""

    id: str
    kind: str
    postings: tuple[Posting, ...]
    occurred_at: dt.datetime
    recorded_at: dt.datetime
    actor: str
    idempotency_key: str | None = None
    outlet_id: str | None = None
    scheme_id: str | None = None
    rule_version: int | None = None
    reverses_id: str | None = None
    metadata: Mapping[str, Any] = dataclasses.field(default_factory=dict)

    def __post_init__(self) -> None:
        check_postings(self.postings)
        if len(canonical_json(dict(self.metadata))) > MAX_METADATA_BYTES:
            raise ValidationFailed(f"metadata is larger than {MAX_METADATA_BYTES} bytes")

    @property
    def content_hash(self) -> str:
        """The SHA-256 of the canonical form, as hex."""
        return content_hash(self.canonical_header(), self.postings)

    def canonical_header(self) -> dict[str, Any]:
        """The header fields covered by the content hash."""
        return header_of(self)


def check_postings(postings: Sequence[Posting]) -> None:
    """Refuse postings that are not integers, not balanced per unit, or too many."""
    if not 2 <= len(postings) <= MAX_POSTINGS_PER_TRANSACTION:
        raise ValidationFailed("a transaction has between 2 and 256 postings")
    for posting in postings:
        if type(posting.amount_minor) is not int:
            raise ValidationFailed("amounts are integers in minor units")
        if posting.amount_minor == 0 or abs(posting.amount_minor) > MAX_AMOUNT_MINOR:
            raise ValidationFailed("a posting amount is non-zero and within limits")
    unbalanced = unbalanced_units((Unit(p.unit).value, p.amount_minor) for p in postings)
    if unbalanced:
        raise ValidationFailed(f"postings do not sum to zero per unit: {unbalanced}")


def unbalanced_units(amounts: Iterable[tuple[str, int]]) -> dict[str, int]:
    """Each unit whose (unit, amount_minor) pairs do not sum to zero, with its total (balanced: empty)."""
    totals: dict[str, int] = defaultdict(int)
    for unit, amount_minor in amounts:
        totals[unit] += amount_minor
    return {unit: total for unit, total in totals.items() if total != 0}


def canonical_header(
    *,
    id: str,
    kind: str,
    occurred_at: dt.datetime,
    recorded_at: dt.datetime,
    actor: str,
    idempotency_key: str | None,
    outlet_id: str | None,
    scheme_id: str | None,
    rule_version: int | None,
    reverses_id: str | None,
    metadata: Mapping[str, Any],
) -> dict[str, Any]:
    """The header as a plain dict with timestamps normalised, ready for canonical JSON."""
    return {
        "id": id,
        "kind": kind,
        "occurred_at": rfc3339(occurred_at),
        "recorded_at": rfc3339(recorded_at),
        "actor": actor,
        "idempotency_key": idempotency_key,
        "outlet_id": outlet_id,
        "scheme_id": scheme_id,
        "rule_version": rule_version,
        "reverses_id": reverses_id,
        "metadata": dict(metadata),
    }


HEADER_FIELDS = [
    "id",
    "kind",
    "occurred_at",
    "recorded_at",
    "actor",
    "idempotency_key",
    "outlet_id",
    "scheme_id",
    "rule_version",
    "reverses_id",
    "metadata",
]


def header_of(transaction: Any) -> dict[str, Any]:
    """The canonical header of a draft or a recorded transaction (anything with the header fields)."""
    return canonical_header(**{name: getattr(transaction, name) for name in HEADER_FIELDS})


def canonical_json(value: Any) -> bytes:
    """Deterministic JSON bytes: sorted keys, no whitespace, UTF-8."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def content_hash(header: Mapping[str, Any], postings: Sequence[Posting]) -> str:
    """SHA-256 over the canonical header and the postings in line order, as hex."""
    lines = [[p.account_id, str(p.unit), p.amount_minor] for p in postings]
    return hashlib.sha256(canonical_json({"header": dict(header), "postings": lines})).hexdigest()


def request_fingerprint(request: Mapping[str, Any]) -> str:
    """A stable hash of a use case's inputs, to tell a replay from a different request."""
    return hashlib.sha256(canonical_json(dict(request))).hexdigest()
