"""A spend that only the expired value here could have covered says so, with the day it expired."""

from __future__ import annotations

import dataclasses
import datetime as dt
import zoneinfo

import pytest

from ledger.errors import InsufficientFunds, VouchersExpired
from ledger.records import LotRecord
from ledger.units import Unit
from ledger.usecases.spending import plan_here
from tests.unit.test_wallets import lot as wallet_lot

NOW = dt.datetime(2026, 12, 3, 10, 0, tzinfo=dt.UTC)
LONDON = zoneinfo.ZoneInfo("Europe/London")
LAST_INSTANT_OF_30_NOVEMBER = dt.datetime(2026, 11, 30, 23, 59, 59, tzinfo=dt.UTC)  # GMT in winter
POOL = frozenset({"leisure-centre"})


def lot(name: str, balance: int, expires_at: dt.datetime | None, category: str | None = None) -> LotRecord:
    return dataclasses.replace(wallet_lot(name, balance, category=category), expires_at=expires_at)


EXPIRED = lot("november", 1000, LAST_INSTANT_OF_30_NOVEMBER)
CURRENT = lot("december", 200, NOW + dt.timedelta(days=28))


def test_a_spend_only_the_expired_vouchers_could_cover_is_refused_as_expired_with_the_day() -> None:
    with pytest.raises(VouchersExpired) as refused:
        plan_here([EXPIRED, CURRENT], 800, NOW, POOL, Unit.GBP, LONDON)

    assert refused.value.problem == "vouchers-expired"
    assert refused.value.detail == (
        "this voucher expired on 30 November 2026, so its £10.00 cannot be spent; "
        "needs £8.00; £2.00 available to spend here"
    )
    assert refused.value.extra == {
        "needed_minor": 800,
        "available_minor": 200,
        "expired_minor": 1000,
        "expired_at": "2026-11-30T23:59:59.000000Z",
        "unit": "GBP",
    }


def test_the_day_is_the_councils_and_each_expiry_day_is_named_once() -> None:
    summer = lot("june", 300, dt.datetime(2026, 6, 30, 23, 30, tzinfo=dt.UTC))  # 1 July in London
    also_summer = dataclasses.replace(summer, account_id="june-2")
    with pytest.raises(VouchersExpired) as refused:
        plan_here([summer, also_summer, EXPIRED], 1500, NOW, POOL, Unit.GBP, LONDON)

    assert refused.value.detail.startswith(
        "these vouchers expired on 1 July 2026 and 30 November 2026, so their £16.00 cannot be spent"
    )


def test_a_spend_the_expired_vouchers_could_not_cover_either_is_not_enough() -> None:
    with pytest.raises(InsufficientFunds) as refused:
        plan_here([EXPIRED, CURRENT], 1300, NOW, POOL, Unit.GBP, LONDON)

    assert type(refused.value) is InsufficientFunds


def test_expired_vouchers_of_a_purpose_not_accepted_here_do_not_make_it_expired() -> None:
    rent = lot("rent", 5000, LAST_INSTANT_OF_30_NOVEMBER, category="accommodation")
    with pytest.raises(InsufficientFunds) as refused:
        plan_here([rent, CURRENT], 800, NOW, POOL, Unit.GBP, LONDON)

    assert type(refused.value) is InsufficientFunds


def test_value_that_has_not_expired_is_spent_as_before() -> None:
    assert plan_here([EXPIRED, CURRENT], 150, NOW, POOL, Unit.GBP, LONDON) == [("december", 150)]
