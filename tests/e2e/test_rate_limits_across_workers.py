"""One card look-up budget per key: across every endpoint that takes a card and across worker processes.

In process (both databases): the endpoints share one bucket. Over real HTTP (both databases): `clubcard serve`
as it ships (one worker, threads, counters in memory) and gunicorn with several worker processes and Redis,
as the README runs production, each let exactly the limit through; several workers without Redis refuse.
"""

from __future__ import annotations

import http.client
import itertools
import json
import os
import re
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import redis
from flask_limiter.util import get_qualified_name

from api.limits import CARD_LOOKUP_MARK, CARD_LOOKUP_SCOPE, REST_BLUEPRINTS, card_lookup_limit, limiter
from tests.e2e.servers import clean_environment, free_port, running_server
from tests.integration.value_support import TIME_BANK
from tests.support.api import PROBLEM, World, assert_problem

LIMIT = 20
LIMIT_TEXT = f"{LIMIT} per hour"  # an hour, so no window ends during a test
REDIS_URL = os.environ.get("CLUBCARD_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
CONCURRENT_CLIENTS = 10
SERVER_WORKERS = 3
WARM_UP_TIMEOUT_SECONDS = 120  # a loaded machine takes a while to import the app in every worker


def _card_requests(world: World) -> tuple[str, list[tuple[str, str, dict[str, Any] | None]]]:
    """A time-bank kiosk's device key and one request to each endpoint that takes a card."""
    bank = world.scheme("time-bank", "HOUR", TIME_BANK, funded=10_000)
    _, token = world.card(world.resident((bank,)))
    _, other = world.card(world.resident((bank,)))
    _, cafe = world.outlet(["repair-cafe"], ["time-bank"])
    spend = {"card_token": token, "scheme": "time-bank", "amount_minor": 1}
    requests: list[tuple[str, str, dict[str, Any] | None]] = [
        ("GET", f"/api/v1/cards/{token}/entitlements", None),
        ("POST", "/api/v1/redemptions", spend),
        ("POST", "/api/v1/holds", {**spend, "timeout_seconds": 600}),
        (
            "POST",
            "/api/v1/transfers",
            {"scheme": "time-bank", "amount_minor": 1, "from_card_token": token, "to_card_token": other},
        ),
        (
            "POST",
            "/api/v1/earnings",
            {"scheme": "time-bank", "event_type": "volunteer_hours", "card_token": token, "quantity": 1},
        ),
    ]
    return cafe, requests


def _in_process(world: World, secret: str, method: str, path: str, body: Any) -> int:
    if method == "GET":
        return int(world.get(path, secret).status_code)
    return int(world.post(path, body, secret).status_code)


def test_one_device_key_has_one_budget_across_every_endpoint_that_takes_a_card(world: World) -> None:
    world.app.config["CLUBCARD_CARD_LOOKUP_LIMIT"] = "10 per hour"
    cafe, requests = _card_requests(world)
    served = [_in_process(world, cafe, *request) for request in requests * 2]
    assert 429 not in served, served
    for method, path, body in requests:
        refused = world.get(path, cafe) if method == "GET" else world.post(path, body, cafe)
        assert_problem(refused, 429, "rate-limited")


def test_a_caseworker_has_one_budget_across_card_look_ups_and_card_images(world: World) -> None:
    world.app.config["CLUBCARD_CARD_LOOKUP_LIMIT"] = "6 per hour"
    number, _ = world.card(world.resident())
    caseworker = world.staff("caseworker")
    paths = [
        f"/api/v1/cards/{number}",
        f"/api/v1/residents?card_number={number}",
        *(f"/api/v1/cards/{number}/{name}" for name in ("qr.png", "qr.svg", "card.pdf")),
    ]
    served = [world.get(path, caseworker).status_code for path in [*paths, paths[0]]]
    assert served == [200] * 6
    for path in paths:
        assert_problem(world.get(path, caseworker), 429, "rate-limited")


def test_another_key_keeps_its_own_budget(world: World) -> None:
    world.app.config["CLUBCARD_CARD_LOOKUP_LIMIT"] = "2 per hour"
    cafe, requests = _card_requests(world)
    _, path, _ = requests[0]
    assert [world.get(path, cafe).status_code for _ in range(3)] == [200, 200, 429]
    _, other_kiosk = world.outlet(["repair-cafe"], ["time-bank"])
    assert world.get(path, other_kiosk).status_code == 200


def test_every_card_lookup_limit_draws_from_the_one_shared_budget(world: World) -> None:
    # A new endpoint using a plain `limiter.limit(card_lookup_limit)` would get a budget of its own
    # (flask-limiter keeps no public list of decorated limits, so look at them all); every card look-up
    # goes through api.limits.card_lookup(), which marks the view it guards.
    decorated = limiter.limit_manager._decorated_limits
    own_budgets = [
        name
        for name, limits in decorated.items()
        for limit in limits
        if limit.limit_provider is card_lookup_limit
    ]
    assert own_budgets == [], f"use api.limits.card_lookup() on {own_budgets}"
    guarded = sorted(
        f"{endpoint} {method}"
        for endpoint, view in world.app.view_functions.items()
        for method, function in _handlers(view)
        if getattr(function, CARD_LOOKUP_MARK, None) == CARD_LOOKUP_SCOPE
    )
    assert len(guarded) >= 11, guarded
    assert CARD_LOOKUP_SCOPE == "card-lookup"


def test_flask_limiter_limits_guard_only_pages_outside_the_rest_api(world: World) -> None:
    # flask-limiter's hooks are skipped for REST requests (api.limits._rest_request), so a plain
    # `limiter.limit` on a REST view would never be enforced: there must be none.
    rest = world.app.extensions[REST_BLUEPRINTS]
    assert {"redemptions", "kiosk_cards", "offline"} <= rest
    rest_views = {
        get_qualified_name(function)  # how flask-limiter names the views it limits
        for endpoint, view in world.app.view_functions.items()
        if endpoint.split(".")[0] in rest
        for _, function in _handlers(view)
        if function is not None
    }
    decorated = set(limiter.limit_manager._decorated_limits)
    assert decorated, "the sign-in and resident pages keep their flask-limiter limits"
    unenforced = sorted(decorated & rest_views)
    assert unenforced == [], f"draw REST budgets in the view, as api.limits.card_lookup does: {unenforced}"


def _handlers(view: Any) -> list[tuple[str, Any]]:
    """A view function itself, and each method handler of its MethodView class."""
    view_class = getattr(view, "view_class", None)
    methods = [(name, getattr(view_class, name, None)) for name in ("get", "post", "patch", "delete")]
    return [("view", view), *methods]


def _redis_url() -> str:
    """The test Redis, or a skip with the reason (a failure when CLUBCARD_REQUIRE_REDIS=1, as in CI)."""
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except redis.RedisError as error:
        message = f"needs Redis at {REDIS_URL} (CLUBCARD_TEST_REDIS_URL): {error}"
        if os.environ.get("CLUBCARD_REQUIRE_REDIS") == "1":
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    return REDIS_URL


def _send(port: int, secret: str, numbered: tuple[int, tuple[str, str, Any]]) -> tuple[int, Any]:
    """One request on its own connection (so the kernel may hand it to any worker)."""
    number, (method, path, body) = numbered
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    headers = {"Authorization": f"Bearer {secret}", "Content-Type": "application/json"}
    if method == "POST":
        headers["Idempotency-Key"] = f"limit-{number}"
    connection.request(method, path, body=None if body is None else json.dumps(body), headers=headers)
    response = connection.getresponse()
    raw = response.read()
    connection.close()
    return response.status, json.loads(raw) if raw else None


def _hammer(port: int, secret: str, requests: list[tuple[str, str, Any]]) -> list[tuple[int, Any]]:
    """Three budgets' worth of card look-ups, round the endpoints, from many clients at once."""
    numbered = list(enumerate(itertools.islice(itertools.cycle(requests), 3 * LIMIT)))
    with ThreadPoolExecutor(max_workers=CONCURRENT_CLIENTS) as executor:
        return list(executor.map(lambda item: _send(port, secret, item), numbered))


def _every_worker_answering(port: int, secret: str, read_log: Any) -> str:
    """Health checks from many clients until every worker has answered one (a worker still importing the
    app under load answers nothing, and one worker would then take every card look-up); the log so far."""
    health = ("GET", "/healthz", None)
    deadline = time.monotonic() + WARM_UP_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        with ThreadPoolExecutor(max_workers=CONCURRENT_CLIENTS) as executor:
            list(executor.map(lambda n: _send(port, secret, (n, health)), range(CONCURRENT_CLIENTS)))
        log = str(read_log())
        if len(set(re.findall(r"worker=<(\d+)> 200", log))) >= SERVER_WORKERS:
            return log
        time.sleep(0.2)
    pytest.fail(f"not every gunicorn worker answered health checks:\n{read_log()}")


def _assert_exactly_the_limit_got_through(answers: list[tuple[int, Any]]) -> None:
    through = [status for status, _ in answers if status != 429]
    refused = [body for status, body in answers if status == 429]
    assert len(through) == LIMIT, sorted(status for status, _ in answers)
    assert all(status < 500 for status in through), through
    assert {body["type"] for body in refused} == {PROBLEM + "rate-limited"}


def test_clubcard_serve_as_it_ships_lets_exactly_the_limit_through(world: World, tmp_path: Path) -> None:
    cafe, requests = _card_requests(world)
    port = free_port()
    environment = clean_environment(
        CLUBCARD_DATABASE_URL=world.context.settings.database_url,
        CLUBCARD_DATA_DIR=str(tmp_path),
        CLUBCARD_CARD_LOOKUP_LIMIT=LIMIT_TEXT,
    )
    arguments = ["-m", "admin.cli", "serve", "--no-demo", "--port", str(port)]
    with running_server(arguments, port=port, environment=environment, log_path=tmp_path / "serve.log"):
        _assert_exactly_the_limit_got_through(_hammer(port, cafe, requests))


def _gunicorn(port: int, workers: int) -> list[str]:
    """The README's production command, with sync workers so concurrent requests spread over them."""
    return [
        "-m",
        "gunicorn",
        "--workers",
        str(workers),
        "--worker-class",
        "sync",
        "--bind",
        f"127.0.0.1:{port}",
        "--access-logfile",
        "-",
        "--access-logformat",
        "worker=%(p)s %(s)s",
        "api.wsgi:app",
    ]


def test_several_gunicorn_workers_with_redis_let_exactly_the_limit_through(
    world: World, tmp_path: Path
) -> None:
    redis_url = _redis_url()
    cafe, requests = _card_requests(world)
    port = free_port()
    environment = clean_environment(
        CLUBCARD_DATABASE_URL=world.context.settings.database_url,
        CLUBCARD_DATA_DIR=str(tmp_path),
        CLUBCARD_CARD_LOOKUP_LIMIT=LIMIT_TEXT,
        CLUBCARD_REDIS_URL=redis_url,
    )
    log_path = tmp_path / "gunicorn.log"
    with running_server(
        _gunicorn(port, SERVER_WORKERS), port=port, environment=environment, log_path=log_path
    ) as server:
        warm_up = _every_worker_answering(port, cafe, server.log)
        answers = _hammer(port, cafe, requests)
        log = server.log()[len(warm_up) :]
    _assert_exactly_the_limit_got_through(answers)
    answered_by = set(re.findall(r"worker=<(\d+)> \d{3}", log))
    assert len(answered_by) >= 2, f"one worker answered everything:\n{log}"


def test_several_gunicorn_workers_without_redis_refuse_card_lookups(world: World, tmp_path: Path) -> None:
    cafe, requests = _card_requests(world)
    port = free_port()
    environment = clean_environment(
        CLUBCARD_DATABASE_URL=world.context.settings.database_url, CLUBCARD_DATA_DIR=str(tmp_path)
    )
    with running_server(_gunicorn(port, 2), port=port, environment=environment, log_path=tmp_path / "log"):
        status, body = _send(port, cafe, (0, requests[0]))
        health = _send(port, cafe, (1, ("GET", "/healthz", None)))
    assert status == 503 and body["type"] == PROBLEM + "rate-limit-storage-not-shared"
    assert "CLUBCARD_REDIS_URL" in body["detail"]
    assert health == (200, {"status": "ok"})


def test_clubcard_serve_with_several_workers_and_no_redis_refuses_to_start(tmp_path: Path) -> None:
    environment = clean_environment(CLUBCARD_DATA_DIR=str(tmp_path / "data"))
    finished = subprocess.run(
        [sys.executable, "-m", "admin.cli", "serve", "--workers", "4", "--port", str(free_port())],
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert finished.returncode != 0
    assert "--workers 4 needs Redis" in finished.stderr and "CLUBCARD_REDIS_URL" in finished.stderr
    assert "Traceback" not in finished.stderr
    assert not (tmp_path / "data").exists()
