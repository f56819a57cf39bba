"""`/api/docs` in a real browser (Debian's Chromium): Swagger UI 5 lists every operation, strict CSP."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator

import pytest
from playwright.sync_api import Page

from tests.e2e.browser import ConsoleLog
from tests.e2e.servers import RunningServer, clean_environment, free_port, running_server

pytestmark = pytest.mark.browser
HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
RENDER_TIMEOUT_MILLISECONDS = 30_000
OPERATIONS_SCRIPT = """
elements => elements.map(summary =>
  summary.querySelector(".opblock-summary-method").textContent.trim() + " " +
  summary.querySelector(".opblock-summary-path").dataset.path)
"""


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """`clubcard serve` on a fresh data directory and a free port."""
    data_directory = tmp_path_factory.mktemp("docs")
    port = free_port()
    with running_server(
        ["-m", "admin.cli", "serve", "--no-demo", "--port", str(port)],
        port=port,
        environment=clean_environment(CLUBCARD_DATA_DIR=str(data_directory)),
        log_path=data_directory / "serve.log",
    ) as server:
        yield server


def _documented_operations(server: RunningServer) -> set[str]:
    with urllib.request.urlopen(f"{server.base_url}/api/openapi.json", timeout=30) as response:
        document = json.load(response)
    assert document["openapi"].startswith("3.1")
    return {
        f"{method.upper()} {path}"
        for path, item in document["paths"].items()
        for method in item
        if method in HTTP_METHODS
    }


def _listed_operations(page: Page) -> set[str]:
    page.wait_for_selector(".opblock-summary", timeout=RENDER_TIMEOUT_MILLISECONDS)
    return set(page.eval_on_selector_all(".opblock-summary", OPERATIONS_SCRIPT))


def test_the_api_docs_list_every_documented_operation(
    served: RunningServer, page: Page, browser_console: ConsoleLog
) -> None:
    page.goto(f"{served.base_url}/api/docs")
    listed = _listed_operations(page)
    assert "POST /api/v1/redemptions" in listed
    assert "GET /api/v1/cards/{token}/entitlements" in listed
    assert listed == _documented_operations(served)
    assert page.get_by_text("Unable to render this definition").count() == 0
    assert browser_console.csp_violations() == []
    assert browser_console.errors() == []


def test_an_operation_opens_with_its_parameters_and_the_policy_refuses_nothing(
    served: RunningServer, page: Page, browser_console: ConsoleLog
) -> None:
    page.goto(f"{served.base_url}/api/docs")
    _listed_operations(page)
    page.locator("#operations-redemptions-post_api_v1_redemptions .opblock-summary-control").click()
    body = page.locator("#operations-redemptions-post_api_v1_redemptions .opblock-body")
    body.wait_for(timeout=RENDER_TIMEOUT_MILLISECONDS)
    assert "Idempotency-Key" in body.inner_text()
    assert browser_console.csp_violations() == []
    assert browser_console.errors() == []


def test_the_docs_page_loads_nothing_from_another_origin(served: RunningServer, page: Page) -> None:
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    page.goto(f"{served.base_url}/api/docs")
    _listed_operations(page)
    assert requested and all(
        url.startswith(served.base_url) or url.startswith("data:") for url in requested
    ), requested
