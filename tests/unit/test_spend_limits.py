"""Spend planning rules on lots in memory: per-transaction and per-day limits (a council day), the
largest spend allowed now, and schemes that allow only whole vouchers, earliest-expiring first."""

from __future__ import annotations

import datetime as dt

import pytest

from ledger.clock import council_zone
from ledger.errors import LimitExceeded, RuleViolation
from ledger.rules import Spending
from ledger.units import Unit
from ledger.usecases.spending import check_limits, check_whole_lots, council_day, left_today, max_spend_now
from ledger.wallets import plan_spend
from tests.unit.test_wallets import DAY, NOW, lot

LONDON = council_zone("Europe/London")
LIMITED = Spending(per_transaction_limit_minor=500, per_day_limit_minor=1000)
WHOLE_VOUCHERS = Spending(partial_spend=False)


def test_a_spend_up_to_the_per_transaction_limit_passes_and_a_penny_more_is_refused() -> None:
    check_limits(LIMITED, 500, 0, Unit.GBP)
    with pytest.raises(LimitExceeded) as refused:
        check_limits(LIMITED, 501, 0, Unit.GBP)
    assert refused.value.extra["limit_minor"] == 500 and "£5.00 in one transaction" in refused.value.detail


def test_the_per_day_limit_leaves_what_was_not_spent_today_and_refuses_more() -> None:
    assert left_today(LIMITED, 700) == 300
    check_limits(LIMITED, 300, 700, Unit.GBP)
    with pytest.raises(LimitExceeded) as refused:
        check_limits(LIMITED, 301, 700, Unit.GBP)
    assert refused.value.extra["left_today_minor"] == 300
    assert left_today(LIMITED, 1_200) == 0


def test_a_scheme_without_limits_limits_nothing() -> None:
    assert left_today(Spending(), 10**9) is None
    check_limits(Spending(), 10**9, 10**9, Unit.GBP)


def test_the_largest_spend_now_is_the_least_of_funds_transaction_limit_and_what_is_left_today() -> None:
    assert max_spend_now(LIMITED, 2_000, 0) == 500
    assert max_spend_now(LIMITED, 2_000, 800) == 200
    assert max_spend_now(LIMITED, 150, 0) == 150
    assert max_spend_now(LIMITED, 2_000, 5_000) == 0
    assert max_spend_now(Spending(), 2_000, 5_000) == 2_000


def test_a_council_day_runs_from_local_midnight_and_is_25_hours_when_the_clocks_go_back() -> None:
    start, end = council_day(dt.datetime(2026, 7, 1, 23, 30, tzinfo=dt.UTC), LONDON)  # 00:30 on 2 July
    assert (start, end) == (
        dt.datetime(2026, 7, 1, 23, 0, tzinfo=dt.UTC),
        dt.datetime(2026, 7, 2, 23, 0, tzinfo=dt.UTC),
    )
    start, end = council_day(dt.datetime(2026, 10, 25, 12, 0, tzinfo=dt.UTC), LONDON)
    assert end - start == dt.timedelta(hours=25)


def test_whole_vouchers_may_be_spent_earliest_expiring_first() -> None:
    lots = [lot("later", 1_000, expires_in=60 * DAY), lot("sooner", 400, expires_in=10 * DAY)]
    plan = plan_spend(lots, 1_400, NOW, None, unit=Unit.GBP)
    assert plan == [("sooner", 400), ("later", 1_000)]
    check_whole_lots(WHOLE_VOUCHERS, plan, lots)
    check_whole_lots(WHOLE_VOUCHERS, plan_spend(lots, 400, NOW, None, unit=Unit.GBP), lots)


def test_without_partial_spend_a_voucher_drawn_on_only_in_part_is_refused() -> None:
    lots = [lot("later", 1_000, expires_in=60 * DAY), lot("sooner", 400, expires_in=10 * DAY)]
    for amount_minor in (300, 500):  # part of the sooner voucher; the sooner one and part of the later
        plan = plan_spend(lots, amount_minor, NOW, None, unit=Unit.GBP)
        with pytest.raises(RuleViolation, match="whole vouchers"):
            check_whole_lots(WHOLE_VOUCHERS, plan, lots)
        check_whole_lots(Spending(), plan, lots)  # partial spends are the default
