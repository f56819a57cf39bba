"""The expiry and holds page of the staff UI: what expires in the next 30 days per scheme, holds past
their timeout, and an expiry run with its report, in the staff log; roles enforced. On SQLite and
PostgreSQL."""

from __future__ import annotations

import datetime as dt

import pytest
from werkzeug.test import TestResponse

from clubcard.jobs import JobRunner
from tests.integration.staff_oversight_support import OFFLINE_LEISURE, staff_log, world_of
from tests.support.api import World
from tests.support.staff_web import StaffWeb, page_text, staff_web_fixture  # noqa: F401

EXPIRY = "/admin/expiry"


def _issue(world: World, amount_minor: int, **extra: object) -> str:
    scheme = world.run(lambda uow: uow.schemes.get(slug="leisure"))
    resident_id = world.resident((scheme,))
    body = {"scheme": "leisure", "resident_id": resident_id, "amount_minor": amount_minor, **extra}
    issued = world.post("/api/v1/issuances", body, world.staff("caseworker"))
    assert issued.status_code == 201, issued.get_json()
    return resident_id


def _run_expiry(web: StaffWeb) -> TestResponse:
    """Send the run form, let the job runner do the run, and open the run's page."""
    queued = web.post_form(
        f"{EXPIRY}/run", {"request_key": f"run-{web.clock.now().isoformat()}"}, form_page=EXPIRY
    )
    assert queued.status_code == 303, page_text(queued)
    JobRunner(web.context.uow_factory, web.clock).run_pending()
    return web.get(queued.headers["Location"])


def _expiring_world(web: StaffWeb) -> World:
    """Two lots past their 10-day expiry (£3.00 and £5.00), one due in 10 days (£2.00), one next year."""
    world = world_of(web)
    world.scheme("leisure", "GBP", OFFLINE_LEISURE, funded=50_000)
    _issue(world, 300)
    _issue(world, 500)
    web.clock.advance(dt.timedelta(days=11))
    _issue(world, 200)
    _issue(world, 900, expires_at="2027-06-01T00:00:00Z")
    return world


def test_the_expiry_page_shows_what_each_scheme_has_past_expiry_and_due_in_the_next_30_days(
    staff_web: StaffWeb,
) -> None:
    _expiring_world(staff_web)
    staff_web.sign_in("scheme_manager")

    page = page_text(staff_web.get(EXPIRY))

    assert "What expires in the next 30 days" in page
    assert "leisure leisure 2 £8.00 1 £2.00 23 Nov 2026 09:00 UTC" in page
    assert "No hold is past its timeout." in page
    assert "Run expiry now" in page


def test_an_expiry_run_returns_expired_value_to_the_budget_shows_its_report_and_is_logged(
    staff_web: StaffWeb,
) -> None:
    world = _expiring_world(staff_web)
    budget = world.run(lambda uow: uow.schemes.get(slug="leisure"))["budget_account_id"]
    before = world.balance(budget)
    staff_web.sign_in("admin")

    ran = _run_expiry(staff_web)

    assert ran.status_code == 200 and 'http-equiv="refresh"' not in ran.get_data(as_text=True)
    assert "Expiry run finished 2 lots expired, 0 holds released" in page_text(ran)
    assert "leisure £8.00" in page_text(ran)
    assert world.balance(budget) == before + 800
    (entry,) = staff_log(staff_web, "expiry.run")
    assert entry["actor"] == "admin:admin" and entry["remote_address"] == "127.0.0.1"
    assert entry["detail"] == {"holds_released": 0, "lots_expired": 2, "returned": {"leisure": "£8.00"}}
    staff_web.clock.advance(dt.timedelta(seconds=1))  # another run: a new form, a new key
    again = _run_expiry(staff_web)
    assert "0 lots expired" in page_text(again) and "No expired value was waiting" in page_text(again)
    assert world.balance(budget) == before + 800
    assert "leisure leisure 0 £0.00 1 £2.00" in page_text(staff_web.get(EXPIRY))


