"""Entitlements, redemptions, refunds and holds at an outlet through the API, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from api import limits as api_limits
from ledger.usecases.expiry import expire_all
from tests.integration.value_support import BAD_INTEGERS, HEALTHY, LEISURE, RELEASE, TIME_BANK
from tests.support.api import START, World, assert_problem

REDEEM = "/api/v1/redemptions"


def _issue(world: World, scheme: str, resident: str, **extra: Any) -> dict[str, Any]:
    made = world.post(
        "/api/v1/issuances", {"scheme": scheme, "resident_id": resident, **extra}, world.staff("caseworker")
    )
    assert made.status_code == 201, made.get_json()
    return dict(made.get_json())


def _teen(world: World) -> tuple[dict[str, Any], str, str, str]:
    """A leisure scheme, a teen with two lots (the later one expiring first), and the teen's card."""
    leisure = world.scheme("leisure", "GBP", LEISURE, funded=50_000)
    teen = world.resident((leisure,))
    number, token = world.card(teen)
    _issue(world, "leisure", teen, amount_minor=800)
    _issue(world, "leisure", teen, amount_minor=600, expires_at="2026-11-30T00:00:00Z")
    return leisure, teen, number, token


def test_entitlements_show_what_may_be_spent_here(world: World) -> None:
    _, teen, number, token = _teen(world)
    healthy = world.scheme("healthy", "POINT", HEALTHY, funded=100)
    world.run(
        lambda uow: uow.people.add_membership(
            resident_id=teen, scheme_id=healthy["id"], collective_id=None, referral=None, actor="t", now=START
        )
    )
    _, pool = world.outlet(["leisure-centre"], ["leisure", "healthy"])
    _, library = world.outlet(["library"], ["leisure", "healthy"])
    seen = world.get(f"/api/v1/cards/{token}/entitlements", pool)
    assert seen.status_code == 200, seen.get_json()
    data = seen.get_json()
    assert data["card_number"] == number and [s["scheme"] for s in data["schemes"]] == ["healthy", "leisure"]
    scheme = data["schemes"][1]
    assert (scheme["available_minor"], scheme["max_spend_now_minor"], scheme["left_today_minor"]) == (
        1400,
        1000,
        1000,
    )
    assert scheme["offline_floor_limit_minor"] == 500 and scheme["unit"] == "GBP"
    assert [lot["available_minor"] for lot in scheme["lots"]] == [600, 800]  # earliest expiry first
    at_library = world.get(f"/api/v1/cards/{token}/entitlements", library).get_json()
    assert [s["scheme"] for s in at_library["schemes"]] == ["leisure"]
    assert_problem(world.get("/api/v1/cards/C1.bad.token/entitlements", pool), 400, "invalid-token")
    assert_problem(
        world.get(f"/api/v1/cards/{token}/entitlements", world.staff("caseworker")), 403, "forbidden"
    )
    world.block(number)
    assert_problem(world.get(f"/api/v1/cards/{token}/entitlements", pool), 403, "card-blocked")


def test_redeem_takes_the_earliest_expiring_lot_and_replays(world: World) -> None:
    leisure, teen, _, token = _teen(world)
    outlet_id, pool = world.outlet(["leisure-centre"], ["leisure"])
    spend = {"card_token": token, "amount_minor": 700, "scheme": "leisure"}
    made = world.post(REDEEM, spend, pool, key="swim-1")
    assert made.status_code == 201, made.get_json()
    receipt = made.get_json()
    assert [t["amount_minor"] for t in receipt["taken"]] == [600, 100]
    assert (receipt["remaining_here_minor"], receipt["remaining_in_scheme_minor"]) == (700, 700)
    assert "remaining_minor" not in receipt
    assert (receipt["scheme"], receipt["outlet_id"]) == ("leisure", outlet_id)
    assert world.transaction(receipt["transaction_id"]).rule_version == leisure["version"]
    payable = world.account_id(f"outlet:{outlet_id}:payable:GBP")
    assert payable is not None and world.balance(payable) == 700
    world.clock.advance(dt.timedelta(minutes=5))
    assert world.post(REDEEM, spend, pool, key="swim-1").get_json() == receipt
    assert_problem(
        world.post(REDEEM, {**spend, "amount_minor": 1}, pool, key="swim-1"), 422, "idempotency-mismatch"
    )
    assert_problem(world.post(REDEEM, spend, pool, key=None), 400, "idempotency-key-required")
    by_unit = world.post(REDEEM, {"card_token": token, "amount_minor": 300, "unit": "GBP"}, pool)
    assert by_unit.status_code == 201 and by_unit.get_json()["scheme"] == "leisure"
    assert world.wallet(teen, leisure) == 400
    world.assert_audit_ok()


