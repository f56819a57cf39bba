"""Security headers on every kind of response, on SQLite and PostgreSQL: JSON, problems, HTML, 404s."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from werkzeug.test import TestResponse

from api.app import create_app
from api.security_headers import parse_trusted_proxy_count
from tests.integration.value_support import LEISURE
from tests.support.api import World

NONCE = re.compile(r"'nonce-([^']+)'")


def _assert_security_headers(response: TestResponse) -> str:
    """The headers every response carries; returns its Content-Security-Policy."""
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert response.headers["X-Frame-Options"] == "DENY"
    policy = response.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in policy
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
    return policy


def _teen_at_the_pool(world: World) -> tuple[str, str]:
    """A funded teen's card token and a leisure centre's device key."""
    leisure = world.scheme("leisure", "GBP", LEISURE, funded=10_000)
    teen = world.resident((leisure,))
    _, token = world.card(teen)
    issued = world.post(
        "/api/v1/issuances", {"scheme": "leisure", "resident_id": teen}, world.staff("caseworker")
    )
    assert issued.status_code == 201, issued.get_json()
    _, pool = world.outlet(["leisure-centre"], ["leisure"])
    return token, pool


def test_json_answers_carry_the_security_headers_and_are_never_stored(world: World) -> None:
    listed = world.get("/api/v1/schemes", world.staff("admin"))
    assert listed.status_code == 200 and listed.content_type == "application/json"
    _assert_security_headers(listed)
    assert listed.headers["Cache-Control"] == "no-store"


def test_entitlements_and_receipts_are_never_stored(world: World) -> None:
    token, pool = _teen_at_the_pool(world)
    seen = world.get(f"/api/v1/cards/{token}/entitlements", pool)
    assert seen.status_code == 200, seen.get_json()
    spend = {"card_token": token, "scheme": "leisure", "amount_minor": 250}
    receipt = world.post("/api/v1/redemptions", spend, pool)
    assert receipt.status_code == 201, receipt.get_json()
    for response in (seen, receipt):
        _assert_security_headers(response)
        assert response.headers["Cache-Control"] == "no-store"


def test_a_new_kiosk_key_is_never_stored(world: World) -> None:
    outlet_id, _ = world.outlet(["library"], [])
    created = world.post(f"/api/v1/outlets/{outlet_id}/devices", {"label": "desk"}, world.staff("admin"))
    assert created.status_code == 201, created.get_json()
    _assert_security_headers(created)
    assert created.headers["Cache-Control"] == "no-store"


def test_problems_and_404s_carry_the_security_headers(world: World) -> None:
    unauthenticated = world.client.get("/api/v1/schemes")
    invalid = world.post("/api/v1/schemes", {"slug": 5}, world.staff("scheme_manager"))
    missing = world.get("/api/v1/no-such-thing", world.staff("admin"))
    nowhere = world.client.get("/not-an-api-path")
    for response, status in ((unauthenticated, 401), (invalid, 422), (missing, 404), (nowhere, 404)):
        assert response.status_code == status
        assert response.content_type == "application/problem+json"
        _assert_security_headers(response)
        assert response.headers["Cache-Control"] == "no-store"


def test_the_docs_page_runs_only_the_script_that_carries_this_requests_nonce(world: World) -> None:
    first, second = world.client.get("/api/docs"), world.client.get("/api/docs")
    nonces = []
    for page in (first, second):
        assert page.status_code == 200 and page.content_type.startswith("text/html")
        policy = _assert_security_headers(page)
        assert "script-src 'self' 'nonce-" in policy and "default-src 'self'" in policy
        (nonce,) = NONCE.findall(policy)
        html = page.get_data(as_text=True)
        assert html.count("<script") == 2 and html.count(f'<script nonce="{nonce}">') == 1
        assert 'style="' not in html and " onload=" not in html
        nonces.append(nonce)
    assert nonces[0] != nonces[1]


def test_only_public_material_is_cached_and_only_where_its_view_says_so(world: World) -> None:
    keys = world.client.get("/.well-known/clubcard-keys")
    assert keys.status_code == 200
    assert keys.headers["Cache-Control"] == "public, max-age=60"
    asset = world.client.get("/assets/swagger-ui/swagger-ui.css")
    assert asset.status_code == 200
    assert (
        "max-age=3600" in asset.headers["Cache-Control"] and "no-store" not in asset.headers["Cache-Control"]
    )
    for response in (keys, asset):
        _assert_security_headers(response)


def test_no_hsts_over_plain_http_even_when_a_client_claims_https(world: World) -> None:
    plain = world.client.get("/api/docs")
    claimed = world.client.get("/api/docs", headers={"X-Forwarded-Proto": "https"})
    for response in (plain, claimed):
        assert response.status_code == 200
        assert "Strict-Transport-Security" not in response.headers


@pytest.fixture
def behind_a_proxy(database_url: str, tmp_path: Path) -> Iterator[Flask]:
    """The app configured to trust one proxy in front of it (CLUBCARD_TRUSTED_PROXY_COUNT=1)."""
    app = create_app(
        {
            "CLUBCARD_DATABASE_URL": database_url,
            "CLUBCARD_DATA_DIR": str(tmp_path),
            "CLUBCARD_TRUSTED_PROXY_COUNT": "1",
        }
    )
    yield app
    app.extensions["clubcard"].engine.dispose()


def test_hsts_when_the_trusted_proxy_says_the_request_came_over_https(behind_a_proxy: Flask) -> None:
    client = behind_a_proxy.test_client()
    over_https = client.get("/api/v1/schemes", headers={"X-Forwarded-Proto": "https"})
    assert over_https.status_code == 401
    assert over_https.headers["Strict-Transport-Security"] == "max-age=31536000"
    _assert_security_headers(over_https)
    over_http = client.get("/api/v1/schemes", headers={"X-Forwarded-Proto": "http"})
    assert "Strict-Transport-Security" not in over_http.headers
    # Two values: the client's own claim, then what the one trusted proxy saw (plain HTTP).
    forged = client.get("/api/v1/schemes", headers={"X-Forwarded-Proto": "https, http"})
    assert "Strict-Transport-Security" not in forged.headers


def test_plain_http_is_served_not_redirected_behind_a_proxy(behind_a_proxy: Flask) -> None:
    health = behind_a_proxy.test_client().get("/healthz")
    assert health.status_code == 200 and health.get_json() == {"status": "ok"}


def test_the_form_session_cookie_is_secure_over_https_and_still_works_over_plain_http(
    behind_a_proxy: Flask,
) -> None:
    client = behind_a_proxy.test_client()

    over_https = client.get("/admin/sign-in", headers={"X-Forwarded-Proto": "https"})
    over_http = behind_a_proxy.test_client().get("/admin/sign-in")

    assert "; Secure" in over_https.headers["Set-Cookie"]
    assert "Set-Cookie" in over_http.headers and "Secure" not in over_http.headers["Set-Cookie"]


def test_a_trusted_proxy_count_must_be_a_whole_number() -> None:
    assert parse_trusted_proxy_count(None) == 0
    assert parse_trusted_proxy_count(" 2 ") == 2
    with pytest.raises(ValueError, match="CLUBCARD_TRUSTED_PROXY_COUNT must be a whole number"):
        parse_trusted_proxy_count("two")
