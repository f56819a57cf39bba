"""Bad input on every write: a clear problem+json, never a 500, and nothing changed in the ledger."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from ledger.db.tables import accounts, idempotency_keys, postings, transactions
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


def _counts(driver: ApiDriver) -> tuple[int, ...]:
    def count(uow: Any) -> tuple[int, ...]:
        return tuple(
            int(uow.connection.execute(select(func.count()).select_from(table)).scalar_one())
            for table in (transactions, postings, accounts, idempotency_keys)
        )

    return driver.context.read(count)


@pytest.fixture
def api(database_url: str, tmp_path: Path) -> ApiDriver:
    """An API with a funded scheme, an outlet and a device."""
    driver = ApiDriver(database_url, tmp_path)
    created = driver.call(
        "POST", "/api/v1/schemes", "admin", {"slug": "leisure", "name": "Leisure", "unit": "GBP"}
    )
    assert created.status_code == 201
    funded = driver.call("POST", "/api/v1/schemes/leisure/funding", "finance", {"amount_minor": 10_000})
    assert funded.status_code == 201
    outlet = driver.call(
        "POST",
        "/api/v1/outlets",
        "admin",
        {"name": "Pool", "categories": ["leisure-centre"], "schemes": ["leisure"]},
    )
    driver.keys["device"] = driver.key("device", outlet.json["id"])
    driver.outlet_id = outlet.json["id"]  # type: ignore[attr-defined]
    return driver


@pytest.mark.parametrize(("method", "path", "allowed"), WRITES, ids=[f"{m} {p}" for m, p, _ in WRITES])
def test_bad_input_gets_a_problem_and_changes_nothing(
    api: ApiDriver, method: str, path: str, allowed: set[str]
) -> None:
    url = re.sub(r"\{slug\}", "leisure", path)
    url = re.sub(
        r"\{id\}", api.outlet_id if "/outlets/" in path else "00000000-0000-0000-0000-000000000000", url
    )  # type: ignore[attr-defined]
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
