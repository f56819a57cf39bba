"""Every endpoint by every role: the allowed roles get past authorization, the others get 403, no key 401.

The expected roles are written out here from API.md, independently of the code, so a view that forgets its
role check (or checks the wrong roles) fails this test. Every /api/v1 route must appear in the table.
"""

from __future__ import annotations

import re

import pytest

from tests.support.api import AUTO, STAFF_ROLES, ApiDriver

STAFF = set(STAFF_ROLES)
ANY = STAFF | {"device"}

# (method, path, roles allowed) — from API.md's resource table.
MATRIX: list[tuple[str, str, set[str]]] = [
    ("GET", "/api/v1/units", ANY),
    ("GET", "/api/v1/schemes", STAFF),
    ("POST", "/api/v1/schemes", {"admin", "scheme_manager"}),
    ("GET", "/api/v1/schemes/{slug}", STAFF),
    ("PATCH", "/api/v1/schemes/{slug}", {"admin", "scheme_manager"}),
    ("POST", "/api/v1/schemes/{slug}/funding", {"finance"}),
    ("POST", "/api/v1/schemes/{slug}/members", {"caseworker", "scheme_manager"}),
    ("GET", "/api/v1/schemes/{slug}/members", STAFF),
    ("POST", "/api/v1/residents", {"caseworker", "admin"}),
    ("GET", "/api/v1/residents", {"caseworker", "admin"}),
    ("GET", "/api/v1/residents/{id}", {"caseworker", "admin", "auditor"}),
    ("GET", "/api/v1/residents/{id}/export", {"caseworker", "admin"}),
    ("DELETE", "/api/v1/residents/{id}/personal-data", {"admin"}),
    ("POST", "/api/v1/residents/{id}/cards", {"caseworker", "admin"}),
    ("GET", "/api/v1/cards/{number}/qr.png", {"caseworker", "admin"}),
    ("GET", "/api/v1/cards/{number}/qr.svg", {"caseworker", "admin"}),
    ("GET", "/api/v1/cards/{number}/card.pdf", {"caseworker", "admin"}),
    ("GET", "/api/v1/cards/{number}", {"caseworker", "admin"}),
    ("POST", "/api/v1/cards/{number}/block", {"caseworker", "admin"}),
    ("POST", "/api/v1/cards/{number}/replace", {"caseworker", "admin"}),
    ("POST", "/api/v1/issuances", {"caseworker", "scheme_manager"}),
    ("POST", "/api/v1/issuances/bulk", {"scheme_manager"}),
    ("GET", "/api/v1/jobs/{id}", {"scheme_manager", "admin"}),
    ("GET", "/api/v1/jobs/{id}/refusals", {"scheme_manager", "admin"}),
    ("POST", "/api/v1/earnings", {"device", "scheme_manager"}),
    ("POST", "/api/v1/transfers", {"device", "caseworker"}),
    ("GET", "/api/v1/cards/{token}/entitlements", {"device"}),
    ("GET", "/api/v1/cards/by-number/{number}/entitlements", {"device"}),
    ("POST", "/api/v1/offline-redemptions", {"device"}),
    ("POST", "/api/v1/offline-redemptions/batch", {"device"}),
    ("GET", "/api/v1/offline-profile", {"device"}),
    ("GET", "/api/v1/offline-shortfalls", {"finance", "admin", "scheme_manager"}),
    ("POST", "/api/v1/offline-shortfalls/{id}/resolve", {"finance", "admin", "scheme_manager"}),
    ("POST", "/api/v1/redemptions", {"device"}),
    ("POST", "/api/v1/redemptions/{id}/refund", {"device", "finance"}),
    ("POST", "/api/v1/holds", {"device"}),
    ("POST", "/api/v1/holds/{id}/capture", {"device"}),
    ("POST", "/api/v1/holds/{id}/void", {"device"}),
    ("GET", "/api/v1/accounts/{id}", STAFF),
    ("GET", "/api/v1/accounts/{id}/entries", STAFF),
    ("GET", "/api/v1/transactions/{id}", ANY),
    ("GET", "/api/v1/transactions/{id}/proof", ANY),
    ("GET", "/api/v1/audit/trial-balance", {"auditor", "finance"}),
    ("GET", "/api/v1/audit/journal", {"auditor"}),
    ("GET", "/api/v1/audit/checkpoints", {"auditor"}),
    ("POST", "/api/v1/audit/checkpoints", {"admin", "finance"}),
    ("GET", "/api/v1/audit/staff-log", {"auditor", "admin"}),
    ("GET", "/api/v1/outlets", STAFF),
    ("POST", "/api/v1/outlets", {"admin"}),
    ("GET", "/api/v1/outlets/{id}", STAFF),
    ("PATCH", "/api/v1/outlets/{id}", {"admin"}),
    ("POST", "/api/v1/outlets/{id}/devices", {"admin"}),
    ("GET", "/api/v1/outlets/{id}/devices", {"admin"}),
    ("POST", "/api/v1/outlets/{id}/devices/{device_id}/revoke", {"admin"}),
    ("POST", "/api/v1/topups", {"admin", "scheme_manager", "caseworker", "finance"}),
    ("GET", "/api/v1/topups/{id}", {"admin", "scheme_manager", "caseworker", "finance", "auditor"}),
    ("POST", "/api/v1/settlements", {"finance"}),
    ("GET", "/api/v1/settlements", {"finance", "admin", "auditor"}),
    ("GET", "/api/v1/settlements/{id}", {"finance", "admin", "auditor"}),
    ("POST", "/api/v1/settlements/{id}/approve", {"finance"}),
    ("POST", "/api/v1/settlements/{id}/paid", {"finance"}),
]

ROLES = (*STAFF_ROLES, "device")


def _concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "00000000-0000-0000-0000-000000000000", path)


@pytest.fixture(name="api")
def api_with_a_device(api: ApiDriver) -> ApiDriver:
    """The API with a key per staff role and a device key bound to a real outlet."""
    _, api.secrets["device"] = api.outlet(["leisure-centre"], [], name="Pool")
    return api


def test_every_api_route_is_in_the_matrix(api: ApiDriver) -> None:
    # Parameter names are the code's business; the shape of the path is the contract's.
    documented = {(method, re.sub(r"\{[^}]+\}", "{}", path)) for method, path, _ in MATRIX}
    for rule in api.app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1/"):
            continue  # /api/v1 itself is the public index of links, like /.well-known: no key, no role
        path = re.sub(r"<[^>]+>", "{}", rule.rule)
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            assert (method, path) in documented, f"{method} {path} has no row in the authorization matrix"


@pytest.mark.parametrize(("method", "path", "allowed"), MATRIX, ids=[f"{m} {p}" for m, p, _ in MATRIX])
def test_each_role_is_allowed_or_forbidden_as_the_contract_says(
    api: ApiDriver, method: str, path: str, allowed: set[str]
) -> None:
    url = _concrete(path)
    anonymous = api.client.open(url, method=method, json={})
    assert anonymous.status_code == 401, f"{method} {path} without a key: {anonymous.status_code}"
    assert anonymous.content_type == "application/problem+json"
    for role in ROLES:
        response = api.call(method, url, role, json={}, key=AUTO)
        if role in allowed:
            assert response.status_code not in (401, 403), f"{role} should be allowed: {method} {path}"
        else:
            assert response.status_code == 403, (
                f"{role} should be forbidden: {method} {path} {response.status_code}"
            )
            assert response.json["type"].endswith("/forbidden")
