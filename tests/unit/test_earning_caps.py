"""Earning caps against an in-memory record of what was earned: the tightest cap wins, counted in council
days and weeks, never below nothing; and what an event asks for before any cap."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any, cast

import pytest

from ledger.clock import council_zone
from ledger.errors import ValidationFailed
from ledger.ports import UnitOfWork
from ledger.rules import EarningRule
from ledger.usecases.earnings import requested_amount, room_under_caps

LONDON = council_zone("Europe/London")
WEDNESDAY = dt.datetime(2026, 11, 4, 10, 0, tzinfo=dt.UTC)
CHECK_IN = EarningRule(amount_minor=10, cap_per_day_minor=10, cap_per_week_minor=50)


@dataclasses.dataclass
class EarnedSoFar:
    """The activity store's one question, answered from a list: what an owner earned since an instant."""

    earnings: list[tuple[dt.datetime, int]] = dataclasses.field(default_factory=list)

    def earned(self, owner_id: str, scheme_id: str, since: dt.datetime) -> int:
        return sum(amount for at, amount in self.earnings if at >= since)


def room(rule: EarningRule, earnings: list[tuple[dt.datetime, int]], now: dt.datetime = WEDNESDAY) -> Any:
    uow = cast(UnitOfWork, type("FakeUnitOfWork", (), {"activity": EarnedSoFar(earnings)})())
    return room_under_caps(uow, rule, "r1", "s1", now, LONDON)


def test_a_rule_without_caps_has_no_limit() -> None:
    assert room(EarningRule(amount_minor=10), [(WEDNESDAY, 10_000)]) is None


def test_the_day_cap_leaves_what_was_not_yet_earned_today() -> None:
    yesterday = WEDNESDAY - dt.timedelta(days=1)
    assert room(CHECK_IN, []) == 10
    assert room(CHECK_IN, [(yesterday, 10)]) == 10
    assert room(CHECK_IN, [(WEDNESDAY - dt.timedelta(hours=1), 4)]) == 6


def test_the_tightest_cap_wins_when_the_week_is_nearly_used_up() -> None:
    monday = dt.datetime(2026, 11, 2, 9, 0, tzinfo=dt.UTC)
    assert room(CHECK_IN, [(monday, 25), (monday + dt.timedelta(days=1), 20)]) == 5


def test_the_week_starts_on_monday_so_last_weeks_earnings_do_not_count() -> None:
    last_sunday = dt.datetime(2026, 11, 1, 18, 0, tzinfo=dt.UTC)
    assert room(CHECK_IN, [(last_sunday, 50)]) == 10


def test_a_rule_with_a_period_cap_counts_the_council_month() -> None:
    rule = EarningRule(amount_minor=25, cap_per_week_minor=50, cap_per_period_minor=60, period="month")
    last_month = dt.datetime(2026, 10, 31, 12, 0, tzinfo=dt.UTC)
    this_month = dt.datetime(2026, 11, 1, 12, 0, tzinfo=dt.UTC)  # a Sunday: last week, this month
    assert room(rule, [(last_month, 50), (this_month, 25)]) == 35


def test_room_is_never_less_than_nothing_when_a_cap_was_overshot() -> None:
    assert room(CHECK_IN, [(WEDNESDAY, 30)]) == 0


def test_a_cap_day_begins_at_council_midnight_not_utc_midnight() -> None:
    # 23:30 UTC on 1 July is 00:30 on 2 July in London (summer time): the next council day.
    late_evening_utc = dt.datetime(2026, 7, 1, 23, 30, tzinfo=dt.UTC)
    earlier_that_utc_day = dt.datetime(2026, 7, 1, 22, 30, tzinfo=dt.UTC)  # 23:30 on 1 July in London
    assert room(CHECK_IN, [(earlier_that_utc_day, 10)], now=late_evening_utc) == 10


def test_an_event_asks_for_its_amount_or_its_amount_times_the_quantity() -> None:
    assert requested_amount(CHECK_IN, None) == 10
    hours = EarningRule(amount_minor=1, per_quantity=True, cap_per_day_minor=480)
    assert requested_amount(hours, 90) == 90


@pytest.mark.parametrize("quantity", [None, 0, -1, True, 10**9])
def test_a_per_quantity_event_needs_a_whole_positive_quantity(quantity: Any) -> None:
    with pytest.raises(ValidationFailed):
        requested_amount(EarningRule(amount_minor=1, per_quantity=True), quantity)
