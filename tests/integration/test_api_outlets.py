"""Partner outlets and their kiosk credentials through the REST API, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import func, select

from ledger.db.tables import outlets
from tests.support.api import ApiDriver, assert_problem

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

    assert api.call("GET", "/api/v1/units", device["key"]).status_code == 200
    assert_problem(api.call("GET", f"{OUTLETS}/{outlet['id']}", device["key"]), 403, "forbidden")
    assert_problem(api.call("GET", OUTLETS, device["key"]), 403, "forbidden")

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
    assert_problem(api.call("GET", "/api/v1/units", device["key"]), 401, "unauthenticated")
    assert_problem(api.call("POST", revoke, "admin"), 409, "conflict")
    staff_key = f"{devices}/{api.context.read(lambda uow: _key_id(uow, api.staff('admin')))}/revoke"
    assert_problem(api.call("POST", staff_key, "admin"), 404, "not-found")


def _key_id(uow: Any, secret: str) -> str:
    from ledger.usecases.api_keys import authenticate

    principal = authenticate(uow, secret)
    assert principal is not None
    return principal.key_id


def _staff_log(api: ApiDriver, outlet_id: str) -> list[dict[str, Any]]:
    response = api.call("GET", f"/api/v1/audit/staff-log?action=outlet.update&target={outlet_id}", "auditor")
    assert response.status_code == 200
    return list(response.json["data"])


def test_an_admin_changes_an_outlets_name_categories_and_approved_schemes(api: ApiDriver) -> None:
    api.scheme("leisure")
    api.scheme("release")
    outlet = _outlet(api, categories=["leisure"], schemes=["leisure"])
    path = f"{OUTLETS}/{outlet['id']}"

    renamed = api.call("PATCH", path, "admin", json={"name": "  Riverside Pool "})
    assert renamed.status_code == 200
    assert renamed.json == {**outlet, "name": "Riverside Pool"}
    api.clock.advance(dt.timedelta(seconds=1))  # the log lists newest first
    changed = api.call(
        "PATCH", path, "admin", json={"categories": ["Swimming", "gym"], "schemes": ["release"]}
    )
    assert changed.status_code == 200
    assert changed.json["categories"] == ["gym", "swimming"] and changed.json["schemes"] == ["release"]
    assert changed.json["name"] == "Riverside Pool"
    assert api.call("GET", path, "caseworker").json == changed.json
    api.clock.advance(dt.timedelta(seconds=1))
    emptied = api.call("PATCH", path, "admin", json={"schemes": []})
    assert emptied.status_code == 200 and emptied.json["schemes"] == []

    logged = _staff_log(api, outlet["id"])
    assert [entry["detail"] for entry in reversed(logged)] == [
        {"before": {"name": "Riverside Leisure Centre"}, "after": {"name": "Riverside Pool"}},
        {
            "before": {"categories": ["leisure"], "schemes": ["leisure"]},
            "after": {"categories": ["gym", "swimming"], "schemes": ["release"]},
        },
        {"before": {"schemes": ["release"]}, "after": {"schemes": []}},
    ]


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"schemes": ["no-such-scheme"]},
        {"schemes": ["leisure", "no-such-scheme"]},
        {"name": ""},
        {"name": None},
        {"categories": "leisure"},
        {"schemes": ["Not A Slug"]},
        {"colour": "blue"},
        {"name": "Nul\x00Byte"},
        {"id": "00000000-0000-0000-0000-000000000000"},
    ],
)
def test_a_bad_outlet_change_is_refused_and_changes_nothing(api: ApiDriver, body: Any) -> None:
    api.scheme("leisure")
    outlet = _outlet(api, schemes=["leisure"])
    path = f"{OUTLETS}/{outlet['id']}"
    assert_problem(api.call("PATCH", path, "admin", json=body), 422, "validation")
    assert api.call("GET", path, "admin").json == outlet
    assert _staff_log(api, outlet["id"]) == []


def test_only_an_admin_changes_an_outlet_and_only_one_that_exists(api: ApiDriver) -> None:
    outlet = _outlet(api)
    for role in ("scheme_manager", "caseworker", "finance", "auditor"):
        assert_problem(
            api.call("PATCH", f"{OUTLETS}/{outlet['id']}", role, json={"name": "X"}), 403, "forbidden"
        )
    device = api.new_key("device", outlet["id"])
    refused = api.call("PATCH", f"{OUTLETS}/{outlet['id']}", device, json={"name": "Mine now"})
    assert_problem(refused, 403, "forbidden")
    missing = api.call(
        "PATCH", f"{OUTLETS}/00000000-0000-0000-0000-000000000000", "admin", json={"name": "X"}
    )
    assert_problem(missing, 404, "not-found")
    assert api.call("GET", f"{OUTLETS}/{outlet['id']}", "admin").json["name"] == outlet["name"]