def test_refusals_leave_the_books_alone(world: World) -> None:
    _, _, number, token = _teen(world)
    _, pool = world.outlet(["leisure-centre"], ["leisure"])
    _, unapproved = world.outlet(["leisure-centre"], ["healthy"])
    _, wrong_kind = world.outlet(["hostel"], ["leisure"])
    spend = {"card_token": token, "amount_minor": 500, "scheme": "leisure"}
    before = world.books()
    assert_problem(world.post(REDEEM, spend, unapproved), 403, "not-allowed-here")
    assert_problem(world.post(REDEEM, spend, wrong_kind), 403, "not-allowed-here")
    assert_problem(
        world.post(REDEEM, {"card_token": token, "amount_minor": 5, "unit": "POINT"}, pool),
        403,
        "not-allowed-here",
    )
    assert_problem(world.post(REDEEM, {**spend, "amount_minor": 1001}, pool), 422, "limit-exceeded")
    assert_problem(
        world.post(REDEEM, {**spend, "card_token": token[:-3] + "AAA"}, pool), 400, "invalid-token"
    )
    assert_problem(world.post(REDEEM, spend, world.staff("finance")), 403, "forbidden")
    for bad in BAD_INTEGERS:
        raw = f'{{"card_token": "{token}", "scheme": "leisure", "amount_minor": {bad}}}'
        assert_problem(world.post(REDEEM, None, pool, raw=raw), 422, "validation")
    assert_problem(world.post(REDEEM, {"card_token": token, "amount_minor": 5}, pool), 422, "validation")
    assert_problem(world.post(REDEEM, {**spend, "tip": 1}, pool), 422, "validation")
    world.block(number)
    assert_problem(world.post(REDEEM, spend, pool), 403, "card-blocked")
    assert world.books() == before
    world.assert_audit_ok()


def test_per_day_limit_counts_spends_holds_and_refunds_of_the_day(world: World) -> None:
    _, _, _, token = _teen(world)
    _, pool = world.outlet(["leisure-centre"], ["leisure"])
    spend = {"card_token": token, "scheme": "leisure"}
    first = world.post(REDEEM, {**spend, "amount_minor": 600}, pool).get_json()
    world.post("/api/v1/holds", {**spend, "amount_minor": 300}, pool)
    assert_problem(world.post(REDEEM, {**spend, "amount_minor": 101}, pool), 422, "limit-exceeded")
    refund = world.post(f"{REDEEM}/{first['transaction_id']}/refund", {"reason": "closed lane"}, pool)
    assert refund.status_code == 201, refund.get_json()
    assert world.post(REDEEM, {**spend, "amount_minor": 700}, pool).status_code == 201
    assert_problem(world.post(REDEEM, {**spend, "amount_minor": 1}, pool), 422, "limit-exceeded")
    world.clock.advance(dt.timedelta(days=1))
    assert world.post(REDEEM, {**spend, "amount_minor": 100}, pool).status_code == 201
    world.assert_audit_ok()


