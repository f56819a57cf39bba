"""Top-ups through Stripe Checkout: started by a sponsor, credited only by Stripe's signed webhook, once."""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
from pathlib import Path

import pytest

from clubcard.stripe_gateway import NOT_CONFIGURED
from ledger.errors import ValidationFailed
from ledger.units import Unit
from ledger.usecases.schemes import create_scheme
from tests.integration.resident_page_support import sign_in_with_date_of_birth
from tests.integration.topup_support import (
    TOPUPS,
    WEBHOOK,
    TopUpWorld,
    a_month_later,
    topup_world,
    topup_world_on,
)
from tests.support.api import assert_problem
from tests.support.cli import Cli, cli
from tests.support.fake_stripe import FakeStripe, fake_stripe, signed_event
from tests.support.fake_stripe.checkout import completed_event, expired_event, sessions
from tests.support.staff_web import StaffWeb, page_text

__all__ = ["cli", "fake_stripe", "topup_world"]  # fixtures


def test_a_sponsor_starts_a_top_up_and_only_the_signed_webhook_credits_the_card_once(
    topup_world: TopUpWorld, fake_stripe: FakeStripe, cli: Cli, database_url: str, tmp_path: Path
) -> None:
    world = topup_world

    started = world.start(550, key="sponsor-1")
    again = world.start(550, key="sponsor-1")
    other = world.start(900, key="sponsor-1")

    assert started.status_code == 201, started.get_json()
    assert again.get_json() == started.get_json()
    assert_problem(other, 422, "idempotency-mismatch")
    topup = started.get_json()
    assert topup["status"] == "pending" and topup["checkout_url"].startswith(fake_stripe.url)
    [session] = sessions(fake_stripe)
    assert (session["amount_total"], session["currency"], session["mode"]) == (550, "gbp", "payment")
    assert session["metadata"]["topup_id"] == topup["topup_id"]
    assert session["success_url"].endswith("/my/add-money/confirming")
    assert world.client.get("/my/add-money/confirming").status_code == 200  # the redirect back
    assert world.topped_up() == 0

    paid = world.pay(fake_stripe)
    first, again = world.deliver(paid), world.deliver(paid)

    assert first.status_code == again.status_code == 200
    assert (first.get_json()["outcome"], again.get_json()["outcome"]) == ("applied", "duplicate")
    assert world.topped_up() == 550
    read = world.get(f"{TOPUPS}/{topup['topup_id']}", world.staff("auditor")).get_json()
    assert read["status"] == "completed"
    assert [entry.target for entry in world.staff_actions("topup.start")] == [world.card_number]
    world.assert_books_right()
    cli.environment(data_directory=tmp_path, database_url=database_url)
    assert cli("audit", "verify").exit_code == 0


def test_a_tampered_body_and_a_stale_signature_are_refused_and_an_unused_event_type_is_ignored(
    topup_world: TopUpWorld, fake_stripe: FakeStripe
) -> None:
    world = topup_world
    world.start(550)
    body, headers = world.pay(fake_stripe)
    tampered = body.replace(b'"amount_total": 550', b'"amount_total": 5000')
    stale = world.pay(fake_stripe, timestamp=int(time.time()) - 301)

    session = sessions(fake_stripe)[-1]
    other_amount = world.deliver(completed_event({**session, "amount_total": 5000}))
    assert other_amount.get_json()["detail"].startswith("the amount paid differs")  # signed, yet not ours
    for refused in (world.deliver((tampered, headers)), world.deliver(stale)):
        assert_problem(refused, 400, "invalid-signature")
    no_signature = world.client.post(WEBHOOK, data=body, content_type="application/json")
    assert_problem(no_signature, 400, "invalid-signature")

    assert world.topped_up() == 0
    assert world.deliver((body, headers)).get_json()["outcome"] == "applied"  # its id was not recorded
    assert world.topped_up() == 550
    unused = world.deliver(signed_event("customer.created", {"id": "cus_1", "object": "customer"}))
    assert unused.status_code == 200 and unused.get_json()["outcome"] == "ignored"
    world.assert_books_right()


