"""The per-day limit reads a counter kept by each spend in its own transaction, on the council's days."""

from __future__ import annotations

from typing import Any

from ledger.rules import period_start
from tests.integration.test_council_calendar import spend, teen_at_the_pool, utc
from tests.support.api import World, assert_problem

REDEEM = "/api/v1/redemptions"
HOLDS = "/api/v1/holds"


def _counted_and_summed(world: World, token: str, pool: str) -> tuple[int, int, int]:
    """(the counter, the sum over today's postings, what the kiosk is shown) for the card's leisure wallet."""
    seen = world.get(f"/api/v1/cards/{token}/entitlements", pool).get_json()["schemes"][0]
    owner = world.context.read(lambda uow: _owner(uow, token, world))
    scheme_id = world.context.read(lambda uow: uow.schemes.get(slug="leisure")["id"])
    now = world.clock.now()
    today = period_start("day", now, world.clock.zone)

    def read(uow: Any) -> tuple[int, int]:
        return uow.activity.spent_on_day(owner, scheme_id, now), uow.activity.spent(owner, scheme_id, today)

    counted, summed = world.context.read(read)
    return counted, summed, int(seen["spent_today_minor"])


def _owner(uow: Any, token: str, world: World) -> str:
    from ledger.usecases.cards import resolve_card

    return str(resolve_card(uow, keyring=world.context.keyring, token=token)["resident_id"])


def test_the_per_day_counter_equals_the_sum_of_todays_spends_holds_captures_voids_and_refunds(
    world: World,
) -> None:
    token, pool = teen_at_the_pool(world, utc("2026-11-02T09:00"))
    body = {"card_token": token, "scheme": "leisure"}
    assert world.post(REDEEM, {**body, "amount_minor": 300}, pool).status_code == 201
    held = world.post(HOLDS, {**body, "amount_minor": 400}, pool).get_json()
    captured = world.post(f"{HOLDS}/{held['hold_id']}/capture", {"amount_minor": 100}, pool)
    assert captured.status_code == 201, captured.get_json()
    voided = world.post(HOLDS, {**body, "amount_minor": 200}, pool).get_json()
    assert world.post(f"{HOLDS}/{voided['hold_id']}/void", {}, pool).status_code == 201
    refunded = world.post(REDEEM, {**body, "amount_minor": 150}, pool).get_json()
    refund = world.post(f"{REDEEM}/{refunded['transaction_id']}/refund", {"reason": "lane shut"}, pool)
    assert refund.status_code == 201, refund.get_json()

    assert _counted_and_summed(world, token, pool) == (400, 400, 400)  # 300 spent + 100 captured
    world.assert_audit_ok()


def test_the_per_day_counter_rolls_over_at_council_midnight(world: World) -> None:
    token, pool = teen_at_the_pool(world, utc("2026-11-02T09:00"))
    assert spend(world, token, pool, 1000, utc("2026-11-02T23:30")).status_code == 201  # 23:30 GMT Monday
    assert_problem(spend(world, token, pool, 1, utc("2026-11-02T23:59")), 422, "limit-exceeded")

    assert spend(world, token, pool, 600, utc("2026-11-03T00:00")).status_code == 201  # Tuesday

    assert _counted_and_summed(world, token, pool) == (600, 600, 600)
    world.assert_audit_ok()


def test_refunding_yesterdays_spend_frees_yesterdays_limit_not_todays(world: World) -> None:
    token, pool = teen_at_the_pool(world, utc("2026-07-06T09:00"))
    monday = spend(world, token, pool, 1000, utc("2026-07-06T22:30")).get_json()  # 23:30 BST Monday
    assert spend(world, token, pool, 500, utc("2026-07-06T23:10")).status_code == 201  # 00:10 BST Tuesday

    refund = world.post(f"{REDEEM}/{monday['transaction_id']}/refund", {"reason": "double charge"}, pool)
    assert refund.status_code == 201, refund.get_json()

    assert_problem(spend(world, token, pool, 600, utc("2026-07-06T23:20")), 422, "limit-exceeded")
    assert _counted_and_summed(world, token, pool) == (500, 500, 500)
    world.assert_audit_ok()
