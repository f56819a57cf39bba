"""A spend that only vouchers past their expiry (not yet swept) could cover is refused as vouchers-expired,
saying on which day they expired, and changes nothing: on the single path and in a set-based batch, on
SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest

from ledger.usecases import redemption_batch
from ledger.usecases.expiry import expire_all
from ledger.usecases.redemptions import plan_wallet_spend
from tests.support.api import World, assert_problem

REDEEM = "/api/v1/redemptions"
LAST_INSTANT_OF_30_NOVEMBER = "2026-11-30T23:59:59Z"  # GMT in winter: the council's 30 November
# No per-day limit that a spend of more than the card holds would meet first.
LEISURE = {"spending": {"outlet_categories": ["leisure-centre"]}, "expiry": {"days_after_issue": 91}}


@pytest.fixture(params=["single", "batch"])
def spend_path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """CLUBCARD_GROUP_COMMIT=0 (each spend its own transaction) or the app's default group commit, whose
    set-based batch must then have planned every spend itself."""
    planned_in_batches: list[int] = []

    def counted(*arguments: Any) -> Any:
        planned_in_batches.append(arguments[1])
        return plan_wallet_spend(*arguments)

    monkeypatch.setattr(redemption_batch, "plan_wallet_spend", counted)
    if request.param == "single":
        monkeypatch.setenv("CLUBCARD_GROUP_COMMIT", "0")
    else:
        monkeypatch.delenv("CLUBCARD_GROUP_COMMIT", raising=False)
    yield str(request.param)
    assert bool(planned_in_batches) == (request.param == "batch"), planned_in_batches


def _card_with_expired_vouchers(world: World) -> tuple[dict[str, Any], str, str, str]:
    """A teen with £10.00 that expired on 30 November and £2.00 still good; a pool kiosk; 3 December."""
    leisure = world.scheme("leisure", "GBP", LEISURE, funded=50_000)
    teen = world.resident((leisure,))
    _, token = world.card(teen)
    caseworker = world.staff("caseworker")
    for amount, expires_at in ((1000, LAST_INSTANT_OF_30_NOVEMBER), (200, "2027-01-31T23:59:59Z")):
        issue = {"scheme": "leisure", "resident_id": teen, "amount_minor": amount, "expires_at": expires_at}
        made = world.post("/api/v1/issuances", issue, caseworker)
        assert made.status_code == 201, made.get_json()
    _, pool = world.outlet(["leisure-centre"], ["leisure"])
    world.clock.at = dt.datetime(2026, 12, 3, 10, 0, tzinfo=dt.UTC)
    return leisure, teen, token, pool


def test_a_spend_only_expired_vouchers_could_cover_is_refused_as_expired_and_changes_nothing(
    world: World, spend_path: str
) -> None:
    leisure, teen, token, pool = _card_with_expired_vouchers(world)
    scheme = world.get(f"/api/v1/cards/{token}/entitlements", pool).get_json()["schemes"][0]
    assert scheme["available_minor"] == 200
    assert scheme["expired"] == [
        {"category": None, "expired_at": "2026-11-30T23:59:59.000000Z", "amount_minor": 1000}
    ]
    books = world.books()

    refused = world.post(REDEEM, {"card_token": token, "amount_minor": 800, "scheme": "leisure"}, pool)

    assert_problem(refused, 410, "vouchers-expired")
    body = refused.get_json()
    assert body["detail"] == (
        "this voucher expired on 30 November 2026, so its £10.00 cannot be spent; "
        "needs £8.00; £2.00 available to spend here"
    )
    assert (body["needed_minor"], body["available_minor"], body["expired_minor"]) == (800, 200, 1000)
    assert (body["expired_at"], body["unit"]) == ("2026-11-30T23:59:59.000000Z", "GBP")
    assert world.books() == books and world.wallet(teen, leisure) == 1200
    after = world.get(f"/api/v1/cards/{token}/entitlements", pool).get_json()["schemes"][0]
    assert after["spent_today_minor"] == 0, "a refused spend counts nothing towards today's limit"
    world.assert_audit_ok()


def test_more_than_even_the_expired_vouchers_hold_is_not_enough_and_after_the_sweep_too(
    world: World, spend_path: str
) -> None:
    leisure, teen, token, pool = _card_with_expired_vouchers(world)
    too_much = {"card_token": token, "amount_minor": 1300, "scheme": "leisure"}
    assert_problem(world.post(REDEEM, too_much, pool), 402, "insufficient-funds")
    report = expire_all(world.context.uow_factory, world.clock)
    assert report.lots_expired == 1  # the expiry job takes the £10.00 back to the budget
    spend = {"card_token": token, "amount_minor": 800, "scheme": "leisure"}
    assert_problem(world.post(REDEEM, spend, pool), 402, "insufficient-funds")
    assert world.get(f"/api/v1/cards/{token}/entitlements", pool).get_json()["schemes"][0]["expired"] == []
    taken = world.post(REDEEM, {**spend, "amount_minor": 200}, pool)
    assert taken.status_code == 201, taken.get_json()
    assert world.wallet(teen, leisure) == 0
    world.assert_books_right()
