"""Partner outlets and their kiosk credentials through the REST API, on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from ledger.db.tables import outlets
from tests.integration.api_support import ApiDriver, api_fixture, assert_problem  # noqa: F401

OUTLETS = "/api/v1/outlets"


def _outlet(api: ApiDriver, name: str = "Riverside Leisure Centre", **extra: Any) -> dict[str, Any]:
    body = {"name": name, "categories": ["leisure", "swimming"], "schemes": [], **extra}
    response = api.call("POST", OUTLETS, "admin", json=body)
    assert response.status_code == 201, response.json
    return dict(response.json)


def test_create_list_and_read_outlets(api: ApiDriver) -> None:
    api.scheme("leisure")
    created = _outlet(api, categories=["Leisure", "music", "leisure"], schemes=["leisure"])
    assert created["categories"] == ["leisure", "music"] and created["schemes"] == ["leisure"]
    second = _outlet(api, "Central Library")

    assert api.call("GET", f"{OUTLETS}/{created['id']}", "auditor").json == created
    first_page = api.call("GET", f"{OUTLETS}?limit=1", "scheme_manager").json
    assert first_page["has_more"] is True
    after = first_page["data"][0]["id"]
    rest = api.call("GET", f"{OUTLETS}?limit=5&starting_after={after}", "finance").json
    assert rest["has_more"] is False
    assert {after, rest["data"][0]["id"]} == {created["id"], second["id"]}

    assert_problem(api.call("POST", OUTLETS, "scheme_manager", json={"name": "X"}), 403, "forbidden")
    assert_problem(api.call("GET", OUTLETS), 401, "unauthenticated")
    assert_problem(api.call("GET", f"{OUTLETS}/nope", "admin"), 404, "not-found")
    assert_problem(api.call("GET", f"{OUTLETS}?starting_after=%00", "admin"), 422, "validation")


@pytest.mark.parametrize(
    "body",
    [
        {"name": "Unknown Scheme", "schemes": ["no-such-scheme"]},
        {"name": "", "schemes": []},
        {"categories": ["leisure"]},
        {"name": "Bad Categories", "categories": "leisure"},
        {"name": "Bad Category", "categories": [7]},
        {"name": "Bad Slug", "schemes": ["Not A Slug"]},
        {"name": "Extra", "colour": "blue"},
        {"name": ["Array"]},
        {"name": "Nul\x00Byte"},
        {"name": "Bad Cursor", "categories": ["tab\there"]},
    ],
)
def test_bad_outlet_input_is_refused_and_nothing_is_created(api: ApiDriver, body: Any) -> None:
    api.scheme("leisure")
    assert_problem(api.call("POST", OUTLETS, "admin", json=body), 422, "validation")
    count = api.context.read(lambda uow: uow.execute_now(select(func.count()).select_from(outlets)).scalar())
    assert count == 0


def test_a_kiosk_credential_works_until_revoked(api: ApiDriver) -> None:
    outlet = _outlet(api)
    other = _outlet(api, "Elsewhere Library")
    devices = f"{OUTLETS}/{outlet['id']}/devices"

    created = api.call("POST", devices, "admin", json={"label": "front desk"})
    assert created.status_code == 201
    device = created.json
    assert device["key"].startswith(device["prefix"]) and device["label"] == "front desk"
    assert api.call("POST", devices, "admin", json={"label": "back office"}).status_code == 201
    for bad in ({}, {"label": ""}, {"label": "a\x00b"}, {"label": "x", "role": "admin"}, None):
        assert_problem(api.call("POST", devices, "admin", json=bad), 422, "validation")
    assert_problem(api.call("POST", devices, "caseworker", json={"label": "x"}), 403, "forbidden")
    assert_problem(
        api.call("POST", f"{OUTLETS}/nope/devices", "admin", json={"label": "x"}), 404, "not-found"
    )

    assert api.call("GET", "/api/v1/units", secret=device["key"]).status_code == 200
    assert_problem(api.call("GET", f"{OUTLETS}/{outlet['id']}", secret=device["key"]), 403, "forbidden")
    assert_problem(api.call("GET", OUTLETS, secret=device["key"]), 403, "forbidden")

    listed = api.call("GET", devices, "admin")
    assert listed.status_code == 200 and len(listed.json) == 2
    assert device["key"] not in listed.get_data(as_text=True)
    assert all("key" not in row and row["revoked"] is False for row in listed.json)

    wrong_outlet = f"{OUTLETS}/{other['id']}/devices/{device['id']}/revoke"
    assert_problem(api.call("POST", wrong_outlet, "admin"), 404, "not-found")
    revoke = f"{devices}/{device['id']}/revoke"
    assert_problem(api.call("POST", revoke, "scheme_manager"), 403, "forbidden")
    revoked = api.call("POST", revoke, "admin")
    assert revoked.status_code == 200 and revoked.json["revoked"] is True
    assert_problem(api.call("GET", "/api/v1/units", secret=device["key"]), 401, "unauthenticated")
    assert_problem(api.call("POST", revoke, "admin"), 409, "conflict")
    staff_key = f"{devices}/{api.context.read(lambda uow: _key_id(uow, api.key('admin')))}/revoke"
    assert_problem(api.call("POST", staff_key, "admin"), 404, "not-found")


def _key_id(uow: Any, secret: str) -> str:
    from ledger.usecases.api_keys import authenticate

    principal = authenticate(uow, secret)
    assert principal is not None
    return principal.key_id
