"""Choosing which lots a spend draws on: earliest expiry first, only where the category is allowed."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Collection, Sequence
from typing import Any

from ledger.errors import InsufficientFunds
from ledger.records import LotRecord
from ledger.units import Unit, format_amount

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
    lots: Sequence[LotRecord],
    amount_minor: int,
    now: dt.datetime,
    categories: Collection[str] | None,
    *,
    unit: Unit,
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
    raise shortfall(lots, amount_minor, now, categories, unit=unit)


def shortfall(
    lots: Sequence[LotRecord],
    amount_minor: int,
    now: dt.datetime,
    categories: Collection[str] | None,
    *,
    unit: Unit,
) -> InsufficientFunds:
    """InsufficientFunds saying, as people read amounts, what was asked and what is available (where)."""
    available = available_to_spend(lots, now, categories)
    overdraft = overdraft_minor(lots, now, categories)
    where = "" if categories is None else " to spend here"
    detail = f"needs {format_amount(amount_minor, unit)}; {format_amount(available, unit)} available{where}"
    if overdraft:
        detail += f" including the {format_amount(overdraft, unit)} overdraft"
    extra: dict[str, Any] = {"needed_minor": amount_minor, "available_minor": available, "unit": unit.value}
    if overdraft:
        extra["overdraft_minor"] = overdraft
    return InsufficientFunds(detail, **extra)


def overdraft_minor(lots: Sequence[LotRecord], now: dt.datetime, categories: Collection[str] | None) -> int:
    """How far below zero the lots usable here may go: a time bank's overdraft, as a positive amount."""
    return max((-lot.floor_minor for lot in lots if spendable(lot, now, categories)), default=0)


def available_to_spend(
    lots: Sequence[LotRecord], now: dt.datetime, categories: Collection[str] | None
) -> int:
    """The most that one spend could take here, now."""
    return sum(lot.available_minor for lot in lots if spendable(lot, now, categories))


def after_taking(lots: Sequence[LotRecord], taken: Sequence[tuple[str, int]]) -> list[LotRecord]:
    """The lots as they are once `taken` (lot account id, amount) has been drawn from them."""
    drawn = dict(taken)
    return [
        dataclasses.replace(lot, balance_minor=lot.balance_minor - drawn.get(lot.account_id, 0))
        for lot in lots
    ]
