"""Choosing lots for a spend: earliest expiry first, allowed categories only, never expired or overdrawn."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger.errors import InsufficientFunds
from ledger.records import LotRecord
from ledger.units import Unit
from ledger.wallets import available_to_spend, plan_spend, spend_order, spendable

NOW = dt.datetime(2026, 11, 1, 9, 0, tzinfo=dt.UTC)
DAY = dt.timedelta(days=1)


def lot(
    name: str,
    balance: int,
    *,
    expires_in: dt.timedelta | None = None,
    category: str | None = None,
    floor: int = 0,
    age: dt.timedelta = dt.timedelta(0),
) -> LotRecord:
    return LotRecord(
        account_id=name,
        owner_id="r1",
        scheme_id="s1",
        unit=Unit.GBP,
        category=category,
        expires_at=None if expires_in is None else NOW + expires_in,
        created_at=NOW - age,
        balance_minor=balance,
        floor_minor=floor,
    )


def test_the_earliest_expiring_lot_is_spent_first_and_lots_that_never_expire_last() -> None:
    lots = [
        lot("never", 500),
        lot("late", 500, expires_in=30 * DAY),
        lot("soon", 100, expires_in=2 * DAY),
    ]
    assert plan_spend(lots, 700, NOW, None, unit=Unit.GBP) == [("soon", 100), ("late", 500), ("never", 100)]


def test_lots_expiring_together_are_spent_oldest_first_then_by_id() -> None:
    lots = [
        lot("b", 100, expires_in=DAY),
        lot("a", 100, expires_in=DAY),
        lot("older", 100, expires_in=DAY, age=DAY),
    ]
    assert [x.account_id for x in spend_order(lots)] == ["older", "a", "b"]
    assert plan_spend(lots, 250, NOW, None, unit=Unit.GBP) == [("older", 100), ("a", 100), ("b", 50)]


def test_a_categorised_lot_is_spent_only_where_its_category_is_accepted() -> None:
    lots = [lot("food", 300, category="food", expires_in=DAY), lot("any", 200)]

    assert plan_spend(lots, 400, NOW, {"food", "clothes"}, unit=Unit.GBP) == [("food", 300), ("any", 100)]
    assert plan_spend(lots, 200, NOW, {"clothes"}, unit=Unit.GBP) == [("any", 200)]
    assert plan_spend(lots, 200, NOW, set(), unit=Unit.GBP) == [("any", 200)]
    with pytest.raises(InsufficientFunds, match=r"£2\.00 available to spend here"):
        plan_spend(lots, 201, NOW, {"clothes"}, unit=Unit.GBP)
    assert available_to_spend(lots, NOW, {"clothes"}) == 200
    assert available_to_spend(lots, NOW, None) == 500


def test_an_expired_lot_is_skipped_even_at_the_instant_it_expires() -> None:
    lots = [lot("gone", 1_000, expires_in=-DAY), lot("now", 1_000, expires_in=dt.timedelta(0)), lot("ok", 50)]

    assert not spendable(lots[1], NOW, None)
    assert spendable(lots[1], NOW - dt.timedelta(microseconds=1), None)
    assert plan_spend(lots, 50, NOW, None, unit=Unit.GBP) == [("ok", 50)]
    with pytest.raises(InsufficientFunds):
        plan_spend(lots, 51, NOW, None, unit=Unit.GBP)


def test_a_lot_with_an_overdraft_floor_can_be_drawn_down_to_the_floor_and_no_further() -> None:
    member = lot("member", 100, floor=-600)
    assert member.available_minor == 700
    assert plan_spend([member], 700, NOW, None, unit=Unit.GBP) == [("member", 700)]
    with pytest.raises(InsufficientFunds):
        plan_spend([member], 701, NOW, None, unit=Unit.GBP)
    overdrawn = lot("overdrawn", -650, floor=-600)
    assert overdrawn.available_minor == 0
    with pytest.raises(InsufficientFunds):
        plan_spend([overdrawn], 1, NOW, None, unit=Unit.GBP)


CATEGORY = st.sampled_from((None, "food", "clothes"))
PLACE = st.none() | st.frozensets(st.sampled_from(("food", "clothes", "books")))
LOTS = st.lists(
    st.builds(
        lot,
        st.uuids().map(str),
        st.integers(-1_000, 5_000),
        expires_in=st.none() | st.integers(-5, 10).map(lambda days: days * DAY),
        category=CATEGORY,
        floor=st.sampled_from((0, 0, -600)),
        age=st.integers(0, 3).map(lambda days: days * DAY),
    ).filter(lambda x: x.balance_minor >= x.floor_minor),
    max_size=8,
    unique_by=lambda x: x.account_id,
)


@given(lots=LOTS, amount=st.integers(1, 20_000), place=PLACE)
def test_a_plan_takes_exactly_the_amount_from_spendable_lots_in_order_or_refuses(
    lots: list[LotRecord], amount: int, place: frozenset[str] | None
) -> None:
    by_id = {x.account_id: x for x in lots}
    can_spend = available_to_spend(lots, NOW, place)
    try:
        plan = plan_spend(lots, amount, NOW, place, unit=Unit.GBP)
    except InsufficientFunds:
        assert can_spend < amount
        return
    assert can_spend >= amount
    assert sum(take for _, take in plan) == amount
    assert len({account for account, _ in plan}) == len(plan)
    for account, take in plan:
        chosen = by_id[account]
        assert spendable(chosen, NOW, place), "only lots allowed here, now"
        assert 0 < take <= chosen.available_minor, "never below a lot's floor"
        assert chosen.balance_minor - take >= chosen.floor_minor
    order = [x.account_id for x in spend_order([x for x in lots if spendable(x, NOW, place)])]
    used = [account for account, _ in plan]
    positions = [order.index(account) for account in used]
    assert positions == sorted(positions), "earliest expiry first"
    # Greedy: every lot passed over before the last one used was emptied to its floor.
    for account in order[: positions[-1]]:
        taken = dict(plan).get(account, 0)
        assert taken == by_id[account].available_minor
