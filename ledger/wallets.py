"""Choosing which lots a spend draws on: earliest expiry first, only where the category is allowed."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Sequence

from ledger.errors import InsufficientFunds
from ledger.records import LotRecord

FAR_FUTURE = dt.datetime.max.replace(tzinfo=dt.UTC)


def spendable(lot: LotRecord, now: dt.datetime, categories: Collection[str] | None) -> bool:
    """True when the lot may be spent now, at a place accepting `categories` (None: anywhere)."""
    if lot.expires_at is not None and lot.expires_at <= now:
        return False
    return categories is None or lot.category is None or lot.category in categories


def spend_order(lots: Sequence[LotRecord]) -> list[LotRecord]:
    """Earliest expiry first; lots that never expire last; ties by age then id, so it is deterministic."""
    return sorted(lots, key=lambda lot: (lot.expires_at or FAR_FUTURE, lot.created_at, lot.account_id))


def plan_spend(
    lots: Sequence[LotRecord], amount_minor: int, now: dt.datetime, categories: Collection[str] | None
) -> list[tuple[str, int]]:
    """(lot account id, amount) to take, oldest-expiring first; InsufficientFunds if they cannot cover it."""
    assert amount_minor > 0
    remaining = amount_minor
    plan: list[tuple[str, int]] = []
    for lot in spend_order([lot for lot in lots if spendable(lot, now, categories)]):
        take = min(remaining, lot.available_minor)
        if take > 0:
            plan.append((lot.account_id, take))
            remaining -= take
        if remaining == 0:
            return plan
    available = amount_minor - remaining
    raise InsufficientFunds(f"needs {amount_minor}, {available} available to spend here")


def available_to_spend(
    lots: Sequence[LotRecord], now: dt.datetime, categories: Collection[str] | None
) -> int:
    """The most that one spend could take here, now."""
    return sum(lot.available_minor for lot in lots if spendable(lot, now, categories))
