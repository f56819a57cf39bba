"""The residents pages in a real browser: a caseworker signs in with password and TOTP, enrols a resident
(eligibility refused, then accepted), issues a card whose printed QR the API accepts, blocks and replaces
it, issues a voucher series and exports; an admin erases. axe-core and a screenshot on every page."""

from __future__ import annotations

import datetime as dt

import pypdfium2
import pytest
import zxingcpp
from playwright.sync_api import Page, expect

from admin.demo_schemes import FIVE_SCHEMES
from ledger.units import Unit
from ledger.usecases import flows
from ledger.usecases.api_keys import create_key
from ledger.usecases.outlets import create_outlet
from ledger.usecases.schemes import create_scheme
from tests.e2e.browser import ConsoleLog, save_screenshot, serious_accessibility_violations
from tests.e2e.staff_server import StaffServer, staff_server_fixture  # noqa: F401

pytestmark = pytest.mark.browser


def _schemes(server: StaffServer, *slugs: str) -> None:
    now = server.context.clock.now()
    for data in FIVE_SCHEMES:
        if data["slug"] not in slugs:
            continue
        scheme = server.context.write(
            lambda uow, data=data: create_scheme(
                uow,
                slug=data["slug"],
                name=data["name"],
                unit=Unit(data["unit"]),
                rules=data["rules"],
                now=now,
                actor="t",
            )
        )
        server.context.write(
            lambda uow, scheme=scheme: flows.fund(
                uow,
                scheme=scheme,
                amount_minor=100_000,
                now=now,
                actor="finance",
                key=f"fund-{scheme['slug']}",
            )
        )


def _device_key(server: StaffServer) -> str:
    now = server.context.clock.now()
    outlet = server.context.write(
        lambda uow: create_outlet(
            uow,
            name="Riverside Leisure Centre",
            categories=["leisure-centre"],
            schemes=["leisure-vouchers"],
            now=now,
            actor="t",
        )
    )
    made = server.context.write(
        lambda uow: create_key(uow, role="device", outlet_id=outlet["id"], label="kiosk", now=now)
    )
    return made.secret


def _checked(page: Page, name: str, console: ConsoleLog | None = None) -> None:
    """No serious accessibility problem, no CSP refusal, and a screenshot of the page as it is."""
    assert serious_accessibility_violations(page) == [], name
    if console is not None:
        assert console.csp_violations() == [] and console.errors() == [], name
    save_screenshot(page, f"staff-residents-{name}")


def _who_asked(page: Page, reason: str, third_party: str | None = None) -> None:
    if third_party is None:
        page.get_by_label("The resident", exact=True).check()
    else:
        page.get_by_label("Someone else, on the resident's behalf").check()
        page.get_by_label("Their name and how they know the resident").fill(third_party)
    page.get_by_label("Why", exact=True).fill(reason)


def _date(page: Page, day: int, month: int, year: int, within: str = "body") -> None:
    group = page.locator(within)
    group.get_by_label("Day").fill(str(day))
    group.get_by_label("Month").fill(str(month))
    group.get_by_label("Year").fill(str(year))


def _enrol(page: Page, server: StaffServer, name: str, born: dt.date, shot: str | None = None) -> str:
    page.goto(f"{server.base_url}/admin/residents")
    page.get_by_role("link", name="Enrol a resident").click()
    if shot:
        page.get_by_role("button", name="Enrol resident").click()
        expect(page.locator(".govuk-error-summary")).to_contain_text("Enter a name")
        _checked(page, f"{shot}-errors")
    page.get_by_label("Full name").fill(name)
    _date(page, born.day, born.month, born.year)
    page.get_by_label("Postcode").fill("AB1 2CD")
    page.get_by_label("Ward").fill("Riverside")
    _who_asked(page, "Came to the desk at the library")
    if shot:
        _checked(page, shot)
    page.get_by_role("button", name="Enrol resident").click()
    expect(page.get_by_text(f"{name} is enrolled.")).to_be_visible()
    return page.url.rsplit("/", 1)[-1]


