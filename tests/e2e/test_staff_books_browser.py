"""The books, the staff log and the outlets in a real browser: an auditor signs in with password and TOTP and
reads the trial balance, drills from the journal into a transaction and an account, checks the checkpoints,
with no write control anywhere; an admin registers an outlet, creates a kiosk's device key whose QR code
configures a kiosk, and revokes it. axe-core and the CSP are clean on every page; every page is kept as a
screenshot in tests/artifacts/."""

from __future__ import annotations

import io
import json
from typing import Any

import httpx
import pytest
import zxingcpp
from PIL import Image
from playwright.sync_api import Page, expect

from ledger.usecases import flows
from ledger.usecases.checkpoints import seal
from tests.e2e.browser import ConsoleLog, save_screenshot, serious_accessibility_violations
from tests.e2e.staff_seeds import leisure_scheme_at_a_library
from tests.e2e.staff_server import StaffServer, staff_server_fixture  # noqa: F401

pytestmark = pytest.mark.browser
SIGN_OUT_FORMS = 'form[method="post"]:not([action$="/sign-out"]):not([action$="/sign-out-everywhere"])'


def _seed(server: StaffServer) -> dict[str, Any]:
    """A funded scheme, an issue, a spend at an outlet, all sealed under a signed checkpoint."""
    context = server.context
    now = context.clock.now
    made = leisure_scheme_at_a_library(context, funded_minor=50_000, at=now())
    scheme, outlet, payable = made.scheme, made.outlet, made.payable_account_id
    context.write(
        lambda uow: flows.issue(
            uow, scheme=scheme, owner_id="r1", amount_minor=2_000, now=now(), actor="t", key="i"
        )
    )
    spend = context.write(
        lambda uow: flows.spend(
            uow, scheme=scheme, owner_id="r1", amount_minor=750, categories=None, payable_account_id=payable,
            outlet_id=outlet["id"], now=now(), actor="device:t", key="s",
        )
    )  # fmt: skip
    context.write(lambda uow: seal(uow, context.ledger_key, now()))
    return {"spend_id": spend.transaction_id}


def _checked(page: Page, console: ConsoleLog, name: str, *, auditor: bool = False) -> None:
    """axe-core finds nothing serious, the CSP refused nothing, the page is kept; an auditor's page has no
    form that changes anything."""
    assert serious_accessibility_violations(page) == [], name
    assert console.csp_violations() == [] and console.errors() == [], name
    if auditor:
        assert page.locator(SIGN_OUT_FORMS).count() == 0, name
    save_screenshot(page, name)


def test_an_auditor_reads_the_trial_balance_the_journal_down_to_a_transaction_and_the_checkpoints(
    page: Page, staff_server: StaffServer, browser_console: ConsoleLog
) -> None:
    seeded = _seed(staff_server)
    staff_server.sign_in(page, "auditor")
    _checked(page, browser_console, "books-auditor-start", auditor=True)

    page.get_by_role("link", name="Books").first.click()
    _checked(page, browser_console, "books-index", auditor=True)
    page.get_by_role("link", name="Trial balance").click()
    expect(page.get_by_role("heading", name="As of")).to_be_visible()
    expect(page.locator("table").first).to_contain_text("Yes: totals zero")
    expect(page.get_by_role("link", name="scheme:leisure:budget")).to_be_visible()
    _checked(page, browser_console, "books-trial-balance", auditor=True)
    page.get_by_label("Day").fill("1")
    page.get_by_label("Month").fill("1")
    page.get_by_label("Year").fill("2020")
    page.get_by_role("button", name="Show the trial balance").click()
    expect(page.get_by_text("No account had a balance at this instant.")).to_be_visible()
    _checked(page, browser_console, "books-trial-balance-in-2020", auditor=True)

    page.goto(f"{staff_server.base_url}/admin/books/journal")
    page.get_by_text("Filter the journal").first.click()
    page.get_by_label("Kind").select_option(label="Redeem")
    page.get_by_role("button", name="Filter the journal").click()
    expect(page.get_by_role("cell", name="Castle Library")).to_be_visible()
    _checked(page, browser_console, "books-journal-filtered", auditor=True)
    page.get_by_role("link", name=f"(transaction {seeded['spend_id']})").click()
    expect(page.get_by_text("Matches its contents")).to_be_visible()
    expect(page.get_by_role("table")).to_contain_text("-£7.50")
    _checked(page, browser_console, "books-transaction", auditor=True)
    page.get_by_role("link", name="wallet:r1:leisure:main").click()
    expect(page.get_by_role("table")).to_contain_text("£12.50")  # the balance after the spend
    _checked(page, browser_console, "books-account-history", auditor=True)

    page.goto(f"{staff_server.base_url}/admin/books/checkpoints")
    expect(page.locator(".govuk-tag", has_text="Verified")).to_be_visible()
    published = httpx.get(f"{staff_server.base_url}/.well-known/clubcard-ledger").json()
    assert json.loads(page.locator("#published-head").inner_text()) == published
    _checked(page, browser_console, "books-checkpoints", auditor=True)

    page.get_by_role("link", name="Staff log").first.click()
    expect(page.get_by_role("cell", name="staff.sign-in")).to_be_visible()
    _checked(page, browser_console, "staff-log", auditor=True)


