"""Schemes, bulk issuance, expiry and offline shortfalls in a real browser: a scheme manager signs in with
password and TOTP and creates a scheme (a mistake first, named in the error summary, then correctly);
finance funds it in pounds; the scheme manager runs a bulk issuance and watches the job's page refresh
itself to the end, then downloads the refused members; expiry runs with its report; a shortfall is
resolved with a note. axe-core and the CSP are clean on every page; every page is kept as a screenshot."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from clubcard.jobs import JobRunner
from ledger.units import Unit
from ledger.usecases import flows
from ledger.usecases.api_keys import create_key
from ledger.usecases.cards import issue_card
from ledger.usecases.common import new_id
from ledger.usecases.outlets import create_outlet
from ledger.usecases.schemes import create_scheme
from tests.e2e.browser import ConsoleLog, save_screenshot, serious_accessibility_violations
from tests.e2e.staff_server import StaffServer, staff_server_fixture  # noqa: F401

pytestmark = pytest.mark.browser
TEENS = 12


def _checked(page: Page, console: ConsoleLog, name: str) -> None:
    """axe-core finds nothing serious, the CSP refused nothing, and the page is kept as a screenshot."""
    assert serious_accessibility_violations(page) == [], name
    assert console.csp_violations() == [] and console.errors() == [], name
    save_screenshot(page, f"staff-schemes-{name}")


def _members(server: StaffServer, slug: str) -> None:
    """Twelve teenagers in Riverside and one adult, all members of the scheme."""
    now = server.context.clock.now()

    def enrol(uow: Any, born: str) -> None:
        scheme = uow.schemes.get(slug=slug)
        resident_id = new_id()
        details = {"name": "Member", "date_of_birth": born, "postcode": "AB1 2CD", "ward": "Riverside"}
        uow.people.add_resident(id=resident_id, kind="person", details={**details, "contact": None}, now=now)
        uow.people.add_membership(
            resident_id=resident_id,
            scheme_id=scheme["id"],
            collective_id=None,
            referral=None,
            actor="t",
            now=now,
        )

    for born in ["2011-05-01"] * TEENS + ["1980-01-01"]:
        server.context.write(lambda uow, born=born: enrol(uow, born))


@pytest.fixture
def job_runner(staff_server: StaffServer) -> Iterator[JobRunner]:
    """A job runner over the server's database, as `clubcard serve` runs one; started by the test."""
    runner = JobRunner(staff_server.context.uow_factory, staff_server.context.clock, poll_seconds=0.2)
    yield runner
    runner.stopping.set()


def _new_page(browser: Browser, console: ConsoleLog) -> Page:
    """Another person's browser: its own cookies, its console recorded."""
    other = browser.new_context().new_page()
    console.attach(other)
    return other