def _join(page: Page, scheme: str, referral: str = "") -> None:
    page.get_by_role("link", name="Enrol in a scheme").click()
    page.get_by_label("Scheme", exact=True).select_option(label=scheme)
    if referral:
        page.get_by_label("Referral (if the scheme needs one)").fill(referral)
    _who_asked(page, "Wants to join")
    page.get_by_role("button", name="Check eligibility and enrol").click()


def _token_in(pdf: bytes) -> str:
    rendered = pypdfium2.PdfDocument(pdf)[0].render(scale=300 / 72).to_pil()
    (found,) = zxingcpp.read_barcodes(rendered, formats=zxingcpp.BarcodeFormat.QRCode)
    return str(found.text)


def test_a_caseworker_enrols_issues_a_card_the_api_accepts_then_blocks_and_replaces_it(
    page: Page, staff_server: StaffServer, browser_console: ConsoleLog
) -> None:
    _schemes(staff_server, "leisure-vouchers")
    device_key = _device_key(staff_server)
    staff_server.sign_in(page, "caseworker")
    page.get_by_role("link", name="Residents").first.click()
    expect(page.get_by_role("heading", name="Residents", exact=True)).to_be_visible()
    _checked(page, "search", browser_console)

    adult = _enrol(page, staff_server, "Grace Hopper", dt.date(2000, 1, 9), shot="enrol")
    _checked(page, "resident-new", browser_console)
    _join(page, "Leisure vouchers (13-19)")
    expect(page.locator(".govuk-error-summary")).to_contain_text(
        "Not eligible for Leisure vouchers (13-19): aged"
    )
    _checked(page, "join-refused", browser_console)
    assert adult

    _enrol(page, staff_server, "Ada Lovelace", dt.date(2012, 6, 15))
    _join(page, "Leisure vouchers (13-19)")
    expect(page.get_by_text("Eligible and enrolled in Leisure vouchers (13-19)")).to_be_visible()
    _checked(page, "joined", browser_console)

    page.get_by_role("link", name="Issue a card").click()
    _who_asked(page, "First card")
    _checked(page, "card-issue", browser_console)
    page.get_by_role("button", name="Issue the card").click()
    expect(page.get_by_text("is issued. Print it from the list of cards.")).to_be_visible()
    _checked(page, "card-issued", browser_console)

    link = page.get_by_role("link", name="(PDF)")
    number = link.inner_text().split()[2]
    pdf = page.request.get(staff_server.base_url + str(link.get_attribute("href")))
    assert pdf.ok and pdf.headers["content-type"] == "application/pdf"
    token = _token_in(pdf.body())
    entitlements = page.request.get(
        f"{staff_server.base_url}/api/v1/cards/{token}/entitlements",
        headers={"Authorization": f"Bearer {device_key}"},
    )
    assert entitlements.status == 200, entitlements.text()

    page.get_by_role("link", name=f"Block as lost card {number}").click()
    expect(page.get_by_role("heading", name=f"Are you sure you want to block card {number}?")).to_be_visible()
    expect(page.get_by_text("The balance stays with the resident")).to_be_visible()
    _who_asked(page, "Lost it on the bus", third_party="Mary Lovelace, mother")
    _checked(page, "card-block", browser_console)
    page.get_by_role("button", name="Block the card").click()
    expect(
        page.get_by_text(f"Card {number} is blocked. The balance stays with the resident.")
    ).to_be_visible()
    refused = page.request.get(
        f"{staff_server.base_url}/api/v1/cards/{token}/entitlements",
        headers={"Authorization": f"Bearer {device_key}"},
    )
    assert refused.status == 403 and refused.json()["type"].endswith("/card-blocked")

    page.get_by_role("link", name=f"Replace card {number}").click()
    _who_asked(page, "Needs a new card")
    _checked(page, "card-replace", browser_console)
    page.get_by_role("button", name="Replace the card").click()
    expect(page.get_by_text(f"Card {number} is blocked and replaced by card")).to_be_visible()
    expect(page.get_by_role("cell", name="Replaced")).to_be_visible()
    _checked(page, "card-replaced", browser_console)


