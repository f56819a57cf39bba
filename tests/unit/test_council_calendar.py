"""The council's calendar: days, weeks and months cut in its time zone, across both UK clock changes.

In 2026 the UK's clocks go forward at 01:00 GMT on Sunday 29 March and back at 01:00 GMT (02:00 BST) on
Sunday 25 October.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo

import pytest
from freezegun import freeze_time

from ledger.clock import FixedClock, SystemClock
from ledger.errors import ValidationFailed
from ledger.rules import Expiry, Issuing, add_days, local_date, period_key, period_start
from ledger.settings import Settings

LONDON = zoneinfo.ZoneInfo("Europe/London")


def utc(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC)


def test_half_past_midnight_in_summer_time_is_already_the_councils_new_day() -> None:
    half_past_midnight_bst = utc("2026-03-30T23:30")  # 00:30 BST on Tuesday 31 March
    assert local_date(half_past_midnight_bst, LONDON) == dt.date(2026, 3, 31)
    assert period_start("day", half_past_midnight_bst, LONDON) == utc("2026-03-30T23:00")


def test_the_day_the_clocks_go_forward_has_23_hours_and_the_day_they_go_back_25() -> None:
    spring = period_start("day", utc("2026-03-29T12:00"), LONDON)
    assert (spring, period_start("day", utc("2026-03-30T12:00"), LONDON) - spring) == (
        utc("2026-03-29T00:00"),
        dt.timedelta(hours=23),
    )
    autumn = period_start("day", utc("2026-10-25T12:00"), LONDON)
    assert (autumn, period_start("day", utc("2026-10-26T12:00"), LONDON) - autumn) == (
        utc("2026-10-24T23:00"),
        dt.timedelta(hours=25),
    )
    assert period_start("day", utc("2026-10-25T23:30"), LONDON) == autumn, "23:30 GMT is still the 25th"


def test_weeks_start_on_the_councils_monday_and_months_on_its_first() -> None:
    assert period_start("week", utc("2026-03-29T23:30"), LONDON) == utc("2026-03-29T23:00")  # Mon 00:30
    assert period_start("week", utc("2026-03-29T22:30"), LONDON) == utc("2026-03-23T00:00")  # Sun 23:30
    assert period_start("month", utc("2026-04-30T23:30"), LONDON) == utc("2026-04-30T23:00")  # 1 May
    assert period_start("month", utc("2026-10-31T23:30"), LONDON) == utc("2026-09-30T23:00")  # 31 Oct
    assert period_start("quarter", utc("2026-06-30T23:30"), LONDON) == utc("2026-06-30T23:00")
    assert period_start("year", utc("2026-12-31T23:30"), LONDON) == utc("2026-01-01T00:00")  # GMT


def test_a_period_is_named_by_the_councils_first_day_of_it() -> None:
    assert period_key("month", utc("2026-09-30T23:30"), LONDON) == "month:2026-10-01"
    assert period_key("month", utc("2026-09-30T22:59"), LONDON) == "month:2026-09-01"
    assert period_key("week", utc("2026-10-25T23:30"), LONDON) == "week:2026-10-19"
    assert period_key("month", utc("2026-09-30T23:30"), dt.UTC) == "month:2026-09-01"


def test_only_a_recurring_allowance_has_a_period() -> None:
    at = utc("2026-09-30T23:30")
    assert Issuing(mode="recurring", period="month").allowance_period(at, LONDON) == "month:2026-10-01"
    assert Issuing(mode="recurring").allowance_period(at, LONDON) == "month:2026-10-01"
    assert Issuing(mode="one_off").allowance_period(at, LONDON) is None


def test_council_days_keep_the_wall_clock_time_across_a_clock_change() -> None:
    assert add_days(utc("2026-03-28T12:00"), 1, LONDON) == utc("2026-03-29T11:00")  # noon to noon
    assert add_days(utc("2026-10-20T10:00"), 7, LONDON) == utc("2026-10-27T11:00")
    assert Expiry(days_after_issue=7).expires_at(utc("2026-10-20T10:00"), LONDON) == utc("2026-10-27T11:00")


def test_a_fixed_expiry_date_ends_at_the_councils_midnight() -> None:
    ends = Expiry(fixed_date=dt.date(2026, 7, 31)).expires_at(utc("2026-07-01T09:00"), LONDON)
    assert ends == utc("2026-07-31T22:59:59.999999")


def test_the_clock_knows_the_councils_zone_and_freezegun_moves_the_system_clock() -> None:
    assert FixedClock(utc("2026-03-30T23:30")).zone == LONDON
    assert FixedClock(utc("2026-03-30T23:30"), "Europe/Dublin").zone == zoneinfo.ZoneInfo("Europe/Dublin")
    with freeze_time("2026-03-30T23:30:00Z"):
        clock = SystemClock()
        assert local_date(clock.now(), clock.zone) == dt.date(2026, 3, 31)


def test_settings_take_the_council_time_zone_and_default_to_london() -> None:
    assert Settings.from_environment({}).time_zone == "Europe/London"
    assert Settings.from_environment({"CLUBCARD_TIME_ZONE": "Europe/Dublin"}).time_zone == "Europe/Dublin"


def test_an_unknown_time_zone_stops_start_up_with_a_clear_error() -> None:
    with pytest.raises(ValidationFailed, match="CLUBCARD_TIME_ZONE 'Europe/Londres' is not a time zone"):
        Settings.from_environment({"CLUBCARD_TIME_ZONE": "Europe/Londres"})
    with pytest.raises(ValidationFailed, match="CLUBCARD_TIME_ZONE"):
        SystemClock("../../etc/passwd")
