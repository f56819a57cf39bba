"""Plain frozen records that the persistence layer hands to use cases."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping
from typing import Any

from ledger.journal import Posting
from ledger.units import AccountKind, Unit


@dataclasses.dataclass(frozen=True)
class AccountRecord:
    """An account: never changes once opened (its balance lives apart)."""

    id: str
    name: str
    unit: Unit
    kind: AccountKind
    floor_minor: int | None
    shard_count: int

    @property
    def constrained(self) -> bool:
        """True when the balance has a floor and so must be checked under a lock."""
        return self.floor_minor is not None


@dataclasses.dataclass(frozen=True)
class LotRecord:
    """A lot in a wallet: value of one scheme with its own category and expiry."""

    account_id: str
    owner_id: str
    scheme_id: str
    unit: Unit
    category: str | None
    expires_at: dt.datetime | None
    created_at: dt.datetime
    balance_minor: int
    floor_minor: int

    @property
    def available_minor(self) -> int:
        """What can be taken before the floor is reached."""
        return max(0, self.balance_minor - self.floor_minor)


@dataclasses.dataclass(frozen=True)
class TransactionRecord:
    """A recorded transaction with its postings."""

    id: str
    kind: str
    occurred_at: dt.datetime
    recorded_at: dt.datetime
    actor: str
    idempotency_key: str | None
    outlet_id: str | None
    scheme_id: str | None
    rule_version: int | None
    reverses_id: str | None
    metadata: Mapping[str, Any]
    content_hash: str
    postings: tuple[Posting, ...]


@dataclasses.dataclass(frozen=True)
class HoldRecord:
    """A two-phase spend: funds moved to a hold account until captured, voided or timed out."""

    id: str
    status: str
    owner_id: str
    scheme_id: str
    unit: Unit
    amount_minor: int
    hold_account_id: str
    payable_account_id: str
    outlet_id: str | None
    hold_transaction_id: str
    resolved_transaction_id: str | None
    expires_at: dt.datetime
    created_at: dt.datetime


@dataclasses.dataclass(frozen=True)
class CheckpointRecord:
    """A signed tree head over the first `tree_size` sealed transactions."""

    tree_size: int
    root_hash: str
    signed_at: dt.datetime
    key_id: str
    public_key: str
    signature: str
    frontier: tuple[str, ...]
