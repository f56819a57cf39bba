"""The bulk issuance pages of the staff UI: a dry run's counts and total before anything is paid, the job
queued once and its progress (the page refreshes itself until the job ends), its counts at the end, the
refused members as CSV, a stopped job resumed; roles enforced on every page and POST. On SQLite and
PostgreSQL."""

from __future__ import annotations

import csv
import io
import re
from typing import Any

import pytest

from clubcard.jobs import JobRunner
from tests.integration.staff_oversight_support import demo, staff_log, world_of
from tests.support.api import World
from tests.support.staff_web import StaffWeb, page_text, staff_web_fixture  # noqa: F401

BULK = "/admin/bulk"
KEY = "9d2b1c52-8a43-4c55-9b7e-2a4f0f1f0b11"


def _members(web: StaffWeb, funded_minor: int = 100_000) -> tuple[World, dict[str, Any], list[str], str]:
    """The leisure scheme (£15.00 a month, ages 13 to 19) with three teenage members and one aged 36."""
    world = world_of(web)
    leisure = demo(world, "leisure-vouchers", funded_minor=funded_minor)
    teens = [world.resident((leisure,)) for _ in range(3)]
    adult = world.resident((leisure,), born="1990-01-01")
    return world, leisure, teens, adult


def _choice(**changes: Any) -> dict[str, Any]:
    return {"scheme": "leisure-vouchers", "who": "members", "amount": "", "request_key": KEY, **changes}


def _run_jobs(web: StaffWeb) -> None:
    JobRunner(web.context.uow_factory, web.clock).run_pending()


def _start(web: StaffWeb, **changes: Any) -> str:
    started = web.post_form(f"{BULK}/start", _choice(**changes), form_page=BULK)
    assert started.status_code == 302, page_text(started)
    return str(started.headers["Location"])


def test_a_dry_run_shows_the_counts_and_total_before_anything_is_paid(staff_web: StaffWeb) -> None:
    world, leisure, teens, _ = _members(staff_web, funded_minor=4_000)
    staff_web.sign_in("scheme_manager")

    checked = staff_web.post_form(f"{BULK}/check", _choice(), form_page=BULK)

    page = page_text(checked)
    assert checked.status_code == 200 and "Nothing has been paid yet." in page
    assert "Amount for each member £15.00 Members 4 Not eligible now 1 Already paid this month 0" in page
    assert "To be paid 3 Total £45.00 Budget left £40.00" in page
    assert "The budget cannot pay everyone" in page and "Pay 3 members" in page
    assert all(world.wallet(teen, leisure) == 0 for teen in teens)
    assert staff_log(staff_web, "bulk.start") == []


def test_a_started_job_refreshes_its_page_until_it_ends_then_shows_its_counts(staff_web: StaffWeb) -> None:
    world, leisure, teens, adult = _members(staff_web)
    staff_web.sign_in("scheme_manager")

    job_page = _start(staff_web, amount="12.50")
    waiting = staff_web.get(job_page)
    _run_jobs(staff_web)
    finished = staff_web.get(job_page)

    assert '<noscript><meta http-equiv="refresh" content="2"></noscript>' in waiting.get_data(as_text=True)
    assert "Waiting to start 0 of 4 members done (0%)" in page_text(waiting)
    assert 'http-equiv="refresh"' not in finished.get_data(as_text=True)
    assert "Bulk issuance finished 3 paid, 0 already paid, 1 refused" in page_text(finished)
    assert "4 of 4 members done (100%)" in page_text(finished)
    assert [world.wallet(teen, leisure) for teen in teens] == [1250, 1250, 1250]
    assert world.wallet(adult, leisure) == 0
    (entry,) = staff_log(staff_web, "bulk.start")
    assert entry["actor"] == "scheme_manager:scheme-manager" and entry["target"] == "leisure-vouchers"
    assert entry["detail"]["members"] == 4 and entry["detail"]["amount"] == "£12.50"
    assert "leisure-vouchers Finished 4 of 4 3 1" in page_text(staff_web.get(BULK))


def test_the_members_a_job_refused_download_as_csv_with_the_reason(staff_web: StaffWeb) -> None:
    _, _, _, adult = _members(staff_web)
    staff_web.sign_in("scheme_manager")
    job_page = _start(staff_web)
    _run_jobs(staff_web)
    page = staff_web.get(job_page).get_data(as_text=True)
    link = re.search(r'href="([^"]+/refused\.csv)"', page)
    assert link is not None and "Download the 1 refused member and why (CSV)" in page_text(
        staff_web.get(job_page)
    )

    download = staff_web.get(link.group(1))

    assert download.status_code == 200 and download.mimetype == "text/csv"
    assert "attachment" in download.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(download.get_data(as_text=True))))
    assert rows[0] == ["resident_id", "problem", "reason"]
    assert [row[:2] for row in rows[1:]] == [[adult, "not-eligible"]]
    assert "13" in rows[1][2] and "19" in rows[1][2]


