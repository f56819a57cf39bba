"""The offline shortfalls pages of the staff UI and the REST resolve endpoint: shortfalls listed newest
first, each resolved once with a note recorded in the staff log; roles enforced. On SQLite and
PostgreSQL."""

from __future__ import annotations

import datetime as dt

import pytest

from admin.web.pages import shortfalls as shortfalls_page
from tests.integration.staff_oversight_support import offline_outlet, shortfall, staff_log, world_of
from tests.support.api import assert_problem
from tests.support.staff_web import StaffWeb, page_text, staff_web_fixture  # noqa: F401

SHORTFALLS = "/admin/shortfalls"
API = "/api/v1/offline-shortfalls"


def test_a_shortfall_is_listed_with_its_card_amounts_and_reason_until_resolved(staff_web: StaffWeb) -> None:
    world = world_of(staff_web)
    found = shortfall(world, offline_outlet(world))
    staff_web.sign_in("finance")

    page = page_text(staff_web.get(SHORTFALLS))

    assert f"{found['card_number']} leisure £5.00 £2.00 The wallet did not hold enough Open Resolve" in page
    assert "2 Nov 2026 08:30 UTC" in page  # when it was spent, offline


def test_resolving_a_shortfall_with_a_note_shows_it_resolved_and_logs_the_note(staff_web: StaffWeb) -> None:
    world = world_of(staff_web)
    found = shortfall(world, offline_outlet(world))
    staff_web.sign_in("scheme_manager")
    path = f"{SHORTFALLS}/{found['shortfall_id']}/resolve"
    assert "Paid by the offline-risk account £2.00" in page_text(staff_web.get(path))

    resolved = staff_web.post_form(path, {"note": "  Recovered from the resident at the desk "})

    assert resolved.status_code == 302
    page = page_text(staff_web.get(resolved.headers["Location"]))
    assert "The shortfall of £2.00 is resolved." in page
    assert "Resolved Recovered from the resident at the desk scheme_manager:scheme-manager" in page
    (entry,) = staff_log(staff_web, "shortfall.resolve")
    assert entry["target"] == found["shortfall_id"] and entry["remote_address"] == "127.0.0.1"
    assert entry["detail"]["note"] == "Recovered from the resident at the desk"
    listed = world.get(API, world.staff("finance")).get_json()["data"][0]
    assert listed["resolution"]["note"] == "Recovered from the resident at the desk"
    assert listed["resolution"]["resolved_by"] == "scheme_manager:scheme-manager"


@pytest.mark.parametrize(
    ("note", "message"),
    [("", "Enter how the shortfall was resolved"), ("x" * 1001, "The note must be 1000 characters or fewer")],
)
def test_a_resolution_needs_a_note_of_sensible_length(staff_web: StaffWeb, note: str, message: str) -> None:
    world = world_of(staff_web)
    found = shortfall(world, offline_outlet(world))
    staff_web.sign_in("admin")

    refused = staff_web.post_form(f"{SHORTFALLS}/{found['shortfall_id']}/resolve", {"note": note})

    assert refused.status_code == 200 and message in page_text(refused)
    assert staff_log(staff_web, "shortfall.resolve") == []


def test_a_shortfall_is_resolved_once_however_often_the_form_is_sent(staff_web: StaffWeb) -> None:
    world = world_of(staff_web)
    found = shortfall(world, offline_outlet(world))
    staff_web.sign_in("finance")
    path = f"{SHORTFALLS}/{found['shortfall_id']}/resolve"
    first = staff_web.post_form(path, {"note": "Written off"})

    again = staff_web.client.post(path, data={"note": "Written off twice", "csrf_token": _token(staff_web)})

    assert first.status_code == 302 and again.status_code == 200
    assert "Resolved by finance:finance" in page_text(again) and "Resolve shortfall" not in page_text(again)
    assert [entry["detail"]["note"] for entry in staff_log(staff_web, "shortfall.resolve")] == ["Written off"]