def test_a_caseworker_finds_a_resident_issues_a_voucher_series_and_exports_their_data(
    page: Page, staff_server: StaffServer, browser_console: ConsoleLog
) -> None:
    _schemes(staff_server, "release-vouchers")
    staff_server.sign_in(page, "caseworker")
    _enrol(page, staff_server, "Alan Turing", dt.date(1990, 6, 23))
    _join(page, "Release vouchers", referral="Probation service, ref 4471")
    expect(page.get_by_text("Eligible and enrolled in Release vouchers")).to_be_visible()

    page.get_by_role("link", name="Issue vouchers of Release vouchers").click()
    page.get_by_label("How many vouchers?").select_option("2")
    page.get_by_role("button", name="Change the number of vouchers").click()
    expect(page.get_by_role("group", name="Voucher 2")).to_be_visible()
    first, second = page.get_by_role("group", name="Voucher 1"), page.get_by_role("group", name="Voucher 2")
    first.get_by_label("Purpose").select_option("accommodation")
    second.get_by_label("Purpose").select_option("work-clothes")
    second.get_by_label("Amount").fill("25.5o")
    _who_asked(page, "Released on Monday", third_party="Sam Patel, probation officer")
    page.get_by_role("button", name="Issue vouchers").click()
    expect(page.locator(".govuk-error-summary")).to_contain_text("Enter the amount as a number")
    _checked(page, "vouchers-errors", browser_console)
    page.get_by_role("group", name="Voucher 2").get_by_label("Amount").fill("25.50")
    _date(page, 31, 1, dt.date.today().year + 1, within="fieldset:has-text('Voucher 2')")
    _checked(page, "vouchers", browser_console)
    page.get_by_role("button", name="Issue vouchers").click()
    expect(page.get_by_text("2 vouchers issued: accommodation £60.00")).to_be_visible()
    expect(page.get_by_role("cell", name="£85.50")).to_be_visible()
    _checked(page, "vouchers-issued", browser_console)

    page.goto(f"{staff_server.base_url}/admin/residents")
    page.get_by_label("Full name").fill("alan turing")
    _date(page, 23, 6, 1990)
    page.get_by_role("button", name="Find by name and date of birth").click()
    expect(page.get_by_text("1 resident with exactly that name and date of birth")).to_be_visible()
    _checked(page, "search-results", browser_console)
    page.get_by_role("link", name="Alan Turing").click()

    page.get_by_role("link", name="Subject access export").click()
    _who_asked(page, "Subject access request by letter")
    _checked(page, "export", browser_console)
    with page.expect_download() as download:
        page.get_by_role("button", name="Download the export").click()
    assert download.value.suggested_filename.startswith("resident-")


def test_an_admin_erases_a_residents_personal_data_after_a_confirmation(
    page: Page, staff_server: StaffServer, browser_console: ConsoleLog
) -> None:
    staff_server.sign_in(page, "admin")
    _enrol(page, staff_server, "Mary Somerville", dt.date(1980, 12, 26))

    page.get_by_role("link", name="Erase their personal data").click()
    expect(page.get_by_text("the ledger holds no personal data")).to_be_visible()
    _who_asked(page, "Asked to be forgotten, by email")
    _checked(page, "erase", browser_console)
    page.get_by_role("button", name="Erase personal data").click()
    expect(page.get_by_text("Their personal data is erased.")).to_be_visible()
    expect(page.get_by_role("heading", name="Resident (personal data erased)")).to_be_visible()
    _checked(page, "erased", browser_console)
