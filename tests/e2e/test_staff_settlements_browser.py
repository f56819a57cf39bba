"""Settlement in a real browser: a finance user previews and makes a batch, sees no approve button on it
and is refused (403) when posting the approval anyway; a second finance user approves it, and the payment
file is offered. axe-core and the CSP are clean on every page; each page is kept as a screenshot."""

from __future__ import annotations

import datetime as dt
import re

import pyotp
import pytest
from playwright.sync_api import Browser, Page, expect

from ledger.usecases import flows
from ledger.usecases.settlements_payees import clean_payee, save_payee
from ledger.usecases.staff_accounts import create_staff_user
from tests.e2e.browser import ConsoleLog, save_screenshot, serious_accessibility_violations
from tests.e2e.staff_seeds import leisure_scheme_at_a_library
from tests.e2e.staff_server import PASSWORD, StaffServer, staff_server_fixture  # noqa: F401

pytestmark = pytest.mark.browser


def _seed(server: StaffServer) -> dt.date:
    """Yesterday, a library took £7.50 of leisure vouchers; its bank details are on file. Returns the day."""
    context = server.context
    yesterday = context.clock.now() - dt.timedelta(days=1)
    made = leisure_scheme_at_a_library(context, funded_minor=5_000, at=yesterday)
    scheme, outlet, payable = made.scheme, made.outlet, made.payable_account_id
    context.write(
        lambda uow: flows.issue(
            uow, scheme=scheme, owner_id="r1", amount_minor=2_000, now=yesterday, actor="t", key="i"
        )
    )
    context.write(
        lambda uow: flows.spend(
            uow, scheme=scheme, owner_id="r1", amount_minor=750, categories=None, payable_account_id=payable,
            outlet_id=outlet["id"], now=yesterday, actor="device:t", key="s",
        )
    )  # fmt: skip
    payee = clean_payee(
        outlet["id"], connected_account_id="", sort_code="309430", account_number="12345678",
        account_name="Castle Library",
    )  # fmt: skip
    context.write(lambda uow: save_payee(uow, payee=payee, now=yesterday, actor="t"))
    return yesterday.astimezone(context.clock.zone).date()


def _checked(page: Page, console: ConsoleLog, name: str) -> None:
    assert serious_accessibility_violations(page) == [], name
    assert console.csp_violations() == [] and console.errors() == [], name
    save_screenshot(page, name)


def _sign_in_second_finance_user(server: StaffServer, page: Page) -> None:
    made = server.context.write(
        lambda uow: create_staff_user(
            uow, username="finance-two", display_name="Second finance", role="finance", password=PASSWORD,
            now=server.context.clock.now(),
        )
    )  # fmt: skip
    page.goto(f"{server.base_url}/admin/sign-in")
    page.get_by_label("Username").fill("finance-two")
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Continue").click()
    page.get_by_label("Code", exact=True).fill(pyotp.TOTP(made.totp_secret).now())
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{server.base_url}/admin/**")


def test_the_creator_cannot_approve_their_batch_and_a_second_finance_user_does(
    page: Page, browser: Browser, staff_server: StaffServer, browser_console: ConsoleLog
) -> None:
    day = _seed(staff_server)
    staff_server.sign_in(page, "finance")
    page.get_by_role("link", name="Settlements").first.click()
    expect(page.get_by_text("Stripe is not set up")).to_be_visible()
    _checked(page, browser_console, "settlements-index")
    page.get_by_role("button", name="Make a settlement batch").click()
    page.get_by_label("Day").fill(str(day.day))
    page.get_by_label("Month").fill(str(day.month))
    page.get_by_label("Year").fill(str(day.year))
    page.get_by_role("button", name="Preview the batch").click()
    expect(page.get_by_role("cell", name="Castle Library")).to_be_visible()
    expect(page.get_by_text("To pay: £7.50 to 1 outlets")).to_be_visible()
    _checked(page, browser_console, "settlements-preview")
    page.get_by_role("button", name="Create the batch").click()
    expect(page.get_by_role("heading", name="Settlement batch 1")).to_be_visible()
    expect(page.get_by_text("You made this batch, so another finance user must approve it")).to_be_visible()
    expect(page.get_by_role("button", name="Approve and pay")).to_have_count(0)
    _checked(page, browser_console, "settlements-batch-creator")
    token = page.locator('input[name="csrf_token"]').first.get_attribute("value")
    refused = page.request.post(f"{page.url}/approve", form={"csrf_token": token or "", "request_key": "k"})
    assert refused.status == 403

    second = browser.new_context().new_page()
    browser_console.attach(second)
    batch_url = page.url
    _sign_in_second_finance_user(staff_server, second)
    second.goto(batch_url)
    second.get_by_role("button", name="Approve and pay").click()
    expect(second.get_by_text(re.compile(r"Batch 1 is approved: £7\.50"))).to_be_visible()
    expect(second.get_by_role("link", name="Download the payment file (CSV)")).to_be_visible()
    expect(second.get_by_role("button", name="Confirm the bank paid this file")).to_be_visible()
    _checked(second, browser_console, "settlements-batch-approved")
    second.context.close()
