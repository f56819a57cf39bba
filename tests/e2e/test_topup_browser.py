"""A resident adds money in a real browser: the form on /my, Stripe Checkout (the fake's page, stood in by
the browser), back to a page that says the payment is being confirmed, and the money on the card only once
Stripe's signed webhook arrives. axe-core clean and the CSP unbroken on our pages."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, Route, expect
from werkzeug.serving import make_server

from api.app import create_app
from ledger.clock import FixedClock
from tests.e2e.browser import ConsoleLog, save_screenshot, serious_accessibility_violations
from tests.integration.topup_support import TOPUP_RULES, TopUpWorld
from tests.support.fake_stripe import FakeStripe, fake_stripe, stripe_settings
from tests.support.fake_stripe.checkout import completed_event, sessions
from tests.support.staff_web import START

pytestmark = pytest.mark.browser
__all__ = ["fake_stripe"]  # a fixture
BORN = ("15", "1", "1975")


@pytest.fixture(name="world_server")
def world_server_fixture(tmp_path: Path, fake_stripe: FakeStripe) -> Iterator[tuple[str, TopUpWorld]]:
    """The app over real HTTP on 127.0.0.1 with the fake Stripe, and a member of a scheme taking top-ups."""
    clock = FixedClock(START)
    config = {
        "CLUBCARD_DATA_DIR": str(tmp_path),
        "CLUBCARD_DATABASE_URL": f"sqlite:///{tmp_path}/db",
        "CLOCK": clock,
    }
    app = create_app({**config, **stripe_settings(fake_stripe)})
    world = TopUpWorld(app, clock)
    world.wallet_scheme = world.scheme("wallet", "GBP", TOPUP_RULES)
    world.holder = world.resident((world.wallet_scheme,), born="1975-01-15")
    world.card_number, _ = world.card(world.holder)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", world
    finally:
        server.shutdown()
        thread.join(timeout=10)
        app.extensions["clubcard"].engine.dispose()


def _checked(page: Page, name: str, console: ConsoleLog) -> None:
    assert serious_accessibility_violations(page) == []
    assert console.csp_violations() == []
    save_screenshot(page, f"topup-{name}")


def _stand_in_for_checkout(page: Page, base_url: str, fake: FakeStripe) -> None:
    """Show Stripe's hosted page where our form's 303 leads: the amount and a way back (no card typed).

    Playwright does not route the target of a redirect, so the form's answer is fetched as it is, checked to
    be the 303 to the session's Checkout address, and the stand-in page is shown in its place."""

    def checkout(route: Route) -> None:
        answer = route.fetch(max_redirects=0)
        if answer.status != 303:
            route.fulfill(response=answer)
            return
        session = sessions(fake)[-1]
        assert answer.headers["location"] == session["url"] and session["url"].startswith(fake.url)
        pounds = f"£{session['amount_total'] / 100:.2f}"
        body = (
            f"<!doctype html><html lang='en'><meta charset='utf-8'><title>Pay</title><h1>Pay {pounds}</h1>"
            f"<a href='{session['success_url']}'>Pay and return</a></html>"
        )
        route.fulfill(status=200, content_type="text/html", body=body)

    page.route(f"{base_url}/my/add-money", checkout)


def test_a_resident_adds_money_and_it_shows_once_stripe_confirms_it(
    browser: Browser,
    browser_console: ConsoleLog,
    world_server: tuple[str, TopUpWorld],
    fake_stripe: FakeStripe,
) -> None:
    base_url, world = world_server
    context = browser.new_context(viewport={"width": 375, "height": 667})
    page = context.new_page()
    browser_console.attach(page)
    _stand_in_for_checkout(page, base_url, fake_stripe)
    page.goto(f"{base_url}/my/sign-in/date-of-birth")
    page.get_by_label("Card number").fill(world.card_number)
    for box, value in zip(("Day", "Month", "Year"), BORN, strict=True):
        page.get_by_label(box).fill(value)
    page.get_by_role("button", name="Continue").click()
    page.goto(f"{base_url}/my/")

    page.get_by_role("link", name="Add money to your card").click()
    expect(page.get_by_role("heading", name="Add money to your card")).to_be_visible()
    expect(page.get_by_text("From £1.00 to £50.00 at a time (at most £80.00 a month)")).to_be_visible()
    page.get_by_label("Amount").fill("75")
    page.get_by_role("button", name="Continue to payment").click()
    expect(page.locator(".govuk-error-summary")).to_contain_text("Amount must be between £1.00 and £50.00")
    _checked(page, "add-money-error", browser_console)
    page.get_by_label("Amount").fill("5.50")
    page.get_by_role("button", name="Continue to payment").click()

    expect(page.get_by_role("heading", name="Pay £5.50")).to_be_visible()
    page.get_by_role("link", name="Pay and return").click()
    expect(page.get_by_role("heading", name="We are confirming your payment")).to_be_visible()
    _checked(page, "confirming", browser_console)
    page.get_by_role("link", name="Go to your card").click()
    expect(page.locator("#scheme-wallet")).to_contain_text("£0.00")  # the redirect alone credits nothing
    world.deliver(completed_event(sessions(fake_stripe)[-1]))
    page.reload()
    expect(page.locator("#scheme-wallet")).to_contain_text("£5.50")
    _checked(page, "credited", browser_console)
    assert browser_console.errors() == []
    context.close()
