"""The "Add money" pages: a resident on /my and a caseworker on the resident's page go to Stripe Checkout;
the money shows only after Stripe's signed webhook."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest

from api.app import create_app
from ledger.clock import FixedClock
from tests.integration.resident_page_support import sign_in_with_date_of_birth
from tests.integration.topup_support import TOPUP_RULES, TopUpWorld
from tests.support.fake_stripe import FakeStripe, fake_stripe, stripe_settings
from tests.support.fake_stripe.checkout import completed_event, sessions
from tests.support.staff_web import START, StaffWeb, page_text

__all__ = ["fake_stripe"]  # a fixture
BORN = dt.date(1975, 1, 15)


@pytest.fixture
def web(database_url: str, tmp_path: Path, fake_stripe: FakeStripe) -> Iterator[StaffWeb]:
    """The staff UI and resident pages with the fake Stripe configured."""
    clock = FixedClock(START)
    config = {"CLUBCARD_DATABASE_URL": database_url, "CLUBCARD_DATA_DIR": str(tmp_path), "CLOCK": clock}
    app = create_app({**config, **stripe_settings(fake_stripe)})
    yield StaffWeb(app, clock)
    app.extensions["clubcard"].engine.dispose()


def _member(web: StaffWeb) -> TopUpWorld:
    world = TopUpWorld(web.app, web.clock)
    world.wallet_scheme = world.scheme("wallet", "GBP", TOPUP_RULES)
    world.holder = world.resident((world.wallet_scheme,), born=BORN.isoformat())
    world.card_number, _ = world.card(world.holder)
    return world


def test_a_resident_adds_money_and_sees_it_once_stripe_confirms_the_payment(
    web: StaffWeb, fake_stripe: FakeStripe
) -> None:
    world = _member(web)

    assert sign_in_with_date_of_birth(web, world.card_number, BORN).status_code == 302
    assert "Add money to your card" in page_text(web.get("/my/"))
    shown = web.get("/my/add-money")
    form = page_text(shown)
    # The browser enforces form-action on the 303 the form answers with: Checkout's origin is allowed here.
    assert f"form-action 'self' {fake_stripe.url};" in shown.headers["Content-Security-Policy"]
    assert "form-action 'self';" in web.get("/my/").headers["Content-Security-Policy"]
    assert "wallet From £1.00 to £50.00 at a time (at most £80.00 a month)" in form

    wrong = web.post_form("/my/add-money", {"scheme": "wallet", "amount": "60"})
    assert "Amount must be between £1.00 and £50.00" in page_text(wrong)
    sent = web.post_form("/my/add-money", {"scheme": "wallet", "amount": "5.50"})

    assert sent.status_code == 303 and sent.headers["Location"] == sessions(fake_stripe)[-1]["url"]
    assert "We are confirming your payment" in page_text(web.get("/my/add-money/confirming"))
    assert world.topped_up() == 0
    world.deliver(completed_event(sessions(fake_stripe)[-1]))
    assert "£5.50" in page_text(web.get("/my/"))
    assert world.staff_actions("topup.start") == []  # a resident is not staff


def test_a_caseworker_starts_a_top_up_for_a_resident_and_the_staff_log_says_who_asked(
    web: StaffWeb, fake_stripe: FakeStripe
) -> None:
    world = _member(web)
    web.sign_in("caseworker")
    assert "Add money to their card" in page_text(web.get(f"/admin/residents/{world.holder}"))
    path = f"/admin/residents/{world.holder}/add-money"

    sent = web.post_form(
        path,
        {
            "scheme": "wallet",
            "amount": "20",
            "asked_by": "someone-else",
            "third_party": "Sam Patel, aunt",
            "reason": "a birthday",
        },
    )

    assert sent.status_code == 303, page_text(sent)
    assert sessions(fake_stripe)[-1]["amount_total"] == 2000
    [entry] = world.staff_actions("topup.start")
    assert entry.target == world.card_number and entry.detail["on_behalf"]["asked_by"] == "Sam Patel, aunt"
    assert "Do not pay again" in page_text(web.get(f"{path}/confirming"))
    web.new_client()
    web.sign_in("auditor")
    assert web.get(path).status_code == 403