def test_an_expired_session_credits_nothing_nor_counts_towards_the_cap(
    topup_world: TopUpWorld, fake_stripe: FakeStripe
) -> None:
    world = topup_world
    world.start(5000)
    session = sessions(fake_stripe)[-1]

    expired = world.deliver(expired_event(session))
    late = world.deliver(world.pay(fake_stripe))

    assert expired.get_json()["outcome"] == late.get_json()["outcome"] == "applied"
    assert late.get_json()["detail"].startswith("already expired")
    assert world.topped_up() == 0
    assert world.start(5000).status_code == world.start(3000).status_code == 201  # the cap skips it
    world.assert_books_right()


def test_the_scheme_rules_refuse_top_ups_before_stripe_is_asked_and_are_checked_when_set(
    topup_world: TopUpWorld, fake_stripe: FakeStripe
) -> None:
    world = topup_world

    assert_problem(world.start(550, scheme="plain"), 422, "topups-not-accepted")
    assert_problem(world.start(99), 422, "limit-exceeded")
    too_much = world.start(5001)
    assert_problem(too_much, 422, "limit-exceeded")
    assert "£50.00" in too_much.get_json()["detail"]
    assert world.start(5000).status_code == world.start(3000).status_code == 201
    over_the_cap = world.start(1000)  # £80.00 a month: £0.00 left
    assert_problem(over_the_cap, 422, "limit-exceeded")
    assert "£0.00 is left this month" in over_the_cap.get_json()["detail"]

    assert len(sessions(fake_stripe)) == 2
    a_month_later(world)
    assert world.start(1000).status_code == 201
    with pytest.raises(ValidationFailed, match="only schemes in pounds"):
        world.run(
            lambda uow: create_scheme(
                uow,
                slug="points",
                name="Points",
                unit=Unit.POINT,
                rules={"topups": {"accepted": True}},
                now=world.clock.now(),
                actor="test",
            )
        )
    upside_down = {"topups": {"accepted": True, "min_minor": 900, "max_minor": 100}}
    refused = world.post(
        "/api/v1/schemes",
        {"slug": "bad", "name": "Bad", "unit": "GBP", "rules": upside_down},
        world.staff("scheme_manager"),
    )
    assert_problem(refused, 422, "validation")
    assert "min_minor is above max_minor" in refused.get_json()["detail"]


def test_without_stripe_top_ups_say_so_plainly_and_the_rest_of_the_app_works(
    database_url: str, tmp_path: Path
) -> None:
    for world in topup_world_on(database_url, tmp_path, {}):
        refused = world.start(550)
        assert_problem(refused, 503, "stripe-not-configured")
        assert refused.get_json()["detail"] == NOT_CONFIGURED
        webhook = world.client.post(
            WEBHOOK, data=json.dumps({"id": "evt_1"}), content_type="application/json"
        )
        assert_problem(webhook, 503, "stripe-not-configured")
        assert world.get("/api/v1/schemes/wallet", world.staff("caseworker")).status_code == 200
        web = StaffWeb(world.app, world.clock)
        assert sign_in_with_date_of_birth(web, world.card_number, dt.date(2010, 1, 1)).status_code == 302
        assert "Adding money by card is not available at the moment" in page_text(web.get("/my/add-money"))
        assert "Add money to your card" in page_text(web.get("/my/"))  # the rest of the page is as ever
        world.assert_books_right()


def test_the_same_event_delivered_at_once_by_several_connections_credits_once(
    topup_world: TopUpWorld, fake_stripe: FakeStripe
) -> None:
    world = topup_world
    world.start(550)
    body, headers = world.pay(fake_stripe)
    outcomes: list[str] = []
    start = threading.Barrier(4)

    def deliver() -> None:
        client = world.app.test_client()
        start.wait()
        outcomes.append(client.post(WEBHOOK, data=body, headers=headers).get_json()["outcome"])

    threads = [threading.Thread(target=deliver) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(outcomes) == ["applied", "duplicate", "duplicate", "duplicate"]
    assert world.topped_up() == 550
    world.assert_books_right()