def test_release_vouchers_are_spent_only_where_their_purpose_is_accepted(world: World) -> None:
    release = world.scheme("release", "GBP", RELEASE, funded=20_000)
    person = world.resident((release,), born="1990-01-01")
    _, token = world.card(person)
    _issue(world, "release", person, purpose="accommodation")
    _issue(world, "release", person, purpose="work-clothes")
    _, hostel = world.outlet(["hostel"], ["release"])
    _, shop = world.outlet(["clothing"], ["release"])
    entitled = world.get(f"/api/v1/cards/{token}/entitlements", shop).get_json()["schemes"][0]
    assert [lot["category"] for lot in entitled["lots"]] == ["work-clothes"]
    spend = {"card_token": token, "scheme": "release"}
    partial = world.post(REDEEM, {**spend, "amount_minor": 1500}, shop)
    assert partial.status_code == 201 and partial.get_json()["taken"][0]["category"] == "work-clothes"
    assert (partial.get_json()["remaining_here_minor"], partial.get_json()["remaining_in_scheme_minor"]) == (
        2500,
        8500,
    )
    assert_problem(world.post(REDEEM, {**spend, "amount_minor": 3000}, shop), 402, "insufficient-funds")
    assert_problem(world.post(REDEEM, {**spend, "amount_minor": 99_999}, shop), 402, "insufficient-funds")
    assert world.post(REDEEM, {**spend, "amount_minor": 6000}, hostel).status_code == 201
    assert world.wallet(person, release) == 2500
    world.assert_audit_ok()


def test_whole_vouchers_only_and_a_per_transaction_limit(world: World) -> None:
    spending = {
        "outlet_categories": ["leisure-centre"],
        "partial_spend": False,
        "per_transaction_limit_minor": 600,
    }
    passes = world.scheme("passes", "GBP", {**LEISURE, "spending": spending}, funded=5_000)
    person = world.resident((passes,))
    _, token = world.card(person)
    _issue(world, "passes", person, amount_minor=500)
    world.clock.advance(dt.timedelta(minutes=1))  # whole vouchers are taken earliest-expiring first
    _issue(world, "passes", person, amount_minor=300)
    _, pool = world.outlet(["leisure-centre"], ["passes"])
    spend = {"card_token": token, "scheme": "passes"}
    assert_problem(world.post(REDEEM, {**spend, "amount_minor": 200}, pool), 422, "rule-violation")
    assert_problem(world.post(REDEEM, {**spend, "amount_minor": 800}, pool), 422, "limit-exceeded")
    assert world.post(REDEEM, {**spend, "amount_minor": 500}, pool).status_code == 201
    assert world.post(REDEEM, {**spend, "amount_minor": 300}, pool).status_code == 201
    assert world.wallet(person, passes) == 0
    world.assert_audit_ok()


def test_refunds_within_the_window_once_at_the_same_outlet(world: World) -> None:
    _, teen, _, token = _teen(world)
    leisure = world.context.read(lambda uow: uow.schemes.get(slug="leisure"))
    _, pool = world.outlet(["leisure-centre"], ["leisure"])
    _, other = world.outlet(["leisure-centre"], ["leisure"])
    spend = {"card_token": token, "scheme": "leisure"}
    first = world.post(REDEEM, {**spend, "amount_minor": 400}, pool).get_json()["transaction_id"]
    second = world.post(REDEEM, {**spend, "amount_minor": 400}, pool).get_json()["transaction_id"]
    assert_problem(world.post(f"{REDEEM}/{first}/refund", {}, other), 404, "not-found")
    done = world.post(f"{REDEEM}/{first}/refund", {}, pool, key="refund-1")
    assert done.status_code == 201 and done.get_json()["reverses_id"] == first
    assert world.post(f"{REDEEM}/{first}/refund", {}, pool, key="refund-1").get_json() == done.get_json()
    assert_problem(world.post(f"{REDEEM}/{first}/refund", {}, pool), 409, "conflict")
    assert world.transaction(done.get_json()["transaction_id"]).kind == "refund"
    world.clock.advance(dt.timedelta(days=14, seconds=1))
    assert_problem(world.post(f"{REDEEM}/{second}/refund", {}, world.staff("finance")), 410, "expired")
    assert world.wallet(teen, leisure) == 1000
    world.assert_audit_ok()


