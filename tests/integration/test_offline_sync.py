"""Offline redemptions synced by a kiosk, shortfalls, typed card numbers, the offline profile (both DBs)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from ledger.usecases import flows
from tests.integration.value_support import START, World, problem, world

__all__ = ["world"]
OFFLINE = "/api/v1/offline-redemptions"
SHORTFALLS = "/api/v1/offline-shortfalls"
LEISURE_OFFLINE = {
    "spending": {
        "outlet_categories": ["leisure-centre"],
        "per_day_limit_minor": 2000,
        "offline_floor_limit_minor": 500,
    }
}


def _setup(world: World, wallet_minor: int = 1000) -> dict[str, Any]:
    leisure = world.scheme("leisure", "GBP", LEISURE_OFFLINE, funded=50_000)
    teen = world.resident((leisure,))
    number, token = world.card(teen)
    world.run(
        lambda uow: flows.issue(
            uow,
            scheme=leisure,
            owner_id=teen,
            amount_minor=wallet_minor,
            now=world.clock.now(),
            actor="caseworker:test",
            key=f"issue-{teen}",
        )
    )
    outlet_id, device = world.outlet(["leisure-centre"], ["leisure"])
    return {
        "scheme": leisure,
        "teen": teen,
        "number": number,
        "token": token,
        "outlet": outlet_id,
        "device": device,
    }


def _offline(world: World, setup: dict[str, Any], amount: int, key: str, **extra: Any) -> Any:
    body = {
        "card_token": setup["token"],
        "scheme": "leisure",
        "amount_minor": amount,
        "occurred_at": (START - dt.timedelta(minutes=30)).isoformat(),
        **extra,
    }
    return world.post(OFFLINE, body, setup["device"], key=key)


def _payable(world: World, setup: dict[str, Any]) -> int:
    account = world.account_id(f"outlet:{setup['outlet']}:payable:GBP")
    return 0 if account is None else world.balance(account)


def test_an_offline_spend_the_wallet_covers_is_posted_once_however_often_it_is_synced(world: World) -> None:
    setup = _setup(world)
    first = _offline(world, setup, 450, "kiosk-1:offline-1")
    again = _offline(world, setup, 450, "kiosk-1:offline-1")
    assert first.status_code == 201, first.get_json()
    assert again.status_code == 201 and again.get_json() == first.get_json()
    body = first.get_json()
    assert (body["outcome"], body["covered_minor"], body["shortfall_minor"]) == ("posted", 450, 0)
    assert world.wallet(setup["teen"], setup["scheme"]) == 550
    assert _payable(world, setup) == 450
    recorded = world.transaction(body["redemption_transaction_id"])
    assert recorded.kind == "redeem" and recorded.metadata["offline"] is True
    world.assert_audit_ok()


def test_a_card_emptied_elsewhere_is_still_paid_and_the_shortfall_is_flagged(world: World) -> None:
    setup = _setup(world, wallet_minor=300)
    body = _offline(world, setup, 500, "kiosk-1:offline-2").get_json()
    assert body["outcome"] == "posted-with-shortfall"
    assert (body["covered_minor"], body["shortfall_minor"]) == (300, 200)
    assert body["shortfall_reason"] == "insufficient-funds"
    assert world.wallet(setup["teen"], setup["scheme"]) == 0
    assert _payable(world, setup) == 500
    risk = world.account_id("scheme:leisure:offline-risk")
    assert risk is not None and world.balance(risk) == -200
    listed = world.get(SHORTFALLS, world.staff("finance"))
    assert listed.status_code == 200, listed.get_json()
    [flagged] = listed.get_json()["data"]
    assert (flagged["card_number"], flagged["shortfall"], flagged["scheme"]) == (
        setup["number"],
        "£2.00",
        "leisure",
    )
    assert flagged["id"] == body["shortfall_id"]
    world.assert_audit_ok()


def test_an_empty_wallet_puts_the_whole_offline_spend_on_the_offline_risk_account(world: World) -> None:
    setup = _setup(world, wallet_minor=100)
    world.post(
        "/api/v1/redemptions",
        {"card_token": setup["token"], "scheme": "leisure", "amount_minor": 100},
        setup["device"],
    )
    body = _offline(world, setup, 400, "kiosk-1:offline-3").get_json()
    assert (body["covered_minor"], body["shortfall_minor"], body["redemption_transaction_id"]) == (
        0,
        400,
        None,
    )
    assert _payable(world, setup) == 500
    world.assert_audit_ok()


def test_a_card_reported_lost_before_the_offline_spend_leaves_the_wallet_untouched(world: World) -> None:
    setup = _setup(world)
    world.block(setup["number"])  # blocked at START; the offline spend happened after
    body = _offline(world, setup, 300, "kiosk-1:offline-4", occurred_at=START.isoformat()).get_json()
    assert (body["shortfall_minor"], body["shortfall_reason"]) == (300, "card-blocked")
    assert world.wallet(setup["teen"], setup["scheme"]) == 1000
    world.assert_audit_ok()


def test_an_offline_spend_over_the_floor_limit_is_refused_and_changes_nothing(world: World) -> None:
    setup = _setup(world)
    before = world.books()
    problem(_offline(world, setup, 501, "kiosk-1:offline-5"), 422, "limit-exceeded")
    assert world.books() == before


def test_an_offline_spend_for_a_scheme_not_accepted_here_is_refused(world: World) -> None:
    setup = _setup(world)
    _, library = world.outlet(["library"], ["leisure"])
    body = {
        "card_token": setup["token"],
        "scheme": "leisure",
        "amount_minor": 100,
        "occurred_at": START.isoformat(),
    }
    problem(world.post(OFFLINE, body, library), 403, "not-allowed-here")


def test_an_offline_spend_with_a_forged_token_is_refused(world: World) -> None:
    setup = _setup(world)
    forged = setup["token"][:-4] + ("AAAA" if not setup["token"].endswith("AAAA") else "BBBB")
    problem(_offline(world, setup, 100, "kiosk-1:offline-6", card_token=forged), 400, "invalid-token")


def test_an_online_redemption_whose_answer_was_lost_is_not_charged_again_at_sync(world: World) -> None:
    setup = _setup(world)
    spend = {"card_token": setup["token"], "scheme": "leisure", "amount_minor": 250}
    online = world.post("/api/v1/redemptions", spend, setup["device"], key="kiosk-1:attempt-7")
    assert online.status_code == 201, online.get_json()
    synced = _offline(world, setup, 250, "kiosk-1:attempt-7")
    assert synced.status_code == 201, synced.get_json()
    body = synced.get_json()
    assert body["outcome"] == "applied-online"
    assert body["redemption_transaction_id"] == online.get_json()["transaction_id"]
    assert world.wallet(setup["teen"], setup["scheme"]) == 750


def test_an_offline_key_is_never_applied_again_as_an_online_redemption(world: World) -> None:
    setup = _setup(world)
    assert _offline(world, setup, 250, "kiosk-1:attempt-8").status_code == 201
    spend = {"card_token": setup["token"], "scheme": "leisure", "amount_minor": 250}
    problem(
        world.post("/api/v1/redemptions", spend, setup["device"], key="kiosk-1:attempt-8"),
        422,
        "idempotency-mismatch",
    )
    assert world.wallet(setup["teen"], setup["scheme"]) == 750


def test_shortfalls_page_newest_first_with_a_cursor(world: World) -> None:
    setup = _setup(world, wallet_minor=0 + 1)
    ids = []
    for index in range(3):
        world.clock.advance(dt.timedelta(minutes=1))
        ids.append(_offline(world, setup, 100, f"kiosk-1:page-{index}").get_json()["shortfall_id"])
    first = world.get(f"{SHORTFALLS}?limit=2", world.staff("scheme_manager")).get_json()
    assert [row["id"] for row in first["data"]] == [ids[2], ids[1]] and first["has_more"] is True
    rest = world.get(f"{SHORTFALLS}?limit=2&starting_after={ids[1]}", world.staff("admin")).get_json()
    assert [row["id"] for row in rest["data"]] == [ids[0]] and rest["has_more"] is False


def test_shortfalls_are_not_for_devices_or_auditors(world: World) -> None:
    setup = _setup(world)
    problem(world.get(SHORTFALLS, setup["device"]), 403, "forbidden")
    problem(world.get(SHORTFALLS, world.staff("auditor")), 403, "forbidden")


def test_the_offline_profile_lists_the_schemes_accepted_here_with_their_floor_limits(world: World) -> None:
    setup = _setup(world)
    world.scheme("release", "GBP", {"spending": {"outlet_categories": ["accommodation"]}})
    profile = world.get("/api/v1/offline-profile", setup["device"])
    assert profile.status_code == 200, profile.get_json()
    assert profile.get_json()["schemes"] == [
        {
            "scheme": "leisure",
            "name": "leisure",
            "unit": "GBP",
            "offline_floor_limit_minor": 500,
            "refund_window_days": 14,
        }
    ]


def test_a_typed_card_number_gives_the_entitlements_and_the_cards_token(world: World) -> None:
    setup = _setup(world)
    typed = setup["number"].lower().replace("-", " ")
    seen = world.get(f"/api/v1/cards/by-number/{typed}/entitlements", setup["device"])
    assert seen.status_code == 200, seen.get_json()
    body = seen.get_json()
    assert body["card_number"] == setup["number"]
    assert body["schemes"][0]["available_minor"] == 1000
    redeemed = world.post(
        "/api/v1/redemptions",
        {"card_token": body["card_token"], "scheme": "leisure", "amount_minor": 100},
        setup["device"],
    )
    assert redeemed.status_code == 201, redeemed.get_json()


def test_a_typed_card_number_with_a_typo_is_a_validation_problem(world: World) -> None:
    setup = _setup(world)
    number = setup["number"]
    swapped = number[:-2] + number[-1] + number[-2]
    typo = swapped if swapped != number else number[:-1] + ("0" if number[-1] != "0" else "1")
    problem(world.get(f"/api/v1/cards/by-number/{typo}/entitlements", setup["device"]), 422, "validation")


def test_a_typed_number_of_a_blocked_card_says_the_card_is_blocked(world: World) -> None:
    setup = _setup(world)
    world.block(setup["number"])
    path = f"/api/v1/cards/by-number/{setup['number']}/entitlements"
    problem(world.get(path, setup["device"]), 403, "card-blocked")