def test_a_scheme_is_created_after_a_mistake_funded_in_pounds_and_paid_to_its_members_in_bulk(
    page: Page,
    browser: Browser,
    staff_server: StaffServer,
    browser_console: ConsoleLog,
    job_runner: JobRunner,
) -> None:
    staff_server.sign_in(page, "scheme_manager")
    page.get_by_role("link", name="Schemes").first.click()
    _checked(page, browser_console, "list-empty")
    page.get_by_role("button", name="Create a scheme").click()
    page.get_by_label("Name", exact=True).fill("Leisure for teens")
    page.get_by_label("Short name").fill("teen-leisure")
    page.get_by_label("Pounds and pence (£)").check()
    page.get_by_label("Youngest age").fill("13")
    page.get_by_label("Oldest age").fill("19")
    page.get_by_label("A recurring allowance, paid to every member each period").check()
    page.get_by_label("Standard amount", exact=True).fill("fifteen pounds")
    page.get_by_label("How often an allowance is paid").select_option(label="Month")
    page.get_by_label("Outlet categories where it may be spent").fill("leisure-centre\nlibrary")
    page.get_by_label("A number of days after it is issued").check()
    page.get_by_label("Days after issue").fill("91")
    page.get_by_role("button", name="Create scheme").click()
    summary = page.locator(".govuk-error-summary")
    expect(summary).to_contain_text("Standard amount must be an amount, for example 5.50 or £12")
    expect(page).to_have_title(re.compile(r"^Error: Create a scheme"))
    _checked(page, browser_console, "create-with-a-mistake")
    summary.get_by_role("link", name="Standard amount must be an amount").click()
    page.get_by_label("Standard amount", exact=True).fill("15")
    page.get_by_role("button", name="Create scheme").click()
    expect(page.get_by_text("Leisure for teens is created, at rule version 1.")).to_be_visible()
    expect(
        page.get_by_text("A recurring allowance, paid each month. The standard amount is £15.00.")
    ).to_be_visible()
    _checked(page, browser_console, "scheme")

    page.get_by_role("button", name="Change the rules").click()
    _checked(page, browser_console, "rules")
    page.get_by_label("Most spent in one day").fill("10")
    page.get_by_role("button", name="Save as a new version").click()
    expect(page.get_by_text("The rules are saved as version 2.")).to_be_visible()
    expect(page.get_by_role("cell", name="Now: At most £10.00 a day.")).to_be_visible()
    _checked(page, browser_console, "scheme-version-2")

    finance = _new_page(browser, browser_console)
    staff_server.sign_in(finance, "finance")
    finance.goto(f"{staff_server.base_url}/admin/schemes/teen-leisure")
    finance.get_by_role("button", name="Add to the budget").click()
    _checked(finance, browser_console, "fund")
    finance.get_by_label("Amount").fill("£150")
    finance.get_by_label("Reference").fill("Grant 2026/7")
    finance.get_by_role("button", name="Add to the budget").click()
    expect(finance.get_by_text("£150.00 is added to the budget. The budget is now £150.00.")).to_be_visible()
    _checked(finance, browser_console, "funded")
    finance.goto(f"{staff_server.base_url}/admin/schemes")
    expect(finance.get_by_role("row", name="Leisure for teens")).to_contain_text("£150.00")
    _checked(finance, browser_console, "list")

    _members(staff_server, "teen-leisure")
    page.get_by_role("link", name="Bulk issuance").first.click()
    _checked(page, browser_console, "bulk")
    page.get_by_label("Scheme", exact=True).select_option(label="Leisure for teens")
    page.get_by_label("Every eligible member of the scheme").check()
    page.get_by_role("button", name="Check what would be paid").click()
    expect(page.get_by_text("Nothing has been paid yet.")).to_be_visible()
    dry_run = page.locator(".govuk-summary-list")
    expect(dry_run).to_contain_text(re.compile(r"Not eligible now\s*1"))  # the adult
    expect(dry_run).to_contain_text("£180.00")  # 12 teenagers at £15.00
    expect(page.get_by_text("The budget cannot pay everyone")).to_be_visible()  # £150.00 pays 10
    _checked(page, browser_console, "bulk-dry-run")
    page.get_by_role("button", name="Pay 12 members").click()
    expect(page.get_by_text("0 of 13 members done (0%)")).to_be_visible()
    _checked(page, browser_console, "bulk-job-waiting")

    job_runner.start()
    expect(page.get_by_text("Stopped", exact=True)).to_be_visible(timeout=30_000)  # the page refreshed itself
    expect(page.get_by_text("the scheme budget cannot pay the next member £15.00")).to_be_visible()
    _checked(page, browser_console, "bulk-job-stopped")
    finance.goto(f"{staff_server.base_url}/admin/schemes/teen-leisure/fund")
    finance.get_by_label("Amount").fill("100")
    finance.get_by_role("button", name="Add to the budget").click()
    page.get_by_role("button", name="Resume the job").click()
    expect(page.get_by_text("Bulk issuance finished")).to_be_visible(timeout=30_000)
    expect(page.locator(".govuk-panel")).to_contain_text("12 paid, 0 already paid, 1 refused")
    expect(page.get_by_text("13 of 13 members done (100%)")).to_be_visible()
    _checked(page, browser_console, "bulk-job-finished")
    with page.expect_download() as download:
        page.get_by_role("link", name="Download the 1 refused member and why (CSV)").click()
    rows = list(csv.reader(io.StringIO(download.value.path().read_text())))
    assert rows[0] == ["resident_id", "problem", "reason"] and rows[1][1] == "not-eligible"
    page.get_by_role("link", name="Bulk issuance").first.click()
    expect(page.get_by_role("row", name="teen-leisure")).to_contain_text("Finished")
    _checked(page, browser_console, "bulk-with-a-job")


