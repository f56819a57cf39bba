"""The insight pages in a real browser: a scheme manager uploads the ward list, opens a scheme's insight by
ward and sees the ward with a single member (and the next smallest ward) as "fewer than 10" in the table
beside each SVG chart, and downloads a table as CSV. axe-core and the CSP are clean on every page; every
page is kept as a screenshot in tests/artifacts/."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from ledger.usecases import flows
from ledger.usecases.common import new_id
from tests.e2e.browser import ConsoleLog, save_screenshot, serious_accessibility_violations
from tests.e2e.staff_seeds import leisure_scheme_at_a_library
from tests.e2e.staff_server import StaffServer, staff_server_fixture  # noqa: F401
from tests.integration.staff_insight_support import WARD_MEMBERS, WARDS_CSV

pytestmark = pytest.mark.browser


def _seed(server: StaffServer) -> None:
    """A leisure scheme whose members in three wards are issued £10.00 and spend £4.00 at one library."""
    context = server.context
    now = context.clock.now
    made = leisure_scheme_at_a_library(context, funded_minor=100_000, at=now())
    scheme, outlet, payable = made.scheme, made.outlet, made.payable_account_id
    for ward, count in WARD_MEMBERS.items():
        for _ in range(count):
            _member(server, scheme, ward, outlet["id"], payable)


def _member(server: StaffServer, scheme: dict[str, object], ward: str, outlet_id: str, payable: str) -> None:
    context, resident_id = server.context, new_id()
    now = context.clock.now
    details = {"name": "Test", "date_of_birth": "1990-03-04", "postcode": None, "ward": ward, "contact": None}

    def enrol(uow: object) -> None:
        uow.people.add_resident(id=resident_id, kind="person", details=details, now=now())  # type: ignore[attr-defined]
        uow.people.add_membership(  # type: ignore[attr-defined]
            resident_id=resident_id,
            scheme_id=scheme["id"],
            collective_id=None,
            referral=None,
            actor="t",
            now=now(),
        )

    context.write(enrol)
    context.write(
        lambda uow: flows.issue(
            uow,
            scheme=scheme,
            owner_id=resident_id,
            amount_minor=1_000,
            now=now(),
            actor="t",
            key=f"i{resident_id}",
        )
    )
    context.write(
        lambda uow: flows.spend(
            uow, scheme=scheme, owner_id=resident_id, amount_minor=400, categories=None,
            payable_account_id=payable, outlet_id=outlet_id, now=now(), actor="device:t",
            key=f"s{resident_id}",
        )
    )  # fmt: skip


def _checked(page: Page, console: ConsoleLog, name: str) -> None:
    """axe-core finds nothing serious, the CSP refused nothing, the page is kept."""
    assert serious_accessibility_violations(page) == [], name
    assert console.csp_violations() == [] and console.errors() == [], name
    save_screenshot(page, name)


def test_a_scheme_manager_sees_a_wards_single_member_suppressed_beside_the_chart_and_downloads_the_csv(
    page: Page, staff_server: StaffServer, browser_console: ConsoleLog, tmp_path: Path
) -> None:
    _seed(staff_server)
    staff_server.sign_in(page, "scheme_manager")

    page.get_by_role("link", name="Insight").first.click()
    expect(page.get_by_role("heading", name="Insight")).to_be_visible()
    _checked(page, browser_console, "insight-index")

    page.get_by_role("link", name="See the ward list or upload a new one").click()
    wards_file = tmp_path / "wards.csv"
    wards_file.write_text(WARDS_CSV, encoding="utf-8")
    page.get_by_label("CSV file of wards").set_input_files(str(wards_file))
    page.get_by_role("button", name="Upload ward list").click()
    expect(page.get_by_text("Ward list uploaded: 4 wards")).to_be_visible()
    _checked(page, browser_console, "insight-wards")

    page.goto(f"{staff_server.base_url}/admin/insight/schemes/leisure?by=ward")
    uptake = page.locator("table", has_text="Uptake").first
    expect(uptake.locator("tr", has_text="Castle")).to_contain_text("fewer than 10")
    expect(uptake.locator("tr", has_text="Northgate")).to_contain_text("fewer than 10")
    expect(uptake.locator("tr", has_text="Riverside")).to_contain_text("12")
    expect(uptake.locator("tr", has_text="All members")).to_contain_text("24")
    expect(page.locator("svg[role=img]").first).to_be_visible()
    assert page.locator("svg text", has_text="fewer than 10").count() >= 2
    _checked(page, browser_console, "insight-scheme-by-ward")

    with page.expect_download() as download_info:
        page.locator('a[href*="/uptake.csv"]').click()
    downloaded = Path(download_info.value.path()).read_text(encoding="utf-8")
    assert "Castle,7,fewer than 10,fewer than 10,fewer than 10" in downloaded

    page.goto(f"{staff_server.base_url}/admin/insight/schemes/leisure?by=age")
    expect(page.locator("table", has_text="Uptake").first).to_contain_text("35 to 64")
    _checked(page, browser_console, "insight-scheme-by-age")
