"""Real-browser tests: Debian's Chromium driven by Playwright, screenshots, console and CSP checks, axe-core.

Use the `browser` and `page` fixtures (tests/e2e/conftest.py) and mark the test `@pytest.mark.browser`:

    @pytest.mark.browser
    def test_the_kiosk_shows_what_may_be_spent_here(page: Page, browser_console: ConsoleLog) -> None:
        page.goto(url)
        ...
        assert browser_console.csp_violations() == []
        assert serious_accessibility_violations(page) == []

Chromium is Debian's (/usr/bin/chromium, installed by .ci/run), never a browser downloaded by Playwright.
Without it the browser tests skip, except when CLUBCARD_REQUIRE_BROWSER=1 (CI), where they fail.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, ConsoleMessage, Page, Playwright

CHROMIUM_PATH = Path(os.environ.get("CLUBCARD_CHROMIUM", "/usr/bin/chromium"))
# Headless and quiet: no sandbox (CI runs as root), no GPU, and no calls home (the network is closed).
CHROMIUM_ARGUMENTS = (
    "--no-sandbox",
    "--headless",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
)
ARTIFACTS_DIRECTORY = Path(__file__).resolve().parents[1] / "artifacts"
BROWSER_REQUIRED_VARIABLE = "CLUBCARD_REQUIRE_BROWSER"
SERIOUS_IMPACTS = ("serious", "critical")
CSP_VIOLATION_EVENTS_SCRIPT = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.__cspViolations.push(`${event.effectiveDirective} refused ${event.blockedURI || "inline"}`);
});
"""


def browser_required() -> bool:
    """True in CI, where a missing Chromium is a failure rather than a skip."""
    return os.environ.get(BROWSER_REQUIRED_VARIABLE) == "1"


def launch_chromium(playwright: Playwright) -> Browser:
    """Debian's Chromium, headless; skips (or, when required, fails) the test when it is not installed."""
    if not CHROMIUM_PATH.exists():
        message = f"browser tests need Debian's chromium at {CHROMIUM_PATH} (apt-get install chromium)"
        if browser_required():
            pytest.fail(f"{BROWSER_REQUIRED_VARIABLE}=1 but {message}", pytrace=False)
        pytest.skip(message)
    return playwright.chromium.launch(executable_path=str(CHROMIUM_PATH), args=list(CHROMIUM_ARGUMENTS))


def artifacts_directory() -> Path:
    """tests/artifacts/, created on first use and ignored by git (it holds its own .gitignore)."""
    ARTIFACTS_DIRECTORY.mkdir(parents=True, exist_ok=True)
    ignore = ARTIFACTS_DIRECTORY / ".gitignore"
    if not ignore.exists():
        ignore.write_text("# screenshots and other output of browser tests\n*\n")
    return ARTIFACTS_DIRECTORY


def save_screenshot(page: Page, name: str) -> Path:
    """A full-page PNG of what the browser shows now, in tests/artifacts/; returns its path."""
    safe_name = re.sub(r"[^A-Za-z0-9_.-]+", "-", name).strip("-") or "page"
    path = artifacts_directory() / f"{safe_name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


@dataclass
class ConsoleLog:
    """What a page printed to the browser console, and the errors it raised."""

    messages: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    pages: list[Page] = field(default_factory=list)

    def attach(self, page: Page) -> None:
        """Record this page's console from now on (attach before the first goto)."""
        page.on("console", self._record)
        page.on("pageerror", lambda error: self.page_errors.append(str(error)))
        page.add_init_script(CSP_VIOLATION_EVENTS_SCRIPT)
        self.pages.append(page)

    def _record(self, message: ConsoleMessage) -> None:
        self.messages.append(f"{message.type}: {message.text}")

    def errors(self) -> list[str]:
        """Console errors and uncaught exceptions."""
        return [text for text in self.messages if text.startswith("error:")] + self.page_errors

    def csp_violations(self) -> list[str]:
        """Everything the Content-Security-Policy refused: console reports and DOM violation events."""
        reported = [text for text in self.messages if "Content Security Policy" in text]
        for page in self.pages:
            if not page.is_closed():
                reported.extend(page.evaluate("window.__cspViolations || []"))
        return reported


def serious_accessibility_violations(page: Page, context: Any = None) -> list[str]:
    """axe-core's serious and critical violations on the page as it is now, one readable line each."""
    results = Axe().run(page, context=context)
    violations: list[dict[str, Any]] = results.response.get("violations", [])
    return [
        f"{violation['impact']}: {violation['id']}: {violation['help']} "
        f"({len(violation['nodes'])} elements, e.g. {violation['nodes'][0]['target']})"
        for violation in violations
        if violation.get("impact") in SERIOUS_IMPACTS
    ]
