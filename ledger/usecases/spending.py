"""Spending rules as pure functions: where a scheme's value may be spent, limits, whole-lot spends."""

from __future__ import annotations

from collections.abc import Collection, Sequence

from ledger.errors import LimitExceeded, RuleViolation
from ledger.records import LotRecord
from ledger.rules import Spending


def lot_categories_here(spending: Spending, outlet_categories: Collection[str]) -> frozenset[str]:
    """Lot categories (purposes) spendable at an outlet with these categories."""
    # A purpose listed in purpose_categories is spendable where the outlet has one of its categories;
    # any other category is spendable where the outlet has that category itself.
    here = set(outlet_categories)
    direct = {c for c in here if c not in spending.purpose_categories}
    mapped = {p for p, accepted in spending.purpose_categories.items() if here.intersection(accepted)}
    return frozenset(direct | mapped)


def allowed_here(spending: Spending, outlet_categories: Collection[str]) -> bool:
    """True when an (approved) outlet's categories meet the scheme's outlet categories or a purpose's."""
    if not spending.outlet_categories and not spending.purpose_categories:
        return True
    here = set(outlet_categories)
    if here.intersection(spending.outlet_categories):
        return True
    return any(here.intersection(accepted) for accepted in spending.purpose_categories.values())


def left_today(spending: Spending, spent_today_minor: int) -> int | None:
    """What may still be spent today under the per-day limit (None: no limit)."""
    if spending.per_day_limit_minor is None:
        return None
    return max(0, spending.per_day_limit_minor - spent_today_minor)


def check_limits(spending: Spending, amount_minor: int, spent_today_minor: int) -> None:
    """Refuse a spend over the per-transaction limit or beyond what is left today."""
    limit = spending.per_transaction_limit_minor
    if limit is not None and amount_minor > limit:
        raise LimitExceeded(f"at most {limit} in one transaction")
    left = left_today(spending, spent_today_minor)
    if left is not None and amount_minor > left:
        raise LimitExceeded(f"the per-day limit leaves {left} to spend today")


def check_whole_lots(spending: Spending, plan: Sequence[tuple[str, int]], lots: Sequence[LotRecord]) -> None:
    """Without partial spend, every lot drawn on must be used up entirely."""
    if spending.partial_spend:
        return
    available = {lot.account_id: lot.available_minor for lot in lots}
    if any(amount != available[account_id] for account_id, amount in plan):
        raise RuleViolation(
            "this scheme does not allow partial spends: the amount must use up whole vouchers, "
            "earliest-expiring first"
        )


def max_spend_now(spending: Spending, available_minor: int, spent_today_minor: int) -> int:
    """The largest single spend allowed now: funds, per-transaction limit and what is left today."""
    candidates = [available_minor]
    if spending.per_transaction_limit_minor is not None:
        candidates.append(spending.per_transaction_limit_minor)
    left = left_today(spending, spent_today_minor)
    if left is not None:
        candidates.append(left)
    return max(0, min(candidates))