def _shortfall(server: StaffServer) -> None:
    """A kiosk's offline spend of £5.00 on a card holding £3.00, synced: a £2.00 shortfall."""
    context, now = server.context, server.context.clock.now
    rules = {"spending": {"outlet_categories": ["leisure-centre"], "offline_floor_limit_minor": 500}}
    scheme = context.write(
        lambda uow: create_scheme(
            uow, slug="leisure", name="Leisure", unit=Unit.GBP, rules=rules, now=now(), actor="t"
        )
    )
    context.write(
        lambda uow: flows.fund(uow, scheme=scheme, amount_minor=10_000, now=now(), actor="t", key="f")
    )
    resident = new_id()
    context.write(lambda uow: uow.people.add_resident(id=resident, kind="person", details=None, now=now()))
    card = context.write(lambda uow: issue_card(uow, resident_id=resident, key=context.card_key, now=now()))
    context.write(
        lambda uow: flows.issue(
            uow, scheme=scheme, owner_id=resident, amount_minor=300, now=now(), actor="t", key="i"
        )
    )
    outlet = context.write(
        lambda uow: create_outlet(
            uow, name="Pool", categories=["leisure-centre"], schemes=["leisure"], now=now(), actor="t"
        )
    )
    device = context.write(
        lambda uow: create_key(uow, role="device", outlet_id=outlet["id"], label="k", now=now())
    )
    body = {
        "card_token": card.token,
        "scheme": "leisure",
        "amount_minor": 500,
        "occurred_at": (now() - dt.timedelta(minutes=30)).isoformat(),
    }
    headers = {"Authorization": f"Bearer {device.secret}", "Idempotency-Key": "offline-1"}
    synced = httpx.post(f"{server.base_url}/api/v1/offline-redemptions", json=body, headers=headers)
    assert synced.status_code == 201 and synced.json()["shortfall_minor"] == 200, synced.text


def test_expiry_runs_with_its_report_and_a_shortfall_is_resolved_with_a_note(
    page: Page, staff_server: StaffServer, browser_console: ConsoleLog, job_runner: JobRunner
) -> None:
    _shortfall(staff_server)
    staff_server.sign_in(page, "scheme_manager")
    page.get_by_role("link", name="Expiry and holds").first.click()
    expect(page.get_by_role("heading", name="What expires in the next 30 days")).to_be_visible()
    _checked(page, browser_console, "expiry")
    page.get_by_role("button", name="Run expiry now").click()
    expect(page.get_by_text("Waiting for the job runner to start it.")).to_be_visible()
    job_runner.start()  # the run is a job: the page refreshes itself until the job runner has done it
    expect(page.locator(".govuk-panel")).to_contain_text("0 lots expired, 0 holds released", timeout=30_000)
    _checked(page, browser_console, "expiry-run")

    page.get_by_role("link", name="Offline shortfalls").first.click()
    expect(page.get_by_role("cell", name="The wallet did not hold enough")).to_be_visible()
    _checked(page, browser_console, "shortfalls")
    page.get_by_role("link", name="Resolve the shortfall of £2.00").click()
    page.get_by_role("button", name="Resolve shortfall").click()
    expect(page.locator(".govuk-error-summary")).to_contain_text("Enter how the shortfall was resolved")
    _checked(page, browser_console, "shortfall-resolve-with-a-mistake")
    page.get_by_label("How was it resolved?").fill("Recovered from the resident at the desk")
    page.get_by_role("button", name="Resolve shortfall").click()
    expect(page.get_by_text("The shortfall of £2.00 is resolved.")).to_be_visible()
    expect(page.get_by_text("Recovered from the resident at the desk")).to_be_visible()
    _checked(page, browser_console, "shortfalls-resolved")