def test_holds_capture_part_void_and_time_out(world: World) -> None:
    _, teen, _, token = _teen(world)
    leisure = world.context.read(lambda uow: uow.schemes.get(slug="leisure"))
    outlet_id, pool = world.outlet(["leisure-centre"], ["leisure"])
    _, other = world.outlet(["leisure-centre"], ["leisure"])
    hold = {"card_token": token, "scheme": "leisure", "amount_minor": 500, "timeout_seconds": 600}
    placed = world.post("/api/v1/holds", hold, pool)
    assert placed.status_code == 201, placed.get_json()
    hold_id = placed.get_json()["hold_id"]
    assert world.wallet(teen, leisure) == 900
    assert_problem(
        world.post(f"/api/v1/holds/{hold_id}/capture", {"amount_minor": 300}, other), 404, "not-found"
    )
    assert_problem(
        world.post(f"/api/v1/holds/{hold_id}/capture", {"amount_minor": 501}, pool), 422, "validation"
    )
    captured = world.post(f"/api/v1/holds/{hold_id}/capture", {"amount_minor": 300}, pool)
    assert captured.status_code == 201 and captured.get_json()["status"] == "captured"
    assert world.wallet(teen, leisure) == 1100
    assert world.balance(str(world.account_id(f"outlet:{outlet_id}:payable:GBP"))) == 300
    assert_problem(world.post(f"/api/v1/holds/{hold_id}/void", None, pool), 409, "conflict")
    voided_id = world.post("/api/v1/holds", {**hold, "amount_minor": 200}, pool).get_json()["hold_id"]
    assert world.post(f"/api/v1/holds/{voided_id}/void", None, pool).get_json()["status"] == "voided"
    late_id = world.post("/api/v1/holds", {**hold, "amount_minor": 100}, pool).get_json()["hold_id"]
    world.clock.advance(dt.timedelta(seconds=601))
    assert_problem(
        world.post(f"/api/v1/holds/{late_id}/capture", {"amount_minor": 100}, pool), 410, "expired"
    )
    assert_problem(world.post("/api/v1/holds", {**hold, "timeout_seconds": 0}, pool), 422, "validation")
    world.assert_audit_ok()


def test_hours_are_spent_at_outlets_that_accept_them(world: World) -> None:
    bank = world.scheme("time-bank", "HOUR", TIME_BANK, funded=1_000)
    member = world.resident((bank,))
    _, token = world.card(member)
    _, cafe = world.outlet(["repair-cafe"], ["time-bank"])
    event = {"scheme": "time-bank", "resident_id": member, "event_type": "volunteer_hours", "quantity": 60}
    assert world.post("/api/v1/earnings", event, world.staff("scheme_manager")).status_code == 201
    spent = world.post(REDEEM, {"card_token": token, "unit": "HOUR", "amount_minor": 90}, cafe)
    assert spent.status_code == 201, spent.get_json()
    receipt = spent.get_json()
    # The card is 30 min overdrawn; the 10 h overdraft leaves 9 h 30 min to spend here.
    assert (receipt["remaining_in_scheme_minor"], receipt["remaining_here_minor"]) == (-30, 570)
    world.assert_audit_ok()


def test_card_lookups_are_rate_limited_per_device(world: World) -> None:
    _, _, _, token = _teen(world)
    _, pool = world.outlet(["leisure-centre"], ["leisure"])
    statuses = [world.get(f"/api/v1/cards/{token}/entitlements", pool).status_code for _ in range(121)]
    assert statuses[:120] == [200] * 120
    assert_problem(world.get(f"/api/v1/cards/{token}/entitlements", pool), 429, "rate-limited")


