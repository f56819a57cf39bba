"""Spending rules as pure functions: where a scheme's value may be spent, limits, whole-lot spends."""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Collection, Sequence
from typing import Any

from ledger.clock import DEFAULT_TIME_ZONE, council_zone, rfc3339
from ledger.errors import InsufficientFunds, LimitExceeded, NotAllowedHere, RuleViolation, VouchersExpired
from ledger.records import LotRecord
from ledger.rules import Spending, local_date
from ledger.units import Unit, format_amount
from ledger.wallets import available_to_spend, plan_spend, spendable


def council_day(at: dt.datetime, zone: dt.tzinfo | None) -> tuple[dt.datetime, dt.datetime]:
    """The council day containing `at` as UTC instants [start, end) (23 or 25 hours across a clock change)."""
    # Callers below the API (the kiosk's offline sync, benchmarks) may not know the zone: the default one.
    zone = zone if zone is not None else council_zone(DEFAULT_TIME_ZONE)
    return _day_bounds(local_date(at, zone), zone)


@functools.lru_cache(maxsize=64)
def _day_bounds(day: dt.date, zone: dt.tzinfo) -> tuple[dt.datetime, dt.datetime]:
    # Cached: every spend asks for its day twice, and a batch's spends almost all share one day.
    start, end = (
        dt.datetime.combine(on, dt.time.min, tzinfo=zone).astimezone(dt.UTC)
        for on in (day, day + dt.timedelta(days=1))
    )
    return start, end


def left_today(spending: Spending, spent_today_minor: int) -> int | None:
    """What may still be spent today under the per-day limit (None: no limit)."""
    if spending.per_day_limit_minor is None:
        return None
    return max(0, spending.per_day_limit_minor - spent_today_minor)


def check_transaction_limit(spending: Spending, amount_minor: int, unit: Unit) -> None:
    """Refuse a spend or transfer over the scheme's per-transaction limit."""
    limit = spending.per_transaction_limit_minor
    if limit is not None and amount_minor > limit:
        raise LimitExceeded(
            f"at most {format_amount(limit, unit)} in one transaction; "
            f"{format_amount(amount_minor, unit)} asked",
            limit_minor=limit,
            needed_minor=amount_minor,
            unit=unit.value,
        )


def check_limits(spending: Spending, amount_minor: int, spent_today_minor: int, unit: Unit) -> None:
    """Refuse a spend over the per-transaction limit or beyond what is left today."""
    check_transaction_limit(spending, amount_minor, unit)
    left = left_today(spending, spent_today_minor)
    if left is not None and spending.per_day_limit_minor is not None and amount_minor > left:
        raise LimitExceeded(
            f"the per-day limit of {format_amount(spending.per_day_limit_minor, unit)} leaves "
            f"{format_amount(left, unit)} to spend today; {format_amount(amount_minor, unit)} asked",
            limit_minor=spending.per_day_limit_minor,
            left_today_minor=left,
            needed_minor=amount_minor,
            unit=unit.value,
        )


def expired_here(lots: Sequence[LotRecord], now: dt.datetime, categories: Collection[str]) -> list[LotRecord]:
    """Lots of a purpose spendable here that still hold value but are past their expiry (not yet swept)."""
    return [
        lot
        for lot in lots
        if lot.expires_at is not None
        and lot.expires_at <= now
        and (lot.category is None or lot.category in categories)
        and expired_value_minor(lot) > 0
    ]


def expired_value_minor(lot: LotRecord) -> int:
    """What a lot past its expiry still holds: its own value, never an overdraft it was allowed."""
    return max(0, min(lot.balance_minor, lot.available_minor))


def _expired_refusal(
    lots: Sequence[LotRecord], amount_minor: int, here_minor: int, unit: Unit, zone: dt.tzinfo | None
) -> VouchersExpired | None:
    """VouchersExpired when `lots` (expired here) would have covered what the unexpired value here cannot."""
    expired_minor = sum(map(expired_value_minor, lots))
    if not lots or here_minor + expired_minor < amount_minor:
        return None
    # The date residents were told: the council's day of each expiry (a voucher works all its last day).
    zone = zone if zone is not None else council_zone(DEFAULT_TIME_ZONE)
    instants = sorted({lot.expires_at for lot in lots if lot.expires_at is not None})
    days = dict.fromkeys(local_date(instant, zone) for instant in instants)
    on = " and ".join(f"{day.day} {day:%B %Y}" for day in days)
    these, their = ("these vouchers", "their") if len(lots) > 1 else ("this voucher", "its")
    expired, asked, here = (format_amount(value, unit) for value in (expired_minor, amount_minor, here_minor))
    return VouchersExpired(
        f"{these} expired on {on}, so {their} {expired} cannot be spent; "
        f"needs {asked}; {here} available to spend here",
        needed_minor=amount_minor,
        available_minor=here_minor,
        expired_minor=expired_minor,
        expired_at=rfc3339(instants[-1]),
        unit=unit.value,
    )


def plan_here(
    lots: Sequence[LotRecord],
    amount_minor: int,
    now: dt.datetime,
    categories: Collection[str],
    unit: Unit,
    zone: dt.tzinfo | None = None,
) -> list[tuple[str, int]]:
    """The lots a spend here draws on; when they fall short, say which: expired, too little, or another
    purpose's. `zone` names the council's days in an expiry refusal (None: the default zone)."""
    try:
        return plan_spend(lots, amount_minor, now, categories, unit=unit)
    except InsufficientFunds as short_here:
        here = available_to_spend(lots, now, categories)
        # Expired value of this outlet's purposes that would have covered it: the date, not the balance.
        expired = _expired_refusal(expired_here(lots, now, categories), amount_minor, here, unit, zone)
        if expired is not None:
            raise expired from short_here
        elsewhere = available_to_spend(lots, now, None) - here
        if elsewhere <= 0:
            raise
        purposes = sorted(
            str(lot.category)
            for lot in lots
            if spendable(lot, now, None) and not spendable(lot, now, categories) and lot.available_minor
        )
        named = " and ".join(dict.fromkeys(purposes))
        asked, other = format_amount(amount_minor, unit), format_amount(elsewhere, unit)
        extra: dict[str, Any] = {
            "needed_minor": amount_minor,
            "available_minor": here,
            "other_purposes_minor": elsewhere,
            "unit": unit.value,
        }
        if here == 0 and elsewhere >= amount_minor:
            # Nothing on the card is for this outlet's purposes: the place is wrong, not the balance.
            raise NotAllowedHere(
                f"nothing on this card can be spent here; the {other} that could cover {asked} "
                f"is on vouchers for {named}",
                **extra,
            ) from short_here
        raise InsufficientFunds(
            f"{short_here.detail}; another {other} is on vouchers for {named}, which cannot be spent here",
            **extra,
        ) from short_here


def plan_under_rules(
    spending: Spending,
    amount_minor: int,
    lots: Sequence[LotRecord],
    *,
    spent_today_minor: int,
    now: dt.datetime,
    categories: Collection[str],
    unit: Unit,
    zone: dt.tzinfo | None = None,
) -> list[tuple[str, int]]:
    """Every rule of a spend, in order: the limits, then which lots (earliest expiry first), then the
    whole-lot rule. A redemption, a hold and the street pot's payment all plan here."""
    check_limits(spending, amount_minor, spent_today_minor, unit)
    plan = plan_here(lots, amount_minor, now, categories, unit, zone)
    check_whole_lots(spending, plan, lots)
    return plan


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
