"""Outlets and kiosks in the staff UI, on SQLite and PostgreSQL: register and change outlets, create a
kiosk's device key (shown once, with its QR code) and revoke it; every change in the staff log."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from werkzeug.test import TestResponse

from admin.web.pages import outlets
from admin.web.pages.outlets import kiosk_configuration
from ledger.units import Unit
from ledger.usecases.api_keys import create_key
from ledger.usecases.schemes import create_scheme
from tests.support.staff_web import StaffWeb, csrf_token, page_text, staff_web_fixture  # noqa: F401

NEW_OUTLET = {
    "name": "Riverside Leisure Centre",
    "categories": "Leisure, music-tuition, leisure",
    "schemes": ["leisure"],
}


@pytest.fixture
def admin(staff_web: StaffWeb) -> StaffWeb:
    for slug, name in (("leisure", "Leisure vouchers"), ("release", "Release vouchers")):
        staff_web.context.write(
            lambda uow, slug=slug, name=name: create_scheme(  # type: ignore[misc]
                uow, slug=slug, name=name, unit=Unit.GBP, rules={}, now=staff_web.clock.now(), actor="t"
            )
        )
    staff_web.sign_in("admin")
    return staff_web


def _register(web: StaffWeb, form: dict[str, Any] | None = None) -> str:
    response = web.post_form("/admin/outlets/new", form or NEW_OUTLET)
    assert response.status_code == 302, page_text(response)
    location: str = response.headers["Location"]
    return location.rsplit("/", 1)[-1]


def _outlet(web: StaffWeb, outlet_id: str) -> dict[str, Any]:
    response = web.client.get(f"/api/v1/outlets/{outlet_id}", headers=_bearer(web, "admin"))
    assert response.status_code == 200
    return dict(response.get_json())


def _bearer(web: StaffWeb, role: str) -> dict[str, str]:
    made = web.context.write(
        lambda uow: create_key(uow, role=role, outlet_id=None, label=role, now=web.clock.now())
    )
    return {"Authorization": f"Bearer {made.secret}"}


def _log(web: StaffWeb, action: str) -> list[dict[str, Any]]:
    response = web.client.get(
        "/api/v1/audit/staff-log", query_string={"action": action}, headers=_bearer(web, "auditor")
    )
    return list(response.get_json()["data"])


def _create_device(web: StaffWeb, outlet_id: str, label: str = "front desk") -> tuple[str, TestResponse]:
    response = web.post_form(f"/admin/outlets/{outlet_id}/devices/new", {"label": label})
    assert response.status_code == 200
    found = re.search(r'<code id="device-key">([^<]+)</code>', response.get_data(as_text=True))
    assert found is not None
    return found.group(1), response


def test_an_admin_registers_an_outlet_with_its_categories_and_approved_schemes(admin: StaffWeb) -> None:
    form = admin.get("/admin/outlets/new")
    assert "Leisure vouchers" in page_text(form) and "Release vouchers" in page_text(form)

    outlet_id = _register(admin)

    assert _outlet(admin, outlet_id) | {"created_at": None} == {
        "id": outlet_id,
        "name": "Riverside Leisure Centre",
        "categories": ["leisure", "music-tuition"],
        "schemes": ["leisure"],
        "created_at": None,
    }
    page = page_text(admin.get(f"/admin/outlets/{outlet_id}"))
    assert "Riverside Leisure Centre is registered" in page
    assert "Categories leisure, music-tuition Approved schemes Leisure vouchers" in page
    listed = page_text(admin.get("/admin/outlets"))
    assert "Riverside Leisure Centre leisure, music-tuition Leisure vouchers" in listed
    [entry] = _log(admin, "outlet.create")
    assert (
        entry["actor"] == "admin:admin"
        and entry["target"] == outlet_id
        and entry["remote_address"] == "127.0.0.1"
    )


def test_a_form_sent_twice_registers_one_outlet(admin: StaffWeb) -> None:
    page = admin.get("/admin/outlets/new").get_data(as_text=True)
    key = re.search(r'name="request_key"[^>]*value="([^"]+)"', page)
    assert key is not None
    form = {**NEW_OUTLET, "request_key": key.group(1), "csrf_token": csrf_token(page)}

    first = admin.client.post("/admin/outlets/new", data=form)
    second = admin.client.post("/admin/outlets/new", data=form)

    assert first.headers["Location"] == second.headers["Location"]
    assert len(_log(admin, "outlet.create")) == 1


@pytest.mark.parametrize(
    ("form", "message"),
    [
        ({"name": "   "}, "Enter the outlet's name"),
        ({"name": "x" * 201}, "The name must be 200 characters or fewer"),
        (
            {"name": "Library", "categories": "books, " + "y" * 65},
            "Each category must be 64 characters or fewer",
        ),
        ({"name": "Library", "schemes": ["no-such-scheme"]}, "Select schemes from the list"),
    ],
)
def test_a_mistake_in_the_outlet_form_is_named_beside_its_field_and_nothing_is_registered(
    admin: StaffWeb, form: dict[str, Any], message: str
) -> None:
    response = admin.post_form("/admin/outlets/new", form)

    assert response.status_code == 200
    assert "There is a problem" in page_text(response) and f"Error: {message}" in page_text(response)
    assert _log(admin, "outlet.create") == []


def test_changing_an_outlet_records_what_it_was_before(admin: StaffWeb) -> None:
    outlet_id = _register(admin)
    form = admin.get(f"/admin/outlets/{outlet_id}/edit").get_data(as_text=True)
    assert 'value="Riverside Leisure Centre"' in form and 'value="leisure, music-tuition"' in form

    changed = admin.post_form(
        f"/admin/outlets/{outlet_id}/edit",
        {"name": "Riverside Leisure", "categories": "leisure", "schemes": ["release"]},
    )
    unchanged = admin.post_form(
        f"/admin/outlets/{outlet_id}/edit",
        {"name": "Riverside Leisure", "categories": "leisure", "schemes": ["release"]},
    )

    assert changed.status_code == unchanged.status_code == 302
    assert _outlet(admin, outlet_id)["schemes"] == ["release"]
    [entry] = _log(admin, "outlet.update")
    assert entry["detail"] == {
        "before": {
            "name": "Riverside Leisure Centre",
            "categories": ["leisure", "music-tuition"],
            "schemes": ["leisure"],
        },
        "after": {"name": "Riverside Leisure", "categories": ["leisure"], "schemes": ["release"]},
    }
    assert "Nothing was changed" in page_text(admin.get(f"/admin/outlets/{outlet_id}"))


def test_a_device_key_is_shown_once_with_a_qr_code_and_the_kiosk_can_use_it(admin: StaffWeb) -> None:
    outlet_id = _register(admin)

    secret, response = _create_device(admin, outlet_id)

    assert "This is the only time the key is shown" in page_text(response)
    assert '<svg role="img" aria-label="QR code holding the kiosk' in response.get_data(as_text=True)
    assert "clubcard kiosk --api http://localhost --device-key-file device.key" in page_text(response)
    assert response.headers["Cache-Control"] == "no-store"
    assert json.loads(kiosk_configuration("http://localhost", secret)) == {
        "clubcard_kiosk": 1,
        "api": "http://localhost",
        "device_key": secret,
    }
    kiosk = admin.client.get("/api/v1/offline-profile", headers={"Authorization": f"Bearer {secret}"})
    assert kiosk.status_code == 200
    outlet_page = admin.get(f"/admin/outlets/{outlet_id}").get_data(as_text=True)
    assert secret not in outlet_page and f"{secret[:10]}…" in outlet_page
    [entry] = _log(admin, "device.create")
    assert entry["detail"] == {"outlet_id": outlet_id} and entry["remote_address"] == "127.0.0.1"


def test_sending_the_device_form_again_makes_no_second_key_and_says_what_to_do(admin: StaffWeb) -> None:
    outlet_id = _register(admin)
    page = admin.get(f"/admin/outlets/{outlet_id}/devices/new").get_data(as_text=True)
    key = re.search(r'name="request_key"[^>]*value="([^"]+)"', page)
    assert key is not None
    form = {"label": "front desk", "request_key": key.group(1), "csrf_token": csrf_token(page)}

    admin.client.post(f"/admin/outlets/{outlet_id}/devices/new", data=form)
    again = admin.client.post(f"/admin/outlets/{outlet_id}/devices/new", data=form)

    assert "its key was shown once: revoke that key" in page_text(again)
    assert len(_log(admin, "device.create")) == 1


def test_revoking_a_device_key_asks_first_then_the_kiosk_is_refused(admin: StaffWeb) -> None:
    outlet_id = _register(admin)
    secret, _ = _create_device(admin, outlet_id)
    outlet_page = admin.get(f"/admin/outlets/{outlet_id}").get_data(as_text=True)
    revoke = re.search(r'href="(/admin/outlets/[^"]+/revoke)"', outlet_page)
    assert revoke is not None

    confirm = page_text(admin.get(revoke.group(1)))
    assert "Are you sure you want to revoke the key for front desk?" in confirm
    assert (
        admin.client.get("/api/v1/offline-profile", headers={"Authorization": f"Bearer {secret}"}).status_code
        == 200
    )
    done = admin.post_form(revoke.group(1), {})

    assert done.status_code == 302
    assert (
        admin.client.get("/api/v1/offline-profile", headers={"Authorization": f"Bearer {secret}"}).status_code
        == 401
    )
    assert "The device key for front desk is revoked" in page_text(admin.get(f"/admin/outlets/{outlet_id}"))
    assert "is already revoked" in page_text(admin.get(revoke.group(1)))
    assert len(_log(admin, "device.revoke")) == 1


def test_outlets_devices_and_keys_that_do_not_exist_are_pages_not_found(admin: StaffWeb) -> None:
    outlet_id = _register(admin)
    for path in (
        "/admin/outlets/no-such-outlet",
        "/admin/outlets/no-such-outlet/edit",
        "/admin/outlets/no-such-outlet/devices/new",
        f"/admin/outlets/{outlet_id}/devices/no-such-device/revoke",
        "/admin/outlets?after=" + "x" * 300,
    ):
        assert admin.get(path).status_code == 404, path


def test_outlets_page_through_by_id(admin: StaffWeb, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(outlets, "PAGE_SIZE", 2)
    made = {_register(admin, {"name": f"Outlet {n}"}) for n in range(3)}

    first = admin.get("/admin/outlets").get_data(as_text=True)
    after = re.search(r'href="(/admin/outlets\?after=[^"]+)"', first)
    assert after is not None
    second = admin.get(after.group(1)).get_data(as_text=True)

    listed = re.findall(r'href="/admin/outlets/([0-9a-f-]{36})"', first + second)
    assert set(listed) == made and len(listed) == 3


def test_only_an_admin_may_open_or_post_to_the_outlet_pages(admin: StaffWeb) -> None:
    outlet_id = _register(admin)
    secret, _ = _create_device(admin, outlet_id)
    device_id = _log(admin, "device.create")[0]["target"]
    forms = (
        "/admin/outlets/new",
        f"/admin/outlets/{outlet_id}/edit",
        f"/admin/outlets/{outlet_id}/devices/new",
        f"/admin/outlets/{outlet_id}/devices/{device_id}/revoke",
    )
    pages = ("/admin/outlets", f"/admin/outlets/{outlet_id}", *forms)
    for role in ("scheme_manager", "caseworker", "finance", "auditor"):
        admin.new_client()
        admin.sign_in(role)
        token = csrf_token(admin.get("/admin/account").get_data(as_text=True))
        assert {admin.get(path).status_code for path in pages} == {403}, role
        posted = {
            admin.client.post(path, data={"csrf_token": token, **NEW_OUTLET}).status_code for path in forms
        }
        assert posted == {403}, role
    assert (
        admin.client.get("/api/v1/offline-profile", headers={"Authorization": f"Bearer {secret}"}).status_code
        == 200
    )
