"""Signing in to the staff UI in a real browser: password, TOTP, a wrong code refused, sign-out everywhere."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.e2e.browser import ConsoleLog, save_screenshot, serious_accessibility_violations
from tests.e2e.staff_server import PASSWORD, StaffServer, staff_server_fixture  # noqa: F401

pytestmark = pytest.mark.browser


def test_a_caseworker_enrols_a_second_factor_and_signs_in(
    page: Page, staff_server: StaffServer, browser_console: ConsoleLog
) -> None:
    account = staff_server.account("caseworker")
    page.goto(f"{staff_server.base_url}/admin/")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    assert serious_accessibility_violations(page) == []
    save_screenshot(page, "staff-sign-in")

    page.get_by_label("Username").fill("caseworker")
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Continue").click()

    expect(page.get_by_role("heading", name="Set up your authenticator app")).to_be_visible()
    expect(page.get_by_text(account.totp_secret)).to_be_visible()
    expect(page.get_by_role("img", name="QR code for your authenticator app")).to_be_visible()
    assert serious_accessibility_violations(page) == []
    save_screenshot(page, "staff-enrol-totp")

    page.get_by_label("Code", exact=True).fill(staff_server.current_code("caseworker"))
    page.get_by_role("button", name="Sign in").click()

    expect(page.get_by_text("Signed in as Test caseworker")).to_be_visible()
    expect(page.get_by_role("heading", name="Start")).to_be_visible()
    assert serious_accessibility_violations(page) == []
    assert browser_console.csp_violations() == []
    assert browser_console.errors() == []
    save_screenshot(page, "staff-dashboard")


def test_a_wrong_code_is_refused_and_the_error_summary_says_so(page: Page, staff_server: StaffServer) -> None:
    staff_server.account("auditor")
    page.goto(f"{staff_server.base_url}/admin/sign-in")
    page.get_by_label("Username").fill("auditor")
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Continue").click()
    right = staff_server.current_code("auditor")
    page.get_by_label("Code", exact=True).fill("123456" if right != "123456" else "654321")
    page.get_by_role("button", name="Sign in").click()

    summary = page.locator(".govuk-error-summary")
    expect(summary).to_contain_text("That code is wrong or was already used")
    assert serious_accessibility_violations(page) == []
    save_screenshot(page, "staff-wrong-code")
    page.goto(f"{staff_server.base_url}/admin/")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()


def test_signing_out_everywhere_signs_out_the_other_browser(
    browser: Browser, page: Page, staff_server: StaffServer
) -> None:
    staff_server.sign_in(page, "admin")
    other = browser.new_context().new_page()
    try:
        other.goto(f"{staff_server.base_url}/admin/sign-in")
        other.get_by_label("Username").fill("admin")
        other.get_by_label("Password", exact=True).fill(PASSWORD)
        other.get_by_role("button", name="Continue").click()
        # A TOTP code works once, so the second computer signs in with a recovery code.
        code = staff_server.accounts["admin"].recovery_codes[0]
        other.get_by_label("Code", exact=True).fill(code)
        other.get_by_role("button", name="Sign in").click()
        expect(other.get_by_text("Signed in as Test admin")).to_be_visible()

        page.goto(f"{staff_server.base_url}/admin/account")
        page.get_by_role("button", name="Sign out everywhere").click()
        expect(page.get_by_text("You have been signed out everywhere.")).to_be_visible()

        other.goto(f"{staff_server.base_url}/admin/")
        expect(other.get_by_role("heading", name="Sign in")).to_be_visible()
    finally:
        other.context.close()