def test_sending_the_start_form_twice_queues_one_job_and_pays_each_member_once(staff_web: StaffWeb) -> None:
    world, leisure, teens, _ = _members(staff_web)
    staff_web.sign_in("scheme_manager")

    first, second = _start(staff_web), _start(staff_web)
    _run_jobs(staff_web)

    assert first == second
    assert [world.wallet(teen, leisure) for teen in teens] == [1500, 1500, 1500]
    assert len(staff_log(staff_web, "bulk.start")) == 1


def test_a_second_run_in_the_same_month_pays_nobody_again(staff_web: StaffWeb) -> None:
    world, leisure, teens, _ = _members(staff_web)
    staff_web.sign_in("scheme_manager")
    _start(staff_web)
    _run_jobs(staff_web)

    again = staff_web.post_form(f"{BULK}/check", _choice(request_key="another-key"), form_page=BULK)

    assert "Already paid this month 3 To be paid 0 Total £0.00" in page_text(again)
    job_page = _start(staff_web, request_key="another-key")
    _run_jobs(staff_web)
    assert "0 paid, 3 already paid, 1 refused" in page_text(staff_web.get(job_page))
    assert [world.wallet(teen, leisure) for teen in teens] == [1500, 1500, 1500]


def test_a_job_the_budget_cannot_finish_says_why_and_resumes_after_the_budget_is_topped_up(
    staff_web: StaffWeb,
) -> None:
    world, leisure, teens, _ = _members(staff_web, funded_minor=3_000)
    staff_web.sign_in("scheme_manager")
    job_page = _start(staff_web)
    _run_jobs(staff_web)
    stopped = page_text(staff_web.get(job_page))
    assert "Stopped" in stopped and "Paid 2" in stopped
    assert "the scheme budget cannot pay the next member £15.00" in stopped
    world.fund(leisure, 1_500)

    resumed = staff_web.post_form(f"{job_page}/resume", {}, form_page=job_page)
    _run_jobs(staff_web)

    assert resumed.status_code == 302
    assert "Bulk issuance finished 3 paid" in page_text(staff_web.get(job_page))
    assert sorted(world.wallet(teen, leisure) for teen in teens) == [1500, 1500, 1500]
    assert len(staff_log(staff_web, "bulk.resume")) == 1


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"scheme": ""}, "Select a scheme"),
        ({"amount": "fifteen"}, "Amount for each member must be an amount, for example 5.50 or £12"),
        ({"amount": "0"}, "Amount for each member must be £0.01 or more"),
        ({"expires_on": ["1", "11", "2026"]}, "Expiry date must be in the future"),
        ({"expires_on": ["31", "2", "2027"]}, "Expiry date must be a real date"),
    ],
)
def test_the_bulk_form_says_what_is_wrong_field_by_field_and_pays_nothing(
    staff_web: StaffWeb, change: dict[str, Any], message: str
) -> None:
    _members(staff_web)
    staff_web.sign_in("scheme_manager")

    for path in (f"{BULK}/check", f"{BULK}/start"):
        refused = staff_web.post_form(path, _choice(**change), form_page=BULK)

        assert refused.status_code == 200, path
        assert "There is a problem" in page_text(refused) and message in page_text(refused), path
    assert staff_log(staff_web, "bulk.start") == []


def test_a_scheme_without_a_standard_amount_asks_for_one(staff_web: StaffWeb) -> None:
    world = world_of(staff_web)
    world.scheme("grants", "GBP", {"issuing": {"mode": "one_off"}}, funded=10_000)
    staff_web.sign_in("scheme_manager")

    refused = staff_web.post_form(f"{BULK}/check", _choice(scheme="grants"), form_page=BULK)

    assert "Enter the amount for each member: this scheme has no standard amount" in page_text(refused)


def test_schemes_that_are_earned_or_issued_as_a_series_are_not_offered(staff_web: StaffWeb) -> None:
    world = world_of(staff_web)
    for slug in ("leisure-vouchers", "release-vouchers", "time-bank"):
        demo(world, slug)
    staff_web.sign_in("scheme_manager")

    body = staff_web.get(BULK).get_data(as_text=True)

    assert 'value="leisure-vouchers"' in body
    assert 'value="release-vouchers"' not in body and 'value="time-bank"' not in body


def test_an_admin_follows_jobs_but_sees_no_control_to_start_or_resume_one(staff_web: StaffWeb) -> None:
    _members(staff_web, funded_minor=1_500)
    staff_web.sign_in("scheme_manager")
    job_page = _start(staff_web)
    _run_jobs(staff_web)
    staff_web.new_client()
    staff_web.sign_in("admin")

    listed, job = page_text(staff_web.get(BULK)), page_text(staff_web.get(job_page))

    assert "Latest bulk issuances" in listed and "Check what would be paid" not in listed
    assert "Stopped" in job and "Resume the job" not in job