def test_card_lookups_say_what_is_left_of_the_budget_in_headers(world: World) -> None:
    _, _, _, token = _teen(world)
    _, pool = world.outlet(["leisure-centre"], ["leisure"])
    world.app.config["CLUBCARD_CARD_LOOKUP_LIMIT"] = "2 per hour"
    answers = [world.get(f"/api/v1/cards/{token}/entitlements", pool) for _ in range(3)]
    assert [answer.status_code for answer in answers] == [200, 200, 429]
    assert [answer.headers["X-RateLimit-Remaining"] for answer in answers] == ["1", "0", "0"]
    for answer in answers:
        assert answer.headers["X-RateLimit-Limit"] == "2"
        assert answer.headers["X-RateLimit-Reset"].isdigit() and answer.headers["Retry-After"].isdigit()
        assert 3590 <= int(answer.headers["Retry-After"]) <= 3601  # the hour's window the first one opened
    api_limits._window_end_of.clear()  # as in a worker that did not open the window: it asks the storage
    again = world.get(f"/api/v1/cards/{token}/entitlements", pool)
    resets = {answer.headers["X-RateLimit-Reset"] for answer in [*answers, again]}
    assert len(resets) == 1, resets
    assert_problem(answers[2], 429, "rate-limited")
    assert "X-RateLimit-Limit" not in world.get("/api/v1/schemes", world.staff("admin")).headers


def test_concurrent_spends_never_beat_the_per_day_limit(world: World) -> None:
    leisure, _, _, token = _teen(world)
    others = [world.resident((leisure,)) for _ in range(2)]
    tokens = [token] * 6
    for other in others:
        _issue(world, "leisure", other)
        tokens.append(world.card(other)[1])
    outlet_id, pool = world.outlet(["leisure-centre"], ["leisure"])  # its payable account is opened once

    def spend(card: str) -> int:
        body = {"card_token": card, "scheme": "leisure", "amount_minor": 300}
        return int(world.post(REDEEM, body, pool).status_code)

    with ThreadPoolExecutor(max_workers=8) as executor:
        statuses = list(executor.map(spend, tokens))
    assert sorted(statuses) == [201] * 5 + [422] * 3, statuses
    assert world.balance(str(world.account_id(f"outlet:{outlet_id}:payable:GBP"))) == 1500
    world.assert_audit_ok()


def test_a_timed_out_hold_is_spendable_and_shown_again_the_instant_it_times_out(world: World) -> None:
    leisure, teen, _, token = _teen(world)
    _, pool = world.outlet(["leisure-centre"], ["leisure"])
    hold = {"card_token": token, "scheme": "leisure", "amount_minor": 900, "timeout_seconds": 1}
    hold_id = world.post("/api/v1/holds", hold, pool).get_json()["hold_id"]
    world.clock.advance(dt.timedelta(seconds=2))

    seen = world.get(f"/api/v1/cards/{token}/entitlements", pool).get_json()["schemes"][0]
    assert (seen["available_minor"], seen["spent_today_minor"], seen["max_spend_now_minor"]) == (
        1400,
        0,
        1000,
    )
    assert [lot["available_minor"] for lot in seen["lots"]] == [600, 800]
    assert_problem(
        world.post(f"/api/v1/holds/{hold_id}/capture", {"amount_minor": 900}, pool), 410, "expired"
    )
    spent = world.post(REDEEM, {"card_token": token, "scheme": "leisure", "amount_minor": 1000}, pool)

    assert spent.status_code == 201, spent.get_json()
    assert spent.get_json()["remaining_in_scheme_minor"] == 400
    assert world.wallet(teen, leisure) == 400
    assert expire_all(world.context.uow_factory, world.clock).holds_released == 0
    assert_problem(
        world.post(f"/api/v1/holds/{hold_id}/capture", {"amount_minor": 900}, pool), 410, "expired"
    )
    world.assert_audit_ok()


