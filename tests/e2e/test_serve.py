"""`clubcard serve` on a fresh machine: SQLite created and migrated, demo council seeded, API answering."""

from __future__ import annotations

import http.client
import json
import os
import shlex
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

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


def _environment(data_directory: Path, **extra: str) -> dict[str, str]:
    """This process's environment without CLUBCARD_* settings, pointed at a data directory."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("CLUBCARD_")}
    environment["CLUBCARD_DATA_DIR"] = str(data_directory)
    environment.update(extra)
    return environment


def _status(port: int, path: str) -> int:
    """The status of one GET."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    connection.request("GET", path)
    return connection.getresponse().status


def _start(
    data_directory: Path, port: int, environment: dict[str, str], *options: str
) -> subprocess.Popen[bytes]:
    """Start `clubcard serve` (output in data_directory/serve.log) and return once it answers."""
    data_directory.mkdir(parents=True, exist_ok=True)
    log_path = data_directory / "serve.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "admin.cli", "serve", "--port", str(port), *options],
            env=environment,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
    while time.monotonic() < deadline and process.poll() is None:
        try:
            if _status(port, "/healthz") == 200:
                return process
        except OSError:
            time.sleep(0.5)
    _stop(process)
    pytest.fail("clubcard serve did not answer:\n" + log_path.read_text())


def _stop(process: subprocess.Popen[bytes]) -> None:
    """Stop a `clubcard serve` and its workers, as Ctrl-C would."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
    process.wait(timeout=30)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """Start the service exactly as the README does, on an empty data directory."""
    data_directory = tmp_path_factory.mktemp("fresh-machine")
    port = _free_port()
    process = _start(data_directory, port, _environment(data_directory))
    try:
        yield Served(port, data_directory, (data_directory / "serve.log").read_text())
    finally:
        _stop(process)


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
    assert "/assets/swagger-ui/swagger-ui-bundle.js" in page
    assert "cdn" not in page.lower() and "unpkg" not in page.lower()
    connection.request("GET", "/assets/swagger-ui/swagger-ui-bundle.js")
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


def test_the_printed_api_url_answers_with_an_index_of_the_api(served: Served) -> None:
    base = f"http://127.0.0.1:{served.port}"
    assert ["API:", f"{base}/api/v1"] in [line.split() for line in served.output.splitlines()]
    status, index, content_type = served.request("GET", "/api/v1")
    assert status == 200 and content_type == "application/json"
    assert index["version"] == "v1" and "Bearer" in index["authentication"]
    links = index["links"]
    assert links["docs"] == f"{base}/api/docs" and links["openapi"] == f"{base}/api/openapi.json"
    assert links["clubcard-keys"] == f"{base}/.well-known/clubcard-keys"
    assert all(url.startswith(f"{base}/") for url in links.values())
    for name in ("self", "docs", "openapi", "clubcard-keys"):
        assert _status(served.port, urlsplit(links[name]).path) == 200, links[name]


def test_serve_on_a_busy_port_says_which_option_to_change_and_starts_nothing(tmp_path: Path) -> None:
    data_directory = tmp_path / "not-created"
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        finished = subprocess.run(
            [sys.executable, "-m", "admin.cli", "serve", "--port", str(port)],
            env=_environment(data_directory),
            capture_output=True,
            text=True,
            timeout=STARTUP_TIMEOUT_SECONDS,
        )
    assert finished.returncode != 0
    assert finished.stderr.splitlines() == [
        f"Error: port {port} on 127.0.0.1 is in use; choose another with --port"
    ]
    assert finished.stdout == ""
    assert not data_directory.exists()


def test_two_instances_share_no_control_socket_and_stopping_one_leaves_the_other_serving(
    tmp_path: Path,
) -> None:
    home, runtime = tmp_path / "home", tmp_path / "runtime"
    home.mkdir()
    runtime.mkdir()
    running: dict[str, tuple[int, subprocess.Popen[bytes]]] = {}
    try:
        for name in ("first", "second"):
            port = _free_port()
            environment = _environment(tmp_path / name, HOME=str(home), XDG_RUNTIME_DIR=str(runtime))
            running[name] = (port, _start(tmp_path / name, port, environment, "--no-demo"))
        # gunicorn's default control socket is one path per user: the second instance would take it over.
        assert [*home.rglob("*.ctl"), *runtime.rglob("*.ctl")] == []
        _stop(running["first"][1])
        second_port = running["second"][0]
        assert _status(second_port, "/healthz") == 200
        assert _status(second_port, "/api/v1") == 200
    finally:
        for _, process in running.values():
            _stop(process)


def test_serve_with_no_demo_on_an_empty_database_says_how_to_create_the_first_admin_key(
    tmp_path: Path,
) -> None:
    data_directory = tmp_path / "empty"
    port = _free_port()
    environment = _environment(data_directory)
    process = _start(data_directory, port, environment, "--no-demo")
    try:
        output = (data_directory / "serve.log").read_text()
        assert "Demo keys" not in output
        hint = next(line for line in output.splitlines() if "clubcard keys create" in line)
        assert shlex.split(hint) == [
            "clubcard",
            "keys",
            "create",
            "--role",
            "admin",
            "--label",
            "first admin",
        ]
        # Following the hint, word for word, gives a key the running server accepts.
        made = subprocess.run(
            [sys.executable, "-m", "admin.cli", *shlex.split(hint)[1:]],
            env=environment,
            capture_output=True,
            text=True,
            timeout=STARTUP_TIMEOUT_SECONDS,
        )
        assert made.returncode == 0, made.stderr
        admin_key = made.stdout.splitlines()[-1]
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        connection.request("GET", "/api/v1/schemes", headers={"Authorization": f"Bearer {admin_key}"})
        assert connection.getresponse().status == 200
    finally:
        _stop(process)


def test_each_printed_demo_staff_login_signs_in_to_the_staff_ui(served: Served) -> None:
    import re

    import httpx
    import pyotp

    from tests.support.staff_web import csrf_token

    def page_text_of(html: str) -> str:
        return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))[:3000]

    logins = re.findall(r"^\s+(\w+)\s+user (\S+)\s+password (\S+)\s+TOTP secret (\S+)$", served.output, re.M)
    assert {role for role, *_ in logins} >= {"caseworker", "scheme_manager", "finance", "auditor", "admin"}
    for role, username, password, secret in logins:
        with httpx.Client(base_url=f"http://127.0.0.1:{served.port}", timeout=30) as browser:
            page = browser.get("/admin/sign-in").text
            first = browser.post(
                "/admin/sign-in",
                data={"username": username, "password": password, "csrf_token": csrf_token(page)},
            )
            assert first.status_code == 302, (role, page_text_of(first.text))
            page = browser.get("/admin/sign-in/code").text
            code = pyotp.TOTP(secret).now()
            second = browser.post("/admin/sign-in/code", data={"code": code, "csrf_token": csrf_token(page)})
            assert second.status_code == 302, (role, page_text_of(second.text))
            assert "Sign out" in browser.get("/admin/").text