def _token(web: StaffWeb) -> str:
    from tests.support.staff_web import csrf_token

    return csrf_token(web.get("/admin/").get_data(as_text=True))


def test_shortfalls_are_paged_newest_first(staff_web: StaffWeb, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shortfalls_page, "PAGE_SIZE", 2)
    world = world_of(staff_web)
    device = offline_outlet(world)
    cards = []
    for _ in range(3):
        cards.append(shortfall(world, device)["card_number"])
        staff_web.clock.advance(dt.timedelta(minutes=1))
    staff_web.sign_in("finance")

    first = staff_web.get(SHORTFALLS)
    older = first.get_data(as_text=True).split('href="/admin/shortfalls?starting_after=')[1].split('"')[0]
    second = page_text(staff_web.get(f"{SHORTFALLS}?starting_after={older}"))

    assert cards[2] in page_text(first) and cards[1] in page_text(first) and cards[0] not in page_text(first)
    assert "Older shortfalls" in page_text(first)
    assert cards[0] in second and cards[1] not in second and "Older shortfalls" not in second


@pytest.mark.parametrize("role", ["caseworker", "auditor"])
def test_roles_outside_the_books_may_not_see_or_resolve_shortfalls_even_with_a_valid_csrf_token(
    staff_web: StaffWeb, role: str
) -> None:
    world = world_of(staff_web)
    found = shortfall(world, offline_outlet(world))
    staff_web.sign_in(role)
    path = f"{SHORTFALLS}/{found['shortfall_id']}/resolve"

    refused = staff_web.post_form(path, {"note": "Written off"}, form_page="/admin/")

    assert refused.status_code == 403
    assert staff_web.get(SHORTFALLS).status_code == staff_web.get(path).status_code == 403
    assert "Offline shortfalls" not in page_text(staff_web.get("/admin/"))
    assert staff_log(staff_web, "shortfall.resolve") == []


def test_an_unknown_shortfall_is_a_page_not_found(staff_web: StaffWeb) -> None:
    staff_web.sign_in("finance")

    assert staff_web.get(f"{SHORTFALLS}/00000000-0000-0000-0000-000000000000/resolve").status_code == 404
    assert staff_web.get(f"{SHORTFALLS}/{'x' * 300}/resolve").status_code == 404


def test_the_api_resolves_a_shortfall_once_with_a_note_and_replays_a_retry(staff_web: StaffWeb) -> None:
    world = world_of(staff_web)
    found = shortfall(world, offline_outlet(world))
    finance = world.staff("finance")
    path = f"{API}/{found['shortfall_id']}/resolve"

    first = world.post(path, {"note": "Written off"}, finance, key="resolve-1")
    replay = world.post(path, {"note": "Written off"}, finance, key="resolve-1")

    assert first.status_code == 200, first.get_json()
    assert (
        first.get_json()["shortfall"] == "£2.00" and first.get_json()["resolution"]["note"] == "Written off"
    )
    assert replay.status_code == 200 and replay.get_json() == first.get_json()
    assert_problem(world.post(path, {"note": "Again"}, finance), 409, "conflict")
    assert_problem(world.post(path, {"note": "Other"}, finance, key="resolve-1"), 422, "idempotency-mismatch")
    assert_problem(world.post(path, {"note": ""}, finance), 422, "validation")
    assert_problem(world.post(path, {"note": "x", "extra": 1}, finance), 422, "validation")
    assert_problem(
        world.post(f"{API}/00000000-0000-0000-0000-000000000000/resolve", {"note": "x"}, finance),
        404,
        "not-found",
    )
    (entry,) = staff_log(staff_web, "shortfall.resolve")
    assert entry["key_id"] is not None and entry["detail"]["shortfall"] == "£2.00"
    assert world.get(API, finance).get_json()["data"][0]["resolution"]["note"] == "Written off"
