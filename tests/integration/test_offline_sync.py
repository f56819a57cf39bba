"""Offline redemptions synced by a kiosk, shortfalls, typed card numbers, the offline profile (both DBs)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import httpx

from kiosk import outcomes as kiosk_outcomes
from kiosk.client import ApiClient
from kiosk.counter import Counter
from kiosk.outbox import Outbox
from kiosk.screens import CardView, ReceiptView
from kiosk.spending import Spend, refund, spend
from kiosk.sync import Syncer
from ledger.usecases import flows
from ledger.usecases.offline_sync import SHORTFALL_KIND
from tests.support.api import START, World, assert_problem

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
    assert_problem(_offline(world, setup, 501, "kiosk-1:offline-5"), 422, "limit-exceeded")
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
    assert_problem(world.post(OFFLINE, body, library), 403, "not-allowed-here")


def test_an_offline_spend_with_a_forged_token_is_refused(world: World) -> None:
    setup = _setup(world)
    forged = setup["token"][:-4] + ("AAAA" if not setup["token"].endswith("AAAA") else "BBBB")
    assert_problem(_offline(world, setup, 100, "kiosk-1:offline-6", card_token=forged), 400, "invalid-token")


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
    assert_problem(
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
    assert_problem(world.get(SHORTFALLS, setup["device"]), 403, "forbidden")
    assert_problem(world.get(SHORTFALLS, world.staff("auditor")), 403, "forbidden")


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
    assert_problem(
        world.get(f"/api/v1/cards/by-number/{typo}/entitlements", setup["device"]), 422, "validation"
    )


def test_a_typed_number_of_a_blocked_card_says_the_card_is_blocked(world: World) -> None:
    setup = _setup(world)
    world.block(setup["number"])
    path = f"/api/v1/cards/by-number/{setup['number']}/entitlements"
    assert_problem(world.get(path, setup["device"]), 403, "card-blocked")


class Switchable(httpx.BaseTransport):
    """The real app in-process, with a network that can be cut, or lose answers after the API applied them."""

    def __init__(self, app: Any) -> None:
        self.inner = httpx.WSGITransport(app=app)
        self.down = False
        self.lose_answers = False

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        """Forward, fail or forward-then-fail."""
        if self.down:
            raise httpx.ConnectError("network cut", request=request)
        response = self.inner.handle_request(request)
        if self.lose_answers and request.method == "POST":
            response.read()
            raise httpx.ReadTimeout("answer lost", request=request)
        return response


def _kiosk(world: World, setup: dict[str, Any], tmp_path: Path) -> tuple[Counter, Switchable]:
    network = Switchable(world.app)
    client = ApiClient("http://api", setup["device"], transport=network)
    counter = Counter(client, Outbox(tmp_path / "kiosk"), now=world.clock.now)
    assert counter.refresh_caches()
    return counter, network


def _take(counter: Counter, setup: dict[str, Any], amount_minor: int, key: str | None = None) -> Any:
    request = Spend(key or counter.new_key(), setup["token"], setup["number"], "leisure", "GBP", amount_minor)
    return spend(counter, request)


def _offline_transactions(world: World) -> int:
    return int(
        world.context.read(
            lambda uow: sum(
                1
                for record in uow.journal.stream()
                if record.kind in {"redeem", SHORTFALL_KIND} and record.metadata.get("offline")
            )
        )
    )


def test_a_kiosk_cut_off_takes_spends_within_the_floor_and_syncs_them_exactly_once(
    world: World, tmp_path: Path
) -> None:
    setup = _setup(world)
    counter, network = _kiosk(world, setup, tmp_path)
    network.down = True
    assert isinstance(_take(counter, setup, 300), ReceiptView)
    assert isinstance(_take(counter, setup, 200), ReceiptView)
    assert _take(counter, setup, 1) is kiosk_outcomes.OVER_OFFLINE_LIMIT
    assert world.wallet(setup["teen"], setup["scheme"]) == 1000  # nothing reached the ledger yet
    network.down = False
    network.lose_answers = True  # the first sync's answers are lost: each spend applied, none marked
    Syncer(counter).run_once()
    network.lose_answers = False
    report = Syncer(counter).run_once()
    assert (report.synced, report.remaining) == (2, 0)
    Syncer(counter).run_once()
    assert world.wallet(setup["teen"], setup["scheme"]) == 500
    assert _payable(world, setup) == 500
    assert _offline_transactions(world) == 2
    world.assert_audit_ok()


def test_a_card_emptied_elsewhere_while_the_kiosk_was_offline_is_paid_and_flagged(
    world: World, tmp_path: Path
) -> None:
    setup = _setup(world, wallet_minor=500)
    counter, network = _kiosk(world, setup, tmp_path)
    network.down = True
    assert isinstance(_take(counter, setup, 400), ReceiptView)
    emptied = world.post(
        "/api/v1/redemptions",
        {"card_token": setup["token"], "scheme": "leisure", "amount_minor": 300},
        world.outlet(["leisure-centre"], ["leisure"])[1],
    )
    assert emptied.status_code == 201
    network.down = False
    assert Syncer(counter).run_once().synced == 1
    [synced] = counter.outbox.rows("synced")
    assert synced.response is not None and synced.response["shortfall_minor"] == 200
    [flagged] = world.get(SHORTFALLS, world.staff("finance")).get_json()["data"]
    assert (flagged["covered_minor"], flagged["shortfall_minor"]) == (200, 200)
    assert world.wallet(setup["teen"], setup["scheme"]) == 0
    world.assert_audit_ok()


def test_an_answer_lost_on_the_way_back_is_charged_once(world: World, tmp_path: Path) -> None:
    setup = _setup(world)
    counter, network = _kiosk(world, setup, tmp_path)
    network.lose_answers = True
    accepted = _take(counter, setup, 450)
    assert isinstance(accepted, ReceiptView) and accepted.outcome is kiosk_outcomes.ACCEPTED_OFFLINE
    network.lose_answers = False
    Syncer(counter).run_once()
    [synced] = counter.outbox.rows("synced")
    assert synced.response is not None and synced.response["outcome"] == "applied-online"
    assert world.wallet(setup["teen"], setup["scheme"]) == 550


def test_the_kiosk_puts_each_refusal_in_plain_words(world: World, tmp_path: Path) -> None:
    setup = _setup(world, wallet_minor=600)
    counter, _ = _kiosk(world, setup, tmp_path)
    assert _take(counter, setup, 700) is kiosk_outcomes.NOT_ENOUGH
    world.run(
        lambda uow: flows.issue(
            uow,
            scheme=setup["scheme"],
            owner_id=setup["teen"],
            amount_minor=3000,
            now=world.clock.now(),
            actor="caseworker:test",
            key="top-up",
        )
    )
    assert _take(counter, setup, 2500) is kiosk_outcomes.DAILY_LIMIT
    assert counter.scan("C1.not.a-card") is kiosk_outcomes.NOT_A_CLUBCARD
    assert counter.look_up_number("CC-0000-0000-0000-0000") is kiosk_outcomes.NOT_A_CLUBCARD  # no such card
    typo = setup["number"][:-1] + ("1" if setup["number"][-1] != "1" else "2")
    assert counter.look_up_number(typo) is kiosk_outcomes.NUMBER_TYPO
    _, library = world.outlet(["library"], ["leisure"])
    elsewhere = Counter(
        ApiClient("http://api", library, transport=httpx.WSGITransport(app=world.app)),
        Outbox(tmp_path / "library"),
        now=world.clock.now,
    )
    wrong_place = Spend(elsewhere.new_key(), setup["token"], setup["number"], "leisure", "GBP", 100)
    assert spend(elsewhere, wrong_place) is kiosk_outcomes.NOT_ACCEPTED_HERE
    world.block(setup["number"])
    assert counter.scan(setup["token"]) is kiosk_outcomes.BLOCKED


def test_a_typed_card_number_is_redeemed_through_the_kiosk(world: World, tmp_path: Path) -> None:
    setup = _setup(world)
    counter, _ = _kiosk(world, setup, tmp_path)
    card = counter.look_up_number(setup["number"].replace("-", "").lower())
    assert isinstance(card, CardView) and card.schemes[0].available == "£10.00"
    receipt = spend(counter, Spend(counter.new_key(), card.token, card.card_number, "leisure", "GBP", 250))
    assert isinstance(receipt, ReceiptView) and receipt.remaining_in_scheme == "£7.50"
    refunded = refund(counter, receipt.key)
    assert isinstance(refunded, ReceiptView)
    assert world.wallet(setup["teen"], setup["scheme"]) == 1000


def test_a_batch_posts_each_item_once_and_one_refusal_leaves_the_others_be(world: World) -> None:
    setup = _setup(world)
    occurred = (START - dt.timedelta(minutes=5)).isoformat()

    def item(key: str, amount: int) -> dict[str, Any]:
        return {
            "idempotency_key": key,
            "card_token": setup["token"],
            "scheme": "leisure",
            "amount_minor": amount,
            "occurred_at": occurred,
        }

    batch = {"redemptions": [item("b-1", 200), item("b-2", 900), item("b-3", 100)]}
    first = world.post(f"{OFFLINE}/batch", batch, setup["device"])
    assert first.status_code == 200, first.get_json()
    results = first.get_json()["results"]
    assert [r["status"] for r in results] == [201, 422, 201]
    assert results[1]["problem"]["type"].endswith("/limit-exceeded")
    again = world.post(f"{OFFLINE}/batch", batch, setup["device"])
    assert [r["result"] for r in again.get_json()["results"]] == [r["result"] for r in results]
    assert world.wallet(setup["teen"], setup["scheme"]) == 700
    assert _offline_transactions(world) == 2
    world.assert_audit_ok()


def test_a_batch_with_a_key_twice_is_refused_whole(world: World) -> None:
    setup = _setup(world)
    twice = {
        "idempotency_key": "same",
        "card_token": setup["token"],
        "scheme": "leisure",
        "amount_minor": 100,
        "occurred_at": START.isoformat(),
    }
    before = world.books()
    assert_problem(
        world.post(f"{OFFLINE}/batch", {"redemptions": [twice, twice]}, setup["device"]), 422, "validation"
    )
    assert world.books() == before
