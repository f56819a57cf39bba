"""The resident's page in a real browser on a phone-sized screen (375 by 667): a first visit with the date of
birth, a PIN chosen and used, wrong PINs throttled, the balance and history right, and a lost card blocked so
a kiosk then gets card-blocked. axe-core clean and the CSP unbroken on every page, a screenshot of each."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect
from werkzeug.serving import make_server

from api.app import create_app
from ledger.clock import FixedClock
from tests.e2e.browser import ConsoleLog, save_screenshot, serious_accessibility_violations
from tests.integration.resident_page_support import BORN, Household, household
from tests.support.staff_web import START, StaffWeb

pytestmark = pytest.mark.browser
PROBLEM = "https://clubcard.example/problems/"
PIN = "4827"


class ResidentServer:
    """The app over real HTTP on 127.0.0.1 with one resident's world in it."""

    def __init__(self, base_url: str, home: Household) -> None:
        self.base_url = base_url
        self.home = home


@pytest.fixture(name="resident_server")
def resident_server_fixture(tmp_path: Path) -> Iterator[ResidentServer]:
    """A fresh SQLite database, a fixed clock (so expiry dates are known), a server thread."""
    clock = FixedClock(START)
    app = create_app(
        {
            "CLUBCARD_DATA_DIR": str(tmp_path),
            "CLUBCARD_DATABASE_URL": f"sqlite:///{tmp_path}/db",
            "CLOCK": clock,
        }
    )
    home = household(StaffWeb(app, clock))
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield ResidentServer(f"http://127.0.0.1:{server.server_port}", home)
    finally:
        server.shutdown()
        thread.join(timeout=10)
        app.extensions["clubcard"].engine.dispose()


@pytest.fixture(name="phone")
def phone_fixture(browser: Browser, browser_console: ConsoleLog) -> Iterator[Page]:
    """A page the size of a small phone."""
    context = browser.new_context(viewport={"width": 375, "height": 667})
    page = context.new_page()
    browser_console.attach(page)
    try:
        yield page
    finally:
        context.close()


def _checked(page: Page, name: str, console: ConsoleLog) -> None:
    assert serious_accessibility_violations(page) == []
    assert console.csp_violations() == []
    save_screenshot(page, f"resident-{name}")


def _first_visit(page: Page, server: ResidentServer, console: ConsoleLog) -> None:
    page.goto(f"{server.base_url}/my/")
    expect(page.get_by_role("heading", name="Check your card")).to_be_visible()
    _checked(page, "sign-in", console)
    page.get_by_role("link", name="Check your card with your date of birth").click()
    page.get_by_label("Card number").fill(server.home.card_number)
    page.get_by_label("Day").fill(str(BORN.day))
    page.get_by_label("Month").fill(str(BORN.month))
    page.get_by_label("Year").fill(str(BORN.year))
    _checked(page, "sign-in-date-of-birth", console)
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("heading", name="Choose a PIN")).to_be_visible()
    page.get_by_label("New PIN", exact=True).fill(PIN)
    page.get_by_label("Type your new PIN again").fill(PIN)
    _checked(page, "choose-pin", console)
    page.get_by_role("button", name="Save PIN").click()
    expect(page.get_by_text("Your PIN is saved")).to_be_visible()
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_text("You have signed out.")).to_be_visible()


def _sign_in_with_pin(page: Page, server: ResidentServer, pin: str) -> None:
    page.goto(f"{server.base_url}/my/sign-in")
    page.get_by_label("Card number").fill(server.home.card_number)
    page.get_by_label("PIN", exact=True).fill(pin)
    page.get_by_role("button", name="Sign in").click()


def test_a_resident_signs_in_with_a_pin_and_sees_their_balance_and_history(
    phone: Page, resident_server: ResidentServer, browser_console: ConsoleLog
) -> None:
    _first_visit(phone, resident_server, browser_console)

    _sign_in_with_pin(phone, resident_server, PIN)

    expect(phone.get_by_role("heading", name="Your card")).to_be_visible()
    leisure = phone.locator("#scheme-leisure")
    expect(leisure).to_contain_text("£15.50")
    expect(leisure).to_contain_text("£15.50 on 2 December 2026")
    expect(leisure).to_contain_text("Northbank Pool")
    bank = phone.locator("#scheme-time-bank")
    expect(bank).to_contain_text("2 h 30 min")
    expect(bank).to_contain_text("Overdraft left")
    history = phone.locator("table")
    expect(history).to_contain_text("Spent at Northbank Pool")
    expect(history).to_contain_text("-£4.50")
    _checked(phone, "your-card", browser_console)
    assert browser_console.errors() == []


def test_wrong_pins_are_refused_then_throttled(
    phone: Page, resident_server: ResidentServer, browser_console: ConsoleLog
) -> None:
    _first_visit(phone, resident_server, browser_console)

    _sign_in_with_pin(phone, resident_server, "9051")
    expect(phone.locator(".govuk-error-summary")).to_contain_text("The card number or PIN is wrong")
    _checked(phone, "wrong-pin", browser_console)
    for guess in ("9052", "9053", "9054", "9055"):
        _sign_in_with_pin(phone, resident_server, guess)
    _sign_in_with_pin(phone, resident_server, PIN)

    expect(phone.get_by_role("heading", name="Too many attempts")).to_be_visible()
    _checked(phone, "too-many-attempts", browser_console)


def test_a_lost_card_is_blocked_and_a_kiosk_then_gets_card_blocked(
    phone: Page, resident_server: ResidentServer, browser_console: ConsoleLog
) -> None:
    home = resident_server.home
    _first_visit(phone, resident_server, browser_console)
    _sign_in_with_pin(phone, resident_server, PIN)

    phone.get_by_role("link", name="I've lost my card").click()
    expect(phone.get_by_role("heading", name="Report your card lost or stolen")).to_be_visible()
    _checked(phone, "lost-card", browser_console)
    phone.get_by_role("button", name="Block my card").click()

    expect(phone.get_by_role("heading", name="Your card is blocked")).to_be_visible()
    expect(phone.get_by_text("Your balance is safe.")).to_be_visible()
    _checked(phone, "card-blocked", browser_console)
    scanned = home.world.get(f"/api/v1/cards/{home.card_token}/entitlements", home.pool_device)
    assert scanned.status_code == 403 and scanned.get_json()["type"] == PROBLEM + "card-blocked"
    _sign_in_with_pin(phone, resident_server, PIN)
    expect(phone.get_by_role("heading", name="This card has been blocked")).to_be_visible()
    _checked(phone, "blocked-card-sign-in", browser_console)