def test_a_hold_past_its_timeout_is_listed_until_the_run_releases_it(staff_web: StaffWeb) -> None:
    world = world_of(staff_web)
    scheme = world.scheme("leisure", "GBP", OFFLINE_LEISURE, funded=50_000)
    resident_id = _issue(world, 1000)
    _, token = world.card(resident_id)
    outlet_id, device = world.outlet(["leisure-centre"], ["leisure"])
    world.run(lambda uow: uow.registry.update_outlet(outlet_id, name="Riverside Pool"))
    hold = {"card_token": token, "scheme": "leisure", "amount_minor": 450, "timeout_seconds": 60}
    assert world.post("/api/v1/holds", hold, device).status_code == 201
    staff_web.clock.advance(dt.timedelta(minutes=5))
    staff_web.sign_in("scheme_manager")

    waiting = page_text(staff_web.get(EXPIRY))
    ran = _run_expiry(staff_web)
    released = page_text(staff_web.get(EXPIRY))

    assert (
        "Riverside Pool leisure £4.50 2 Nov 2026 09:00 UTC 2 Nov 2026 09:01 UTC Waiting for release"
        in waiting
    )
    assert "1 hold released" in page_text(ran)
    assert "Riverside Pool leisure £4.50 2 Nov 2026 09:00 UTC 2 Nov 2026 09:01 UTC Released" in released
    assert world.wallet(resident_id, scheme) == 1000


@pytest.mark.parametrize("role", ["finance", "caseworker", "auditor"])
def test_roles_outside_schemes_may_not_see_expiry_or_run_it_even_with_a_valid_csrf_token(
    staff_web: StaffWeb, role: str
) -> None:
    world = _expiring_world(staff_web)
    budget = world.run(lambda uow: uow.schemes.get(slug="leisure"))["budget_account_id"]
    before = world.balance(budget)
    staff_web.sign_in(role)

    refused = staff_web.post_form(f"{EXPIRY}/run", {}, form_page="/admin/")

    assert refused.status_code == 403 and "You cannot do that" in page_text(refused)
    assert staff_web.get(EXPIRY).status_code == 403
    assert "Expiry and holds" not in page_text(staff_web.get("/admin/"))
    assert world.balance(budget) == before and staff_log(staff_web, "expiry.run") == []


def test_an_expiry_run_posted_without_its_csrf_token_changes_nothing(staff_web: StaffWeb) -> None:
    world = _expiring_world(staff_web)
    budget = world.run(lambda uow: uow.schemes.get(slug="leisure"))["budget_account_id"]
    before = world.balance(budget)
    staff_web.sign_in("admin")

    refused = staff_web.client.post(f"{EXPIRY}/run", data={})

    assert refused.status_code == 400 and "nothing was changed" in page_text(refused)
    assert world.balance(budget) == before


def test_a_queued_run_shows_its_progress_and_refreshes_until_the_runner_has_done_it_once(
    staff_web: StaffWeb,
) -> None:
    world = _expiring_world(staff_web)
    budget = world.run(lambda uow: uow.schemes.get(slug="leisure"))["budget_account_id"]
    before = world.balance(budget)
    staff_web.sign_in("scheme_manager")
    form = {"request_key": "one-click"}

    first = staff_web.post_form(f"{EXPIRY}/run", form, form_page=EXPIRY)
    second = staff_web.post_form(f"{EXPIRY}/run", form, form_page=EXPIRY)  # the same form sent twice
    waiting = staff_web.get(first.headers["Location"])

    assert first.headers["Location"] == second.headers["Location"]
    assert '<meta http-equiv="refresh" content="2">' in waiting.get_data(as_text=True)
    assert "0 of 2 holds and lots done (0%)" in page_text(waiting)
    assert "Waiting for the job runner to start it" in page_text(waiting)
    assert world.balance(budget) == before
    assert JobRunner(staff_web.context.uow_factory, staff_web.clock).run_pending() == 1
    done = page_text(staff_web.get(first.headers["Location"]))
    assert "Expiry run finished 2 lots expired" in done and "leisure £8.00" in done
    assert world.balance(budget) == before + 800 and len(staff_log(staff_web, "expiry.run")) == 1
    assert staff_web.get("/admin/expiry/runs/no-such-run").status_code == 404
