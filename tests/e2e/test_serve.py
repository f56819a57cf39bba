"""`clubcard serve` on a fresh machine: SQLite created and migrated, demo council seeded, API answering."""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

STARTUP_TIMEOUT_SECONDS = 120


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Served:
    """A running `clubcard serve` and how to talk to it."""

    def __init__(self, port: int, data_directory: Path, output: str) -> None:
        self.port = port
        self.data_directory = data_directory
        self.output = output
        self.demo = json.loads((data_directory / "demo-keys.json").read_text())

    def request(
        self,
        method: str,
        path: str,
        key: str | None = None,
        body: Any = None,
        idempotency_key: str | None = None,
    ) -> tuple[int, Any, str]:
        """One HTTP request; returns status, parsed JSON (or None) and content type."""
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        headers = {"Content-Type": "application/json"}
        if key:
            headers["Authorization"] = f"Bearer {key}"
        if idempotency_key:
            headers["Idempotency-Key"] = idempotency_key
        connection.request(method, path, body=None if body is None else json.dumps(body), headers=headers)
        response = connection.getresponse()
        raw = response.read()
        content_type = response.getheader("Content-Type", "")
        parsed = json.loads(raw) if "json" in content_type else None
        return response.status, parsed, content_type


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """Start the service exactly as the README does, on an empty data directory."""
    data_directory = tmp_path_factory.mktemp("fresh-machine")
    port = _free_port()
    environment = {k: v for k, v in os.environ.items() if not k.startswith("CLUBCARD_")}
    environment["CLUBCARD_DATA_DIR"] = str(data_directory)
    log_path = data_directory / "serve.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "admin.cli", "serve", "--port", str(port)],
            env=environment,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            assert process.poll() is None, log_path.read_text()
            try:
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
                connection.request("GET", "/healthz")
                if connection.getresponse().status == 200:
                    break
            except OSError:
                time.sleep(0.5)
        else:
            pytest.fail("clubcard serve did not answer:\n" + log_path.read_text())
        yield Served(port, data_directory, log_path.read_text())
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)


def test_serve_prints_the_urls_and_demo_keys(served: Served) -> None:
    assert f"http://127.0.0.1:{served.port}/api/docs" in served.output
    assert served.demo["keys"]["admin"] in served.output
    assert (served.data_directory / "clubcard.sqlite3").exists()


def test_the_demo_council_has_the_five_schemes_outlets_and_residents(served: Served) -> None:
    status, body, _ = served.request("GET", "/api/v1/schemes?limit=100", served.demo["keys"]["admin"])
    assert status == 200
    slugs = {scheme["slug"] for scheme in body["data"]}
    assert slugs == {
        "leisure-vouchers",
        "release-vouchers",
        "time-bank",
        "recycling-rewards",
        "healthy-living",
    }
    assert all(scheme["budget_balance_minor"] > 0 for scheme in body["data"])
    assert len(served.demo["keys"]["devices"]) >= 10
    assert len(served.demo["cards"]) >= 50


def test_the_docs_and_openapi_are_served_locally(served: Served) -> None:
    status, spec, _ = served.request("GET", "/api/openapi.json")
    assert status == 200 and spec["openapi"].startswith("3.1")
    connection = http.client.HTTPConnection("127.0.0.1", served.port, timeout=10)
    connection.request("GET", "/api/docs")
    page = connection.getresponse().read().decode()
    assert "/api/docs/static/swagger-ui-bundle.js" in page
    assert "cdn" not in page.lower() and "unpkg" not in page.lower()
    connection.request("GET", "/api/docs/static/swagger-ui-bundle.js")
    assert connection.getresponse().status == 200


def test_a_demo_kiosk_redeems_a_demo_teenagers_voucher(served: Served) -> None:
    device = served.demo["keys"]["devices"]["Riverside Leisure Centre"]["key"]
    teen = next(card for card in served.demo["cards"].values() if "leisure-vouchers" in card["schemes"])
    status, receipt, _ = served.request(
        "POST",
        "/api/v1/redemptions",
        device,
        {"card_token": teen["token"], "amount_minor": 250, "scheme": "leisure-vouchers"},
        idempotency_key="swim-1",
    )
    assert status == 201, receipt
    assert receipt["amount_minor"] == 250
    replay = served.request(
        "POST",
        "/api/v1/redemptions",
        device,
        {"card_token": teen["token"], "amount_minor": 250, "scheme": "leisure-vouchers"},
        idempotency_key="swim-1",
    )
    assert replay[0] == 201 and replay[1] == receipt


def test_errors_are_problem_json_over_real_http(served: Served) -> None:
    status, problem, content_type = served.request("GET", "/api/v1/schemes")
    assert status == 401 and content_type == "application/problem+json"
    assert problem["type"] == "https://clubcard.example/problems/unauthenticated"
