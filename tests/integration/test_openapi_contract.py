"""schemathesis over the whole OpenAPI document: no server errors, no response that breaks the schema."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import Case
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.integration.test_authorization_matrix import MATRIX
from tests.support.api import ApiDriver

schemathesis_checks = [status_code_conformance, content_type_conformance, response_schema_conformance]


@pytest.fixture
def api_schema(database_url: str, tmp_path: Path) -> schemathesis.BaseSchema:
    """The served OpenAPI document, bound to an app on a fresh database with a key per role."""
    driver = ApiDriver(database_url, tmp_path)
    outlet = driver.call(
        "POST", "/api/v1/outlets", "admin", {"name": "Pool", "categories": ["leisure-centre"], "schemes": []}
    )
    driver.keys["device"] = driver.key("device", outlet.json["id"])
    schema = schemathesis.openapi.from_wsgi("/api/openapi.json", driver.app)
    schema.driver = driver  # type: ignore[attr-defined]
    return schema


schema = schemathesis.pytest.from_fixture("api_schema")


def _role_for(method: str, path: str) -> str | None:
    for row_method, row_path, allowed in MATRIX:
        if row_method == method and re.fullmatch(re.sub(r"\{[^}]+\}", "[^/]+", row_path), path):
            return sorted(allowed)[0]
    return None


@schema.parametrize()
@settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))
def test_the_api_never_fails_and_always_matches_its_schema(case: Case) -> None:
    driver: ApiDriver = case.operation.schema.driver  # type: ignore[attr-defined]
    role = _role_for(case.method.upper(), case.formatted_path)
    headers = driver.headers(role) if role else {}
    response = case.call(headers=headers)
    assert response.status_code < 500, f"{case.method} {case.formatted_path}: {response.status_code}"
    case.validate_response(response, checks=schemathesis_checks)