def test_a_capture_receipt_names_what_was_captured_and_what_went_back(world: World) -> None:
    _, _, _, token = _teen(world)
    _, pool = world.outlet(["leisure-centre"], ["leisure"])
    hold = {"card_token": token, "scheme": "leisure", "amount_minor": 700}
    placed = world.post("/api/v1/holds", hold, pool).get_json()
    assert (placed["remaining_here_minor"], placed["remaining_in_scheme_minor"]) == (700, 700)

    captured = world.post(f"/api/v1/holds/{placed['hold_id']}/capture", {"amount_minor": 250}, pool)

    assert captured.status_code == 201, captured.get_json()
    receipt = captured.get_json()
    assert (receipt["captured_minor"], receipt["returned_minor"], receipt["status"]) == (250, 450, "captured")
    assert receipt["returned_to"] == [
        {"lot_account_id": placed["taken"][-1]["lot_account_id"], "amount_minor": 100},
        {"lot_account_id": placed["taken"][0]["lot_account_id"], "amount_minor": 350},
    ]
    assert "taken" not in receipt
    second = world.post("/api/v1/holds", hold, pool).get_json()["hold_id"]
    voided = world.post(f"/api/v1/holds/{second}/void", None, pool).get_json()
    assert (voided["captured_minor"], voided["returned_minor"], voided["status"]) == (0, 700, "voided")
    world.assert_audit_ok()


def test_overspending_at_an_outlet_of_the_right_purpose_is_insufficient_funds_with_amounts(
    world: World,
) -> None:
    release = world.scheme("release", "GBP", RELEASE, funded=20_000)
    person = world.resident((release,), born="1990-01-01")
    _, token = world.card(person)
    _issue(world, "release", person, purpose="accommodation")
    _issue(world, "release", person, purpose="work-clothes")
    _, shop = world.outlet(["clothing"], ["release"])
    _, interviews = world.outlet(["interview-preparation"], ["release"])
    spend = {"card_token": token, "scheme": "release"}

    short = world.post(REDEEM, {**spend, "amount_minor": 4500}, shop)

    assert_problem(short, 402, "insufficient-funds")
    assert short.get_json()["detail"] == (
        "needs £45.00; £40.00 available to spend here; another £60.00 is on vouchers for accommodation, "
        "which cannot be spent here"
    )
    assert {k: short.get_json()[k] for k in ("needed_minor", "available_minor", "other_purposes_minor")} == {
        "needed_minor": 4500,
        "available_minor": 4000,
        "other_purposes_minor": 6000,
    }
    assert short.get_json()["unit"] == "GBP"
    wrong_place = world.post(REDEEM, {**spend, "amount_minor": 3000}, interviews)
    assert_problem(wrong_place, 403, "not-allowed-here")
    assert (
        "£100.00 that could cover £30.00 is on vouchers for accommodation and work-clothes"
        in (wrong_place.get_json()["detail"])
    )
    partial = world.post(REDEEM, {**spend, "amount_minor": 1500}, shop).get_json()
    assert (partial["remaining_here_minor"], partial["remaining_in_scheme_minor"]) == (2500, 8500)
    world.assert_audit_ok()


def test_limits_and_roles_are_explained_in_the_refusal(world: World) -> None:
    _, _, _, token = _teen(world)
    _, pool = world.outlet(["leisure-centre"], ["leisure"])
    spend = {"card_token": token, "scheme": "leisure"}
    assert world.post(REDEEM, {**spend, "amount_minor": 600}, pool).status_code == 201

    over = world.post(REDEEM, {**spend, "amount_minor": 500}, pool)

    assert_problem(over, 422, "limit-exceeded")
    body = over.get_json()
    assert body["detail"] == "the per-day limit of £10.00 leaves £4.00 to spend today; £5.00 asked"
    assert (body["limit_minor"], body["left_today_minor"], body["unit"]) == (1000, 400, "GBP")
    forbidden = world.post(REDEEM, {**spend, "amount_minor": 1}, world.staff("auditor"))
    assert_problem(forbidden, 403, "forbidden")
    assert forbidden.get_json()["detail"] == "an auditor key cannot do this; it needs a device key"
    assert (forbidden.get_json()["role"], forbidden.get_json()["allowed_roles"]) == ("auditor", ["device"])