def _qr_text(page: Page) -> str:
    picture = Image.open(io.BytesIO(page.locator(".clubcard-qr svg").screenshot()))
    (found,) = zxingcpp.read_barcodes(picture, formats=zxingcpp.BarcodeFormat.QRCode)
    return str(found.text)


def test_an_admin_registers_an_outlet_and_creates_a_device_key_whose_qr_configures_a_kiosk_then_revokes_it(
    page: Page, staff_server: StaffServer, browser_console: ConsoleLog
) -> None:
    _seed(staff_server)
    staff_server.sign_in(page, "admin")
    page.get_by_role("link", name="Outlets and kiosks").first.click()
    _checked(page, browser_console, "outlets-index")
    page.get_by_role("button", name="Register an outlet").click()
    page.get_by_role("button", name="Save the outlet").click()
    expect(page.locator(".govuk-error-summary")).to_contain_text("Enter the outlet's name")
    _checked(page, browser_console, "outlets-new-with-a-mistake")
    page.get_by_label("Name").fill("Riverside Leisure Centre")
    page.get_by_label("Categories").fill("leisure, music-tuition")
    page.get_by_label("Leisure vouchers").check()
    page.get_by_role("button", name="Save the outlet").click()
    expect(page.get_by_text("Riverside Leisure Centre is registered.")).to_be_visible()
    _checked(page, browser_console, "outlets-outlet")
    page.get_by_role("button", name="Change the outlet").click()
    _checked(page, browser_console, "outlets-edit")
    page.get_by_role("link", name="Cancel").click()

    page.get_by_role("button", name="Create a device key").click()
    _checked(page, browser_console, "outlets-device-new")
    page.get_by_label("Where is the kiosk?").fill("front desk")
    page.get_by_role("button", name="Create device key").click()
    expect(
        page.get_by_role("img", name="QR code holding the kiosk's API address and device key")
    ).to_be_visible()
    _checked(page, browser_console, "outlets-device-created")
    configuration = json.loads(_qr_text(page))
    assert configuration["clubcard_kiosk"] == 1 and configuration["api"] == staff_server.base_url
    assert configuration["device_key"] == page.locator("#device-key").inner_text()
    kiosk = {"Authorization": f"Bearer {configuration['device_key']}"}
    assert httpx.get(f"{configuration['api']}/api/v1/offline-profile", headers=kiosk).status_code == 200

    page.get_by_role("link", name="Back to Riverside Leisure Centre").click()
    page.get_by_role("link", name="Revoke the key for front desk").click()
    expect(
        page.get_by_role("heading", name="Are you sure you want to revoke the key for front desk?")
    ).to_be_visible()
    _checked(page, browser_console, "outlets-device-revoke")
    page.get_by_role("button", name="Revoke the key").click()
    expect(page.get_by_text("The device key for front desk is revoked")).to_be_visible()
    _checked(page, browser_console, "outlets-device-revoked")
    assert httpx.get(f"{configuration['api']}/api/v1/offline-profile", headers=kiosk).status_code == 401