@pytest.mark.parametrize("role", ["admin", "finance", "caseworker", "auditor"])
def test_every_bulk_write_url_refuses_a_role_that_may_not_use_it_even_with_a_valid_csrf_token(
    staff_web: StaffWeb, role: str
) -> None:
    world, leisure, teens, _ = _members(staff_web, funded_minor=1_500)
    staff_web.sign_in("scheme_manager")
    job_page = _start(staff_web)
    _run_jobs(staff_web)
    world.fund(leisure, 10_000)
    staff_web.new_client()
    staff_web.sign_in(role)

    for path in (f"{BULK}/check", f"{BULK}/start", f"{job_page}/resume"):
        refused = staff_web.post_form(path, _choice(request_key="other"), form_page="/admin/")
        assert refused.status_code == 403, path
    _run_jobs(staff_web)
    assert sum(world.wallet(teen, leisure) for teen in teens) == 1500
    assert len(staff_log(staff_web, "bulk.start")) == 1 and staff_log(staff_web, "bulk.resume") == []


@pytest.mark.parametrize("role", ["finance", "caseworker", "auditor"])
def test_roles_outside_bulk_issuance_see_no_bulk_section_and_no_bulk_page(
    staff_web: StaffWeb, role: str
) -> None:
    staff_web.sign_in(role)

    assert "Bulk issuance" not in page_text(staff_web.get("/admin/"))
    assert staff_web.get(BULK).status_code == 403


def test_an_unknown_job_is_a_page_not_found(staff_web: StaffWeb) -> None:
    staff_web.sign_in("scheme_manager")
    unknown = f"{BULK}/jobs/00000000-0000-0000-0000-000000000000"

    assert staff_web.get(unknown).status_code == staff_web.get(f"{unknown}/refused.csv").status_code == 404
    assert staff_web.post_form(f"{unknown}/resume", {}, form_page=BULK).status_code == 404


def _upload(web: StaffWeb, text: str, **changes: Any) -> Any:
    form = _choice(who="csv", **changes)
    form["members_file"] = (io.BytesIO(text.encode()), "members.csv")
    return web.post_form(f"{BULK}/check", form, form_page=BULK)


def test_a_csv_of_card_numbers_and_resident_ids_pays_exactly_the_members_it_lists(
    staff_web: StaffWeb,
) -> None:
    world, leisure, teens, _ = _members(staff_web)
    left_out = world.resident((leisure,))
    outsider = world.resident(())
    cards = [world.card(teen)[0] for teen in teens[::2]]
    typed = cards[1].lower().replace("-", " ")
    listed = f"card_number\n{cards[0]}\n{teens[1]}\n{typed}\n{world.card(outsider)[0]}\nCC-NOPE\n{cards[0]}\n"
    staff_web.sign_in("scheme_manager")

    checked = _upload(staff_web, listed)

    page = page_text(checked)
    assert "Members listed in the file 5 Not found 1 Not members of the scheme 1 Not eligible now 0" in page
    assert "To be paid 3 Total £45.00" in page
    job_page = _start(staff_web, who="csv")
    assert "2 of 5 members done" in page_text(staff_web.get(job_page))
    _run_jobs(staff_web)
    assert "Bulk issuance finished 3 paid, 0 already paid, 2 refused" in page_text(staff_web.get(job_page))
    assert [world.wallet(teen, leisure) for teen in teens] == [1500, 1500, 1500]
    assert world.wallet(left_out, leisure) == 0
    refused = staff_web.get(f"{job_page}/refused.csv").get_data(as_text=True)
    rows = {row[0]: row[1:] for row in csv.reader(io.StringIO(refused))}
    assert rows[outsider] == ["not-a-member", "not a member of the scheme"]
    assert rows["CC-NOPE"][0] == "not-found"
    (entry,) = staff_log(staff_web, "bulk.start")
    assert entry["detail"]["listed"] is True and entry["detail"]["members"] == 5


def test_listing_members_in_a_csv_file_needs_the_file(staff_web: StaffWeb) -> None:
    _members(staff_web)
    staff_web.sign_in("scheme_manager")

    refused = staff_web.post_form(f"{BULK}/check", _choice(who="csv"), form_page=BULK)

    assert refused.status_code == 200 and "Choose a CSV file of members" in page_text(refused)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "The CSV file is empty"),
        ("card_number\n\n", "That cannot be paid: the file lists no members"),
        ("x" * 40 + "\n", "That cannot be paid: row 1 is not a card number or a resident id"),
    ],
)
def test_a_csv_file_that_lists_no_member_is_refused_on_the_file_field(
    staff_web: StaffWeb, text: str, message: str
) -> None:
    _members(staff_web)
    staff_web.sign_in("scheme_manager")

    refused = _upload(staff_web, text)

    assert refused.status_code == 200 and message in page_text(refused)
    assert 'href="#members_file"' in refused.get_data(as_text=True)


def test_a_listed_job_cannot_start_without_the_dry_run_that_keeps_its_list(staff_web: StaffWeb) -> None:
    _members(staff_web)
    staff_web.sign_in("scheme_manager")

    refused = staff_web.post_form(f"{BULK}/start", _choice(who="csv"), form_page=BULK)

    assert refused.status_code == 422
    assert "the list of members has gone: upload the CSV file again" in page_text(refused)
    assert staff_log(staff_web, "bulk.start") == []
