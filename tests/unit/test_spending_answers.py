"""What a refused spend says: the right problem, amounts as people read them, and the integers beside them."""

from __future__ import annotations

import datetime as dt

import pytest

from ledger.errors import InsufficientFunds, LimitExceeded, NotAllowedHere
from ledger.records import LotRecord
from ledger.rules import Spending
from ledger.units import Unit
from ledger.usecases.spending import check_limits, plan_here
from ledger.wallets import plan_spend

NOW = dt.datetime(2026, 11, 1, 9, 0, tzinfo=dt.UTC)
SHOP = frozenset({"work-clothes"})  # the lot categories a clothes shop accepts


def lot(
    name: str, balance: int, category: str | None = None, floor: int = 0, unit: Unit = Unit.GBP
) -> LotRecord:
    return LotRecord(
        account_id=name,
        owner_id="r1",
        scheme_id="s1",
        unit=unit,
        category=category,
        expires_at=NOW + dt.timedelta(days=30),
        created_at=NOW,
        balance_minor=balance,
        floor_minor=floor,
    )


VOUCHERS = [lot("clothes", 2500, "work-clothes"), lot("rent", 6000, "accommodation")]


def test_overspending_where_the_purpose_is_right_is_insufficient_funds_naming_the_other_vouchers() -> None:
    with pytest.raises(InsufficientFunds) as refused:
        plan_here(VOUCHERS, 3000, NOW, SHOP, Unit.GBP)

    assert type(refused.value) is InsufficientFunds
    assert refused.value.detail == (
        "needs £30.00; £25.00 available to spend here; another £60.00 is on vouchers for accommodation, "
        "which cannot be spent here"
    )
    assert refused.value.extra == {
        "needed_minor": 3000,
        "available_minor": 2500,
        "other_purposes_minor": 6000,
        "unit": "GBP",
    }


def test_when_nothing_on_the_card_is_for_this_outlet_the_place_is_wrong_not_the_balance() -> None:
    with pytest.raises(NotAllowedHere) as refused:
        plan_here(VOUCHERS[1:], 3000, NOW, SHOP, Unit.GBP)

    assert refused.value.detail == (
        "nothing on this card can be spent here; the £60.00 that could cover £30.00 is on vouchers for "
        "accommodation"
    )
    assert refused.value.extra["available_minor"] == 0 and refused.value.extra["other_purposes_minor"] == 6000


def test_when_even_every_voucher_together_falls_short_it_is_insufficient_funds() -> None:
    with pytest.raises(InsufficientFunds) as refused:
        plan_here(VOUCHERS[1:], 99_999, NOW, SHOP, Unit.GBP)

    assert type(refused.value) is InsufficientFunds
    assert refused.value.detail.startswith("needs £999.99; £0.00 available to spend here; another £60.00")
    with pytest.raises(InsufficientFunds, match=r"^needs £25\.01; £25\.00 available to spend here$"):
        plan_here(VOUCHERS[:1], 2501, NOW, SHOP, Unit.GBP)


def test_a_spend_past_the_overdraft_floor_says_the_floor_is_included() -> None:
    member = lot("member", -510, floor=-600, unit=Unit.HOUR)  # 8 h 30 min overdrawn of a 10 h overdraft

    with pytest.raises(InsufficientFunds) as refused:
        plan_spend([member], 120, NOW, None, unit=Unit.HOUR)

    assert refused.value.detail == "needs 2 h; 1 h 30 min available including the 10 h overdraft"
    assert refused.value.extra == {
        "needed_minor": 120,
        "available_minor": 90,
        "overdraft_minor": 600,
        "unit": "HOUR",
    }


def test_limits_are_stated_in_the_schemes_unit() -> None:
    spending = Spending(per_transaction_limit_minor=600, per_day_limit_minor=1000)
    with pytest.raises(LimitExceeded) as over_once:
        check_limits(spending, 800, 0, Unit.GBP)
    assert over_once.value.detail == "at most £6.00 in one transaction; £8.00 asked"
    assert over_once.value.extra == {"limit_minor": 600, "needed_minor": 800, "unit": "GBP"}

    with pytest.raises(LimitExceeded) as over_today:
        check_limits(spending, 500, 600, Unit.GBP)
    assert over_today.value.detail == "the per-day limit of £10.00 leaves £4.00 to spend today; £5.00 asked"
    assert over_today.value.extra["left_today_minor"] == 400
