"""The council's days, weeks and months (Europe/London) decide caps, allowances and refund windows.

Through the API on SQLite and PostgreSQL, with the clock set around both UK clock changes of 2026: the
clocks go forward on Sunday 29 March (01:00 GMT) and back on Sunday 25 October (02:00 BST).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from tests.integration.value_support import HEALTHY, LEISURE
from tests.support.api import World, assert_problem

REDEEM = "/api/v1/redemptions"
BULK = "/api/v1/issuances/bulk"


def utc(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC)


def teen_at_the_pool(world: World, at: dt.datetime, amount_minor: int = 5_000) -> tuple[str, str]:
    """From `at`: a teen with `amount_minor` on a leisure card (£10 a day), and a pool's device key."""
    world.clock.at = at
    leisure = world.scheme("leisure", "GBP", LEISURE, funded=50_000)
    teen = world.resident((leisure,), born="2010-01-01")
    _, token = world.card(teen)
    issued = world.post(
        "/api/v1/issuances",
        {"scheme": "leisure", "resident_id": teen, "amount_minor": amount_minor},
        world.staff("caseworker"),
    )
    assert issued.status_code == 201, issued.get_json()
    _, pool = world.outlet(["leisure-centre"], ["leisure"])
    return token, pool


def spend(world: World, token: str, pool: str, amount_minor: int, at: dt.datetime) -> Any:
    world.clock.at = at
    return world.post(REDEEM, {"card_token": token, "scheme": "leisure", "amount_minor": amount_minor}, pool)


def test_a_spend_at_half_past_midnight_in_summer_time_counts_against_that_days_cap(world: World) -> None:
    token, pool = teen_at_the_pool(world, utc("2026-03-30T09:00"))
    assert spend(world, token, pool, 1000, utc("2026-03-30T22:00")).status_code == 201  # 23:00 BST Mon

    tuesday = spend(world, token, pool, 1000, utc("2026-03-30T23:30"))  # 00:30 BST Tuesday

    assert tuesday.status_code == 201, tuesday.get_json()
    assert_problem(
        spend(world, token, pool, 1, utc("2026-03-31T12:00")), 422, "limit-exceeded"
    )  # still Tuesday
    seen = world.get(f"/api/v1/cards/{token}/entitlements", pool).get_json()["schemes"][0]
    assert (seen["spent_today_minor"], seen["left_today_minor"]) == (1000, 0)
    world.clock.at = utc("2026-03-31T23:00")  # 00:00 BST Wednesday
    seen = world.get(f"/api/v1/cards/{token}/entitlements", pool).get_json()["schemes"][0]
    assert (seen["spent_today_minor"], seen["left_today_minor"]) == (0, 1000)
    world.assert_audit_ok()


def test_the_day_the_clocks_go_back_is_one_council_day_of_25_hours(world: World) -> None:
    token, pool = teen_at_the_pool(world, utc("2026-10-24T09:00"))
    assert spend(world, token, pool, 1000, utc("2026-10-24T23:30")).status_code == 201  # 00:30 BST Sun 25th

    assert_problem(
        spend(world, token, pool, 1, utc("2026-10-25T23:30")), 422, "limit-exceeded"
    )  # 23:30 GMT, 25th

    assert spend(world, token, pool, 1000, utc("2026-10-26T00:10")).status_code == 201  # Monday
    world.assert_audit_ok()


def test_an_allowance_run_at_half_past_midnight_on_the_first_pays_for_the_new_month(world: World) -> None:
    world.clock.at = utc("2026-09-15T09:00")
    leisure = world.scheme("leisure", "GBP", LEISURE, funded=50_000)
    teens = [world.resident((leisure,), born="2010-01-01") for _ in range(3)]
    manager = world.staff("scheme_manager")

    def run(key: str, at: dt.datetime) -> tuple[str, dict[str, Any]]:
        world.clock.at = at
        accepted = world.post(BULK, {"scheme": "leisure"}, manager, key=key).get_json()
        return accepted["period"], world.wait_for_job(accepted["job_id"], manager)["result"]

    assert run("september", utc("2026-09-15T09:00"))[0] == "month:2026-09-01"

    period, october = run("october", utc("2026-09-30T23:30"))  # 00:30 BST on 1 October

    assert (period, october["paid"], october["already_paid"]) == ("month:2026-10-01", 3, 0)
    period, late = run("october-again", utc("2026-10-31T23:30"))  # 23:30 GMT on 31 October
    assert (period, late["paid"], late["already_paid"]) == ("month:2026-10-01", 0, 3)
    period, november = run("november", utc("2026-11-01T00:30"))
    assert (period, november["paid"]) == ("month:2026-11-01", 3)
    assert [world.wallet(teen, leisure) for teen in teens] == [4500] * 3
    world.assert_audit_ok()


def test_a_refund_window_counts_council_days_across_the_clock_change(world: World) -> None:
    token, pool = teen_at_the_pool(world, utc("2026-10-20T09:00"))
    first, second = (
        spend(world, token, pool, 500, utc("2026-10-20T10:00")).get_json()["transaction_id"]  # 11:00 BST
        for _ in range(2)
    )

    world.clock.at = utc("2026-11-03T10:30")  # 10:30 GMT, 14 council days later: still before 11:00
    assert world.post(f"{REDEEM}/{first}/refund", {}, pool).status_code == 201

    world.clock.at = utc("2026-11-03T11:00:01")
    assert_problem(world.post(f"{REDEEM}/{second}/refund", {}, pool), 410, "expired")
    world.assert_audit_ok()


def test_earning_caps_reset_at_the_councils_midnight(world: World) -> None:
    world.clock.at = utc("2026-06-01T08:00")
    healthy = world.scheme("healthy", "POINT", HEALTHY, funded=1_000)
    person = world.resident((healthy,))
    _, token = world.card(person)
    _, kiosk = world.outlet(["leisure-centre"], ["healthy"])
    check_in = {"scheme": "healthy", "card_token": token, "event_type": "leisure_check_in"}
    world.clock.at = utc("2026-06-01T22:00")  # 23:00 BST Monday
    assert world.post("/api/v1/earnings", check_in, kiosk).status_code == 201

    world.clock.at = utc("2026-06-01T23:30")  # 00:30 BST Tuesday
    tuesday = world.post("/api/v1/earnings", check_in, kiosk)

    assert tuesday.status_code == 201, tuesday.get_json()
    capped = world.post("/api/v1/earnings", check_in, kiosk)
    assert_problem(capped, 422, "limit-exceeded")
    assert capped.get_json()["detail"] == (
        "the earning cap for leisure_check_in is reached for now (10 points a day, 50 points a week)"
    )
    assert world.wallet(person, healthy) == 20
    world.assert_audit_ok()
