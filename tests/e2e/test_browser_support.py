"""The browser plumbing itself: it reports CSP refusals, serious accessibility failures, screenshots."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, Route

from tests.e2e.browser import (
    ConsoleLog,
    artifacts_directory,
    save_screenshot,
    serious_accessibility_violations,
)

pytestmark = pytest.mark.browser
PAGE_URL = "http://clubcard.test/"
STRICT_POLICY = "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'"


def _serve(page: Page, html: str) -> None:
    """Answer PAGE_URL with `html` under STRICT_POLICY, without any server."""

    def fulfil(route: Route) -> None:
        headers = {"Content-Type": "text/html", "Content-Security-Policy": STRICT_POLICY}
        route.fulfill(body=html, headers=headers)

    page.route(PAGE_URL, fulfil)
    page.goto(PAGE_URL)


def test_an_inline_script_and_style_refused_by_the_policy_are_reported(
    page: Page, browser_console: ConsoleLog
) -> None:
    _serve(
        page, '<!doctype html><html lang="en"><title>t</title><p style="color:red">x</p><script>1</script>'
    )
    page.wait_for_load_state("load")
    reported = browser_console.csp_violations()
    assert any("script-src-elem refused inline" in line for line in reported), reported
    assert any("style-src-attr refused inline" in line for line in reported), reported


def test_a_clean_page_reports_no_violation_and_no_serious_accessibility_failure(
    page: Page, browser_console: ConsoleLog
) -> None:
    _serve(page, '<!doctype html><html lang="en"><title>Fine</title><main><h1>Fine</h1></main></html>')
    assert browser_console.csp_violations() == [] and browser_console.errors() == []
    assert serious_accessibility_violations(page) == []


def test_an_image_without_alternative_text_is_a_critical_accessibility_failure(page: Page) -> None:
    _serve(page, '<!doctype html><html lang="en"><title>t</title><main><img src="data:,"></main></html>')
    (violation,) = serious_accessibility_violations(page)
    assert violation.startswith("critical: image-alt:")


def test_a_screenshot_lands_in_the_ignored_artifacts_directory(page: Page) -> None:
    _serve(page, '<!doctype html><html lang="en"><title>t</title><main><h1>Shot</h1></main></html>')
    path = save_screenshot(page, "browser support/screenshot")
    assert path.parent == artifacts_directory() and path.name == "browser-support-screenshot.png"
    assert path.read_bytes().startswith(b"\x89PNG")
    assert (artifacts_directory() / ".gitignore").read_text().splitlines()[-1] == "*"
