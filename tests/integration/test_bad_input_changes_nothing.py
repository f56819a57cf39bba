"""Bad input on every write: a clear problem+json, never a 500, and nothing changed in the ledger."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from sqlalchemy import func, select

from ledger.db.tables import (
    accounts,
    idempotency_keys,
    outlets,
    postings,
    residents,
    scheme_versions,
    schemes,
    staff_actions,
    transactions,
)
from tests.integration.test_authorization_matrix import MATRIX
from tests.support.api import ApiDriver

# Writes that take no body at all: an empty request is their normal form, so "no body" is not bad input.
BODYLESS = {("POST", "/api/v1/audit/checkpoints")}

WRITES = [
    (method, path, allowed) for method, path, allowed in MATRIX if method in {"POST", "PATCH", "DELETE"}
]

BAD_BODIES: list[Any] = [
    {"amount_minor": 2.5},
    {"amount_minor": "7"},
    {"amount_minor": True},
    {"amount_minor": 1e3},
    {"amount_minor": -5},
    {"amount_minor": 10**30},
    {"unexpected": {"nested": ["x" * 10_000]}},
    [],
    "not an object",
    None,
]


TABLES = (
    transactions,
    postings,
    accounts,
    idempotency_keys,
    staff_actions,
    schemes,
    scheme_versions,
    outlets,
    residents,
)


def _counts(driver: ApiDriver) -> tuple[int, ...]:
    def count(uow: Any) -> tuple[int, ...]:
        return tuple(
            int(uow.connection.execute(select(func.count()).select_from(table)).scalar_one())
            for table in TABLES
        )

    return driver.context.read(count)


@pytest.fixture(name="api")
def api_with_a_scheme_and_a_device(api: ApiDriver) -> ApiDriver:
    """An API with a funded scheme, an outlet and a device."""
    api.scheme("leisure", funded=10_000, name="Leisure")
    outlet_id, api.secrets["device"] = api.outlet(["leisure-centre"], ["leisure"], name="Pool")
    api.outlet_id = outlet_id  # type: ignore[attr-defined]
    return api


@pytest.mark.parametrize(("method", "path", "allowed"), WRITES, ids=[f"{m} {p}" for m, p, _ in WRITES])
def test_bad_input_gets_a_problem_and_changes_nothing(
    api: ApiDriver, method: str, path: str, allowed: set[str]
) -> None:
    url = re.sub(r"\{slug\}", "leisure", path)
    outlet_id: str = api.outlet_id  # type: ignore[attr-defined]
    url = re.sub(r"\{id\}", outlet_id if "/outlets/" in path else "00000000-0000-0000-0000-000000000000", url)
    url = re.sub(r"\{[^}]+\}", "00000000-0000-0000-0000-000000000000", url)
    role = sorted(allowed)[0]
    before = _counts(api)
    for body in BAD_BODIES:
        if body is None and (method, path) in BODYLESS:
            continue
        response = api.client.open(url, method=method, json=body, headers=api.headers(role))
        assert 400 <= response.status_code < 500, f"{method} {url} {body!r}: {response.status_code}"
        assert response.content_type == "application/problem+json"
        problem = response.json
        assert problem["type"].startswith("https://clubcard.example/problems/")
        assert problem["detail"] and "Traceback" not in problem["detail"]
    assert _counts(api) == before, f"{method} {path}: bad input changed the ledger"


@pytest.mark.parametrize(
    ("method", "path", "role", "body"),
    [
        (
            "POST",
            "/api/v1/issuances",
            "caseworker",
            {"scheme": "\u0000", "resident_id": "r", "amount_minor": 1},
        ),
        ("POST", "/api/v1/issuances/bulk", "scheme_manager", {"scheme": "le\u0000isure"}),
        ("POST", "/api/v1/schemes/leisure/members", "caseworker", {"resident_id": "\u0000"}),
    ],
)
def test_a_nul_character_in_a_json_body_is_a_validation_problem(
    api: ApiDriver, method: str, path: str, role: str, body: dict[str, Any]
) -> None:
    before = _counts(api)
    response = api.client.open(path, method=method, json=body, headers=api.headers(role))
    assert 400 <= response.status_code < 500, response.get_data(as_text=True)
    assert response.content_type == "application/problem+json"
    assert _counts(api) == before


def _raw(api: ApiDriver, method: str, path: str, role: str, raw: bytes) -> Any:
    headers = api.headers(role)
    return api.client.open(path, method=method, data=raw, content_type="application/json", headers=headers)


def _validation(response: Any, status: int = 422) -> dict[str, Any]:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.content_type == "application/problem+json"
    problem = dict(response.json)
    assert problem["type"] == "https://clubcard.example/problems/validation", problem
    assert problem["detail"] and "Traceback" not in problem["detail"]
    return problem


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/api/v1/schemes", {"slug": "nul", "name": "Nul\u0000Scheme", "unit": "GBP"}),
        ("/api/v1/schemes", {"slug": "surrogate", "name": "\udcff", "unit": "GBP"}),
        ("/api/v1/schemes", {"slug": "escape", "name": "Leisure \u001b[2J", "unit": "GBP"}),
        ("/api/v1/schemes/leisure/funding", {"amount_minor": 100, "reference": "grant \udcff"}),
        ("/api/v1/schemes/leisure/funding", {"amount_minor": 100, "reference": "grant\u0000"}),
        ("/api/v1/outlets", {"name": "Pool", "categories": ["pool\udcff"]}),
    ],
)
def test_nul_control_characters_and_lone_surrogates_in_text_are_validation_problems(
    api: ApiDriver, path: str, body: dict[str, Any]
) -> None:
    role = "finance" if path.endswith("/funding") else "admin"
    before = _counts(api)
    problem = _validation(_raw(api, "POST", path, role, json.dumps(body).encode()))
    assert "text may not contain" in problem["detail"]
    assert _counts(api) == before


def test_a_refund_reason_with_nul_is_refused_and_the_redemption_stands(api: ApiDriver) -> None:
    resident = api.post(
        "/api/v1/residents", {"kind": "person", "name": "Ada", "date_of_birth": "2010-06-15"}, "caseworker"
    ).json["id"]
    member = api.post("/api/v1/schemes/leisure/members", {"resident_id": resident}, "caseworker")
    assert member.status_code == 201
    token = api.post(f"/api/v1/residents/{resident}/cards", None, "caseworker").json["token"]
    issue = {"scheme": "leisure", "resident_id": resident, "amount_minor": 500}
    issued = api.post("/api/v1/issuances", {**issue, "expires_at": "2027-01-01T00:00:00Z"}, "caseworker")
    assert issued.status_code == 201, issued.json
    spend = {"card_token": token, "amount_minor": 200, "scheme": "leisure"}
    spent = api.post("/api/v1/redemptions", spend, "device")
    assert spent.status_code == 201, spent.json
    refund = f"/api/v1/redemptions/{spent.json['transaction_id']}/refund"
    before = _counts(api)
    for reason in ("changed\u0000mind", "\udcff", "\u0007bell"):
        _validation(_raw(api, "POST", refund, "device", json.dumps({"reason": reason}).encode()))
    assert _counts(api) == before
    accepted = api.post(refund, {"reason": "changed their mind\nsecond line"}, "device")
    assert accepted.status_code == 201, accepted.json


EDGES = ["9999-12-31T23:59:59-14:00", "0001-01-01T00:00:00+14:00"]


@pytest.mark.parametrize("instant", EDGES)
@pytest.mark.parametrize(
    ("path", "name", "role"),
    [
        ("/api/v1/audit/trial-balance", "at", "auditor"),
        ("/api/v1/accounts/{budget}", "at", "auditor"),
        ("/api/v1/audit/journal", "from", "auditor"),
        ("/api/v1/audit/journal", "to", "auditor"),
    ],
)
def test_an_instant_outside_the_calendar_in_a_query_is_a_validation_problem(
    api: ApiDriver, path: str, name: str, role: str, instant: str
) -> None:
    budget = api.call("GET", "/api/v1/schemes/leisure", "auditor").json["budget_account_id"]
    url = path.replace("{budget}", budget)
    problem = _validation(api.client.get(url, query_string={name: instant}, headers=api.headers(role)))
    assert "outside the years 0001 to 9999" in problem["detail"]


@pytest.mark.parametrize("path", ["/api/v1/issuances", "/api/v1/issuances/bulk"])
@pytest.mark.parametrize("instant", EDGES)
def test_an_expiry_outside_the_calendar_is_a_validation_problem(
    api: ApiDriver, path: str, instant: str
) -> None:
    body = {"scheme": "leisure", "resident_id": "r", "amount_minor": 100, "expires_at": instant}
    if path.endswith("/bulk"):
        del body["resident_id"]
    before = _counts(api)
    problem = _validation(_raw(api, "POST", path, "scheme_manager", json.dumps(body).encode()))
    assert "expires_at" in problem["detail"] and "outside the years 0001 to 9999" in problem["detail"]
    assert _counts(api) == before


@pytest.mark.parametrize(
    ("raw", "status"),
    [
        (b"[" * 100_000, 422),
        (b'{"amount_minor": ' + b"9" * 5001 + b"}", 422),
        (b'{"amount_minor": NaN}', 400),
        (b'{"amount_minor": 1', 400),
    ],
    ids=["100,000 nested brackets", "a 5,001-digit amount", "NaN", "cut short"],
)
def test_a_body_no_parser_should_take_is_refused_before_it_reaches_a_view(
    api: ApiDriver, raw: bytes, status: int
) -> None:
    before = _counts(api)
    _validation(_raw(api, "POST", "/api/v1/schemes/leisure/funding", "finance", raw), status)
    assert _counts(api) == before


@pytest.mark.parametrize(
    ("path", "role", "body"),
    [
        ("/api/v1/schemes", "admin", {"slug": "lines", "name": "Leisure\nCentre", "unit": "GBP"}),
        ("/api/v1/schemes", "admin", {"slug": "tabs", "name": "Leisure\tCentre", "unit": "GBP"}),
        (
            "/api/v1/schemes",
            "admin",
            {
                "slug": "wards",
                "name": "Wards",
                "unit": "GBP",
                "rules": {"eligibility": {"wards": ["North\r"]}},
            },
        ),
        ("/api/v1/issuances/bulk", "scheme_manager", {"scheme": "leisure", "category": "swim\npool"}),
    ],
)
def test_a_tab_or_line_break_in_a_one_line_field_is_a_validation_problem(
    api: ApiDriver, path: str, role: str, body: dict[str, Any]
) -> None:
    before = _counts(api)
    problem = _validation(_raw(api, "POST", path, role, json.dumps(body).encode()))
    assert "must be one line" in problem["detail"]
    assert _counts(api) == before
