"""A street vote round from proposals to payment in a real browser: a scheme manager opens a round on Oak
Street's pot and adds two proposals, a household on the street signs in on its phone and votes, the manager
closes the round, and the household sees the winner and what the pot paid. axe-core and the CSP are clean on
every page; a screenshot of each is kept in tests/artifacts/."""

from __future__ import annotations

import datetime as dt

import pytest
from playwright.sync_api import Browser, Page, expect

from ledger.rules import local_date
from tests.e2e.browser import ConsoleLog, save_screenshot, serious_accessibility_violations
from tests.e2e.staff_server import StaffServer, staff_server_fixture
from tests.integration.street_pot_support import HOUSEHOLD_BORN, POT_MINOR, Street, street
from tests.support.api import World

pytestmark = pytest.mark.browser
__all__ = ["staff_server_fixture"]


def _checked(page: Page, name: str, console: ConsoleLog) -> None:
    assert serious_accessibility_violations(page) == []
    assert console.csp_violations() == []
    save_screenshot(page, f"street-pot-{name}")


def _staff_open_a_round_with_two_proposals(page: Page, server: StaffServer, console: ConsoleLog) -> None:
    server.sign_in(page, "scheme_manager")
    page.get_by_role("link", name="Street pots").first.click()
    _checked(page, "list", console)
    page.get_by_role("link", name="Oak Street").click()
    closes = local_date(server.context.clock.now(), server.context.clock.zone) + dt.timedelta(days=7)
    page.get_by_label("Day").fill(str(closes.day))
    page.get_by_label("Month").fill(str(closes.month))
    page.get_by_label("Year").fill(str(closes.year))
    page.get_by_role("button", name="Open a round of voting").click()
    expect(page.get_by_text("The round is open")).to_be_visible()
    for title, cost in (("Two street trees", "600"), ("Extra recycling bins", "200")):
        page.get_by_label("What is proposed").fill(title)
        page.get_by_label("Cost").fill(cost)
        page.get_by_label("Delivered by").select_option(label="Parks and Gardens Team")
        page.get_by_role("button", name="Add the proposal").click()
        expect(page.get_by_text(f"“{title}” ({cost} points) is on the ballot")).to_be_visible()
    _checked(page, "open-round", console)


def _household_votes(phone: Page, server: StaffServer, oak: Street, console: ConsoleLog) -> None:
    phone.goto(f"{server.base_url}/my/sign-in/date-of-birth")
    phone.get_by_label("Card number").fill(oak.cards[0][0])
    phone.get_by_label("Day").fill(str(HOUSEHOLD_BORN.day))
    phone.get_by_label("Month").fill(str(HOUSEHOLD_BORN.month))
    phone.get_by_label("Year").fill(str(HOUSEHOLD_BORN.year))
    phone.get_by_role("button", name="Continue").click()
    phone.goto(f"{server.base_url}/my/")
    phone.get_by_role("link", name="Your street's pot").click()
    expect(phone.get_by_role("heading", name="Oak Street")).to_be_visible()
    phone.get_by_label("Extra recycling bins").check()
    phone.get_by_role("button", name="Send your household's vote").click()
    expect(phone.get_by_text("Your household's vote is counted")).to_be_visible()
    expect(phone.get_by_text("1 of 3 households have voted so far")).to_be_visible()
    _checked(phone, "voted", console)


def test_a_street_vote_round_from_proposals_to_payment(
    staff_server: StaffServer, browser: Browser, browser_console: ConsoleLog
) -> None:
    oak = street(World(staff_server.server.app, staff_server.context.clock))  # type: ignore[arg-type]
    staff = browser.new_context().new_page()
    phone = browser.new_context(viewport={"width": 375, "height": 667}).new_page()
    browser_console.attach(staff)
    browser_console.attach(phone)

    _staff_open_a_round_with_two_proposals(staff, staff_server, browser_console)
    _household_votes(phone, staff_server, oak, browser_console)
    staff.reload()
    staff.get_by_role("button", name="Close voting and commission the winner").click()
    expect(staff.get_by_text("The pot paid Parks and Gardens Team 200 points")).to_be_visible()
    _checked(staff, "closed", browser_console)
    phone.reload()

    expect(phone.get_by_text("The winner was Extra recycling bins")).to_be_visible()
    expect(phone.get_by_text("The pot paid Parks and Gardens Team 200 points")).to_be_visible()
    _checked(phone, "result", browser_console)
    assert oak.pot() == POT_MINOR - 200
