"""Issuances (one and bulk), earnings and transfers through the API, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from clubcard.jobs import JobRunner
from ledger.usecases.bulk_allowance import start_bulk_issuance
from ledger.usecases.issuances import IssueRequest
from ledger.usecases.jobs import job_progress
from tests.integration.test_concurrency import race
from tests.integration.value_support import BAD_INTEGERS, HEALTHY, LEISURE, RECYCLING, RELEASE, TIME_BANK
from tests.support.api import START, World, assert_problem

ISSUE = "/api/v1/issuances"
BULK = "/api/v1/issuances/bulk"
EARN = "/api/v1/earnings"


def test_issuance_defaults_from_the_rules_and_replays(world: World) -> None:
    leisure = world.scheme("leisure", "GBP", LEISURE, funded=10_000)
    teen = world.resident((leisure,))
    caseworker = world.staff("caseworker")
    body = {"scheme": "leisure", "resident_id": teen}
    first = world.post(ISSUE, body, caseworker, key="issue-1")
    assert first.status_code == 201, first.get_json()
    data = first.get_json()
    assert (data["amount_minor"], data["kind"], data["rule_version"]) == (1500, "issue", 1)
    assert data["expires_at"].startswith((START + dt.timedelta(days=91)).date().isoformat())
    assert world.transaction(data["transaction_id"]).rule_version == 1
    replay = world.post(ISSUE, body, caseworker, key="issue-1")
    assert (replay.status_code, replay.get_json()) == (201, data)
    assert_problem(
        world.post(ISSUE, {**body, "amount_minor": 99}, caseworker, key="issue-1"),
        422,
        "idempotency-mismatch",
    )
    assert_problem(world.post(ISSUE, body, caseworker, key=None), 400, "idempotency-key-required")
    assert world.wallet(teen, leisure) == 1500
    explicit = world.post(
        ISSUE, {**body, "amount_minor": 250, "expires_at": "2026-12-01T00:00:00Z"}, caseworker
    )
    assert explicit.get_json()["expires_at"] == "2026-12-01T00:00:00.000000Z"
    world.assert_audit_ok()


def test_issuance_refusals(world: World) -> None:
    leisure = world.scheme("leisure", "GBP", LEISURE, funded=2_000)
    world.scheme("healthy", "POINT", HEALTHY, funded=100)
    member, stranger = world.resident((leisure,)), world.resident()
    aged_out = world.resident((leisure,), born="2001-01-01")
    caseworker = world.staff("caseworker")
    assert_problem(
        world.post(ISSUE, {"scheme": "leisure", "resident_id": stranger}, caseworker), 422, "not-eligible"
    )
    assert_problem(
        world.post(ISSUE, {"scheme": "leisure", "resident_id": aged_out}, caseworker), 422, "not-eligible"
    )
    assert_problem(
        world.post(ISSUE, {"scheme": "healthy", "resident_id": member}, caseworker), 422, "rule-violation"
    )
    assert_problem(world.post(ISSUE, {"scheme": "nope", "resident_id": member}, caseworker), 404, "not-found")
    assert world.post(ISSUE, {"scheme": "leisure", "resident_id": member}, caseworker).status_code == 201
    before = world.books()
    exhausted = world.post(ISSUE, {"scheme": "leisure", "resident_id": member}, caseworker)
    assert_problem(exhausted, 402, "budget-exhausted")
    assert_problem(
        world.post(ISSUE, {"scheme": "leisure", "resident_id": member}, world.staff("finance")),
        403,
        "forbidden",
    )
    assert world.client.post(ISSUE, json={}).status_code == 401
    assert world.books() == before
    world.assert_audit_ok()


@pytest.mark.parametrize("bad", BAD_INTEGERS)
def test_bad_amounts_change_nothing(world: World, bad: str) -> None:
    leisure = world.scheme("leisure", "GBP", LEISURE, funded=10_000)
    teen = world.resident((leisure,))
    before = world.books()
    raw = f'{{"scheme": "leisure", "resident_id": "{teen}", "amount_minor": {bad}}}'
    assert_problem(world.post(ISSUE, None, world.staff("caseworker"), raw=raw), 422, "validation")
    raw = f'{{"scheme": "leisure", "resident_id": "{teen}", "event_type": "x", "quantity": {bad}}}'
    assert_problem(world.post(EARN, None, world.staff("scheme_manager"), raw=raw), 422, "validation")
    raw = (
        f'{{"scheme": "leisure", "from_resident_id": "{teen}", "to_resident_id": "x", "amount_minor": {bad}}}'
    )
    assert_problem(
        world.post("/api/v1/transfers", None, world.staff("caseworker"), raw=raw), 422, "validation"
    )
    assert world.books() == before


def test_series_vouchers_take_their_purpose(world: World) -> None:
    release = world.scheme("release", "GBP", RELEASE, funded=20_000)
    person = world.resident((release,), born="1990-01-01")
    caseworker = world.staff("caseworker")
    made = world.post(
        ISSUE, {"scheme": "release", "resident_id": person, "purpose": "work-clothes"}, caseworker
    )
    assert made.status_code == 201, made.get_json()
    assert (made.get_json()["amount_minor"], made.get_json()["category"]) == (4000, "work-clothes")
    unknown = world.post(
        ISSUE, {"scheme": "release", "resident_id": person, "purpose": "holiday"}, caseworker
    )
    assert_problem(unknown, 422, "validation")
    assert_problem(
        world.post(ISSUE, {"scheme": "release", "resident_id": person}, caseworker), 422, "validation"
    )
    unreferred = world.resident((release,), born="1990-01-01", referral=None)
    refused = world.post(
        ISSUE, {"scheme": "release", "resident_id": unreferred, "purpose": "accommodation"}, caseworker
    )
    assert_problem(refused, 422, "not-eligible")
    world.assert_audit_ok()


def test_bulk_allowance_is_restartable_and_never_double_issues(world: World) -> None:
    leisure = world.scheme("leisure", "GBP", LEISURE, funded=4_500)
    teens = [world.resident((leisure,)) for _ in range(5)]
    outsider = world.resident((leisure,), ward="Elsewhere")
    manager = world.staff("scheme_manager")
    assert_problem(
        world.post("/api/v1/issuances/bulk", {"scheme": "leisure"}, world.staff("caseworker")),
        403,
        "forbidden",
    )
    accepted = world.post("/api/v1/issuances/bulk", {"scheme": "leisure"}, manager, key="allowance-nov")
    assert accepted.status_code == 202, accepted.get_json()
    job_id = accepted.get_json()["job_id"]
    job = world.wait_for_job(job_id, manager)
    assert (job["status"], job["total"], job["result"]["error"]) == ("failed", 6, "budget-exhausted")
    assert job["paid"] == 3 and "£15.00" in job["result"]["error_detail"]
    world.fund(leisure, 10_000)
    again = world.post("/api/v1/issuances/bulk", {"scheme": "leisure"}, manager, key="allowance-nov")
    assert again.get_json()["job_id"] == job_id
    job = world.wait_for_job(job_id, manager)
    assert (job["status"], job["done"], job["paid"], job["refused"]) == ("succeeded", 6, 5, 1)
    refusals = world.get(job["refused_url"], manager).get_json()
    assert [(row["resident_id"], row["problem"]) for row in refusals["data"]] == [(outsider, "not-eligible")]
    assert "ward" in refusals["data"][0]["reason"] and refusals["has_more"] is False
    assert [world.wallet(teen, leisure) for teen in teens] == [1500] * 5
    assert world.wallet(outsider, leisure) == 0
    world.post("/api/v1/issuances/bulk", {"scheme": "leisure"}, manager, key="allowance-nov")
    assert world.wait_for_job(job_id, manager)["status"] == "succeeded"
    assert sum(world.wallet(teen, leisure) for teen in teens) == 7500
    world.assert_audit_ok()


def test_earning_caps_per_day_and_week_shared_by_alternative_activities(world: World) -> None:
    healthy = world.scheme("healthy", "POINT", HEALTHY, funded=1_000)
    _, kiosk = world.outlet(["leisure-centre"], ["healthy"])
    _, elsewhere = world.outlet(["library"], ["leisure"])
    person = world.resident((healthy,))
    _, token = world.card(person)
    check_in = {"scheme": "healthy", "card_token": token, "event_type": "leisure_check_in"}
    first = world.post(EARN, check_in, kiosk)
    assert first.status_code == 201, first.get_json()
    assert (first.get_json()["credited_minor"], first.get_json()["kind"]) == (10, "earn")
    assert_problem(world.post(EARN, check_in, kiosk), 422, "limit-exceeded")
    assert_problem(
        world.post(EARN, {**check_in, "event_type": "walking_group"}, kiosk), 422, "limit-exceeded"
    )
    assert_problem(world.post(EARN, check_in, elsewhere), 403, "not-allowed-here")
    assert_problem(world.post(EARN, {**check_in, "event_type": "sofa"}, kiosk), 422, "rule-violation")
    for day in range(1, 5):  # Thursday to Sunday: an alternative activity earns just the same
        world.clock.advance(dt.timedelta(days=1))
        event = "walking_group" if day % 2 else "leisure_check_in"
        assert world.post(EARN, {**check_in, "event_type": event}, kiosk).status_code == 201
    world.clock.advance(dt.timedelta(hours=1))
    assert world.wallet(person, healthy) == 50
    assert_problem(world.post(EARN, check_in, kiosk), 422, "limit-exceeded")  # 50 a week
    world.clock.advance(dt.timedelta(days=1))  # Monday: a new week
    assert world.post(EARN, check_in, kiosk).status_code == 201
    assert world.wallet(person, healthy) == 60
    world.assert_audit_ok()


def test_per_quantity_earning_needs_its_role_and_is_capped_partially(world: World) -> None:
    bank = world.scheme("time-bank", "HOUR", TIME_BANK, funded=10_000)
    _, kiosk = world.outlet(["repair-cafe"], ["time-bank"])
    member = world.resident((bank,))
    manager = world.staff("scheme_manager")
    hours = {"scheme": "time-bank", "resident_id": member, "event_type": "volunteer_hours", "quantity": 300}
    assert_problem(world.post(EARN, hours, kiosk), 403, "forbidden")
    assert_problem(
        world.post(EARN, {k: v for k, v in hours.items() if k != "quantity"}, manager), 422, "validation"
    )
    assert world.post(EARN, hours, manager).get_json()["credited_minor"] == 300
    capped = world.post(EARN, hours, manager).get_json()
    assert (capped["requested_minor"], capped["credited_minor"], capped["capped"]) == (300, 180, True)
    assert_problem(world.post(EARN, hours, manager), 422, "limit-exceeded")
    assert_problem(world.post(EARN, {**hours, "card_token": "C1.x.y"}, manager), 422, "validation")
    assert_problem(world.post(EARN, {**hours, "resident_id": world.resident()}, manager), 422, "not-eligible")
    assert world.wallet(member, bank) == 480
    world.assert_audit_ok()


def test_a_street_earns_its_collective_reward_once_it_beats_the_datum_line(world: World) -> None:
    recycling = world.scheme("recycling", "POINT", RECYCLING, funded=5_000)
    street = world.resident((recycling,), kind="collective", born=None)
    homes = [world.resident((recycling,), kind="household", born=None, collective=street) for _ in range(2)]
    manager = world.staff("scheme_manager")
    reward = {"scheme": "recycling", "resident_id": street, "event_type": "street_reward"}
    collection = {"scheme": "recycling", "resident_id": homes[0], "event_type": "recycling_collection"}
    for _ in range(3):
        world.post(EARN, collection, manager)
    assert world.wallet(homes[0], recycling) == 50  # capped at 50 a week per household
    assert_problem(world.post(EARN, reward, manager), 422, "rule-violation")  # 50 < 100
    assert_problem(world.post(EARN, {**reward, "resident_id": homes[0]}, manager), 422, "rule-violation")
    world.post(EARN, {**collection, "resident_id": homes[1]}, manager)
    world.post(EARN, {**collection, "resident_id": homes[1]}, manager)
    paid = world.post(EARN, reward, manager)
    assert paid.status_code == 201, paid.get_json()
    assert world.wallet(street, recycling) == 500
    assert_problem(world.post(EARN, reward, manager), 422, "rule-violation")  # once a month
    world.clock.advance(dt.timedelta(days=30))  # December: the members must beat the line again
    assert_problem(world.post(EARN, reward, manager), 422, "rule-violation")
    world.assert_audit_ok()


def test_transfers_between_members_with_the_overdraft_floor(world: World) -> None:
    bank = world.scheme("time-bank", "HOUR", TIME_BANK, funded=10_000)
    release = world.scheme("release", "GBP", RELEASE, funded=10_000)
    payer, payee, outsider = (
        world.resident((bank, release)),
        world.resident((bank, release)),
        world.resident(),
    )
    _, payer_token = world.card(payer)
    _, kiosk = world.outlet(["repair-cafe"], ["time-bank"])
    caseworker = world.staff("caseworker")
    pay = {
        "scheme": "time-bank",
        "from_card_token": payer_token,
        "to_resident_id": payee,
        "amount_minor": 300,
    }
    made = world.post("/api/v1/transfers", pay, kiosk)
    assert made.status_code == 201, made.get_json()
    assert made.get_json()["balance_after_minor"] == -300
    before = world.books()
    assert_problem(
        world.post("/api/v1/transfers", {**pay, "amount_minor": 301}, kiosk), 402, "insufficient-funds"
    )
    assert_problem(
        world.post("/api/v1/transfers", {**pay, "to_resident_id": outsider}, kiosk), 422, "not-eligible"
    )
    assert_problem(
        world.post("/api/v1/transfers", {**pay, "scheme": "release"}, caseworker), 422, "rule-violation"
    )
    assert_problem(world.post("/api/v1/transfers", pay, world.staff("finance")), 403, "forbidden")
    assert world.books() == before
    by_id = {"scheme": "time-bank", "from_resident_id": payer, "to_resident_id": payee, "amount_minor": 300}
    assert world.post("/api/v1/transfers", by_id, caseworker).status_code == 201
    assert (world.wallet(payer, bank), world.wallet(payee, bank)) == (-600, 600)
    world.assert_audit_ok()


def test_a_transfer_past_the_overdraft_floor_says_how_much_the_overdraft_leaves(world: World) -> None:
    bank = world.scheme("time-bank", "HOUR", TIME_BANK, funded=10_000)
    payer, payee = world.resident((bank,)), world.resident((bank,))
    _, payer_token = world.card(payer)
    _, kiosk = world.outlet(["repair-cafe"], ["time-bank"])
    pay = {
        "scheme": "time-bank",
        "from_card_token": payer_token,
        "to_resident_id": payee,
        "amount_minor": 510,
    }
    assert world.post("/api/v1/transfers", pay, kiosk).status_code == 201

    refused = world.post("/api/v1/transfers", {**pay, "amount_minor": 120}, kiosk)

    assert_problem(refused, 402, "insufficient-funds")
    body = refused.get_json()
    assert body["detail"] == "needs 2 h; 1 h 30 min available including the 10 h overdraft"
    assert (body["needed_minor"], body["available_minor"], body["overdraft_minor"], body["unit"]) == (
        120,
        90,
        600,
        "HOUR",
    )
    world.assert_audit_ok()


def test_a_recurring_allowance_pays_each_member_once_a_month_whatever_the_key(world: World) -> None:
    leisure = world.scheme("leisure", "GBP", LEISURE, funded=30_000)
    teens = [world.resident((leisure,)) for _ in range(4)]
    manager = world.staff("scheme_manager")

    def run(key: str) -> tuple[dict[str, Any], dict[str, Any]]:
        accepted = world.post(BULK, {"scheme": "leisure"}, manager, key=key)
        assert accepted.status_code == 202, accepted.get_json()
        return accepted.get_json(), world.wait_for_job(accepted.get_json()["job_id"], manager)["result"]

    accepted, paid = run("november")
    assert (accepted["period"], accepted["already_paid"]) == ("month:2026-11-01", 0)
    assert (paid["paid"], paid["already_paid"]) == (4, 0)

    accepted, again = run("november-again")

    assert (accepted["period"], accepted["already_paid"]) == ("month:2026-11-01", 4)
    assert (again["paid"], again["already_paid"]) == (0, 4)
    assert [world.wallet(teen, leisure) for teen in teens] == [1500] * 4
    world.clock.at = dt.datetime(2026, 12, 1, 0, 30, tzinfo=dt.UTC)
    accepted, december = run("december")
    assert (accepted["period"], december["paid"], december["already_paid"]) == ("month:2026-12-01", 4, 0)
    assert [world.wallet(teen, leisure) for teen in teens] == [3000] * 4
    world.assert_audit_ok()


def test_two_runs_of_one_allowance_at_once_pay_each_member_once(world: World) -> None:
    leisure = world.scheme("leisure", "GBP", LEISURE, funded=100_000)
    teens = [world.resident((leisure,)) for _ in range(12)]
    request = IssueRequest(scheme="leisure")
    jobs = [
        world.run(
            lambda uow, key=key: start_bulk_issuance(
                uow, request=request, now=world.clock.now(), zone=world.clock.zone, actor="manager", key=key
            )
        ).job_id
        for key in ("run-a", "run-b")
    ]
    runners = [JobRunner(world.context.uow_factory, world.clock) for _ in jobs]
    claimed = [runner.claim(job) for runner, job in zip(runners, jobs, strict=True)]

    statuses = race(2, lambda index: runners[index].run(claimed[index]))

    assert statuses == ["succeeded", "succeeded"]
    results = [world.context.read(lambda uow, job=job: job_progress(uow, job)) for job in jobs]
    assert sum(result.paid for result in results) == 12
    assert sum(result.already_paid for result in results) == 12
    assert [world.wallet(teen, leisure) for teen in teens] == [1500] * 12
    world.assert_audit_ok()
