"""Fixtures for real-browser tests: one Chromium per session, a fresh page per test, its console.

Every `page` is screenshotted into tests/artifacts/<test name>.png when its test ends, passed or failed.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, Playwright, sync_playwright

from tests.e2e.browser import ConsoleLog, launch_chromium, save_screenshot


@pytest.fixture(scope="session")
def playwright() -> Iterator[Playwright]:
    """The one Playwright of the session: a second sync_playwright() in one process fails while it runs."""
    with sync_playwright() as running:
        yield running


@pytest.fixture(scope="session")
def browser(playwright: Playwright) -> Iterator[Browser]:
    """Debian's Chromium, headless, shared by the session's browser tests."""
    chromium = launch_chromium(playwright)
    yield chromium
    chromium.close()


@pytest.fixture
def browser_console() -> ConsoleLog:
    """The console of the test's page (messages, errors, CSP violations)."""
    return ConsoleLog()


@pytest.fixture
def page(browser: Browser, browser_console: ConsoleLog, request: pytest.FixtureRequest) -> Iterator[Page]:
    """A new page in its own browser context, its console recorded, screenshotted at the end."""
    context = browser.new_context()
    new_page = context.new_page()
    browser_console.attach(new_page)
    try:
        yield new_page
    finally:
        if not new_page.is_closed():
            save_screenshot(new_page, request.node.name)
        context.close()
