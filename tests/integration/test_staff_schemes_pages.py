"""The schemes pages of the staff UI: the list with budget, uptake and rule version; a scheme's rules in
words and its versions; creating a scheme and new rule versions with field-by-field messages; funding a
budget in pounds; roles enforced on every page and POST. On SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt

import pytest

from admin.demo_schemes import FIVE_SCHEMES
from tests.integration.staff_oversight_support import (
    LEISURE,
    demo,
    new_scheme_posted,
    rules_posted,
    spending_member,
    staff_log,
    world_of,
)
from tests.support.staff_web import StaffWeb, page_text, staff_web_fixture  # noqa: F401

SCHEMES = "/admin/schemes"


def test_the_scheme_list_shows_each_schemes_budget_uptake_and_rule_version(staff_web: StaffWeb) -> None:
    world = world_of(staff_web)
    leisure = demo(world, "leisure-vouchers", funded_minor=100_000)
    demo(world, "time-bank")
    spending_member(world, leisure, spend_minor=250)
    world.resident((leisure,))  # a member who has not spent
    staff_web.clock.advance(dt.timedelta(days=31))
    spending_member(world, leisure, spend_minor=100)
    staff_web.sign_in("scheme_manager")

    page = page_text(staff_web.get(SCHEMES))

    # Three members; one spent 31 days ago (not active now), one today. £1,000 less two allowances of £15.
    assert "Leisure vouchers (13-19) leisure-vouchers Pounds £970.00 3 1 1" in page
    assert "Time bank time-bank Hours 0 min 0 0 1" in page
    assert "Create a scheme" in page


def test_a_scheme_page_shows_the_rules_in_words_and_each_version_with_what_it_changed(
    staff_web: StaffWeb,
) -> None:
    demo(world_of(staff_web), "leisure-vouchers")
    staff_web.sign_in("scheme_manager")
    path = f"{SCHEMES}/leisure-vouchers/rules"
    changed = rules_posted(LEISURE["rules"], "GBP", "Leisure vouchers (13-19)", per_day_limit="12")
    assert staff_web.post_form(path, changed).status_code == 302

    page = page_text(staff_web.get(f"{SCHEMES}/leisure-vouchers"))

    assert "The rules are saved as version 2." in page
    for sentence in (
        "Aged 13 to 19.",
        "Living in Riverside, Northgate, Castle or Eastfield.",
        "A recurring allowance, paid each month. The standard amount is £15.00.",
        "At most £12.00 a day.",
        "Up to £5.00 a day on a card while a kiosk is offline.",
        "Value expires 91 days after it is issued",
    ):
        assert sentence in page, sentence
    assert "2 (now)" in page and "Now: At most £12.00 a day. No longer: At most £10.00 a day." in page
    assert "1 2 Nov 2026 09:00 UTC test The first version." in page


def test_a_scheme_made_in_the_create_form_has_the_rules_typed_and_is_in_the_staff_log(
    staff_web: StaffWeb,
) -> None:
    staff_web.sign_in("scheme_manager")

    made = staff_web.post_form(f"{SCHEMES}/new", new_scheme_posted(per_transaction_limit="£7.50"))

    assert made.status_code == 302 and made.headers["Location"] == f"{SCHEMES}/leisure-2027"
    scheme = world_of(staff_web).get("/api/v1/schemes/leisure-2027", world_of(staff_web).staff("auditor"))
    rules = scheme.get_json()["rules"]
    assert scheme.get_json()["version"] == 1 and scheme.get_json()["unit"] == "GBP"
    assert rules["eligibility"]["min_age"] == 13 and rules["eligibility"]["wards"][0] == "Riverside"
    assert rules["issuing"] == {"mode": "recurring", "amount_minor": 1500, "period": "month", "purposes": {}}
    assert rules["spending"]["per_transaction_limit_minor"] == 750
    assert rules["expiry"] == {"fixed_date": None, "days_after_issue": 91}
    (entry,) = staff_log(staff_web, "scheme.create")
    assert entry["actor"] == "scheme_manager:scheme-manager" and entry["target"] == "leisure-2027"
    assert entry["remote_address"] == "127.0.0.1"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"name": ""}, "Enter a name"),
        ({"slug": "Leisure 2027"}, "Short name must be 2 to 63 lowercase letters, numbers and hyphens"),
        ({"unit": ""}, "Select what the scheme gives"),
        ({"min_age": "thirteen"}, "Youngest age must be a whole number, like 13"),
        ({"max_age": "200"}, "Oldest age must be between 0 and 130"),
        ({"min_age": "20", "max_age": "19"}, "Oldest age must be the same as or more than the youngest age"),
        ({"resident_kinds": []}, "Select who may be members"),
        ({"amount": "lots"}, "Standard amount must be an amount, for example 5.50 or £12"),
        ({"amount": "0"}, "Standard amount must be £0.01 or more"),
        ({"per_day_limit": "5.555"}, "Most spent in one day must be an amount"),
        ({"purposes": "accommodation 60"}, "Line 1: write the name, a colon, then the rest"),
        ({"purpose_categories": "accommodation:"}, "Line 1: name at least one outlet category"),
        ({"refund_window_days": "400"}, "Refund window must be between 0 and 365"),
        ({"offline_floor_limit": "£200,000"}, "Offline limit must be £100,000.00 or less"),
        ({"expiry": "days", "days_after_issue": ""}, "Enter how many days after issue value expires"),
        ({"expiry": "date", "fixed_date": ["31", "2", "2027"]}, "Expiry date must be a real date"),
        ({"expiry": "date", "fixed_date": ["", "", ""]}, "Enter the expiry date"),
        ({"earning-1-event": "check_in"}, "Enter the credit for each event"),
        ({"earning-1-amount": "10"}, "Enter the event name"),
        ({"wards": "\n".join(f"Ward {n}" for n in range(501))}, "Enter 500 wards or fewer"),
    ],
)
def test_the_create_form_refuses_each_wrong_field_with_its_own_message_and_creates_nothing(
    staff_web: StaffWeb, change: dict[str, object], message: str
) -> None:
    staff_web.sign_in("scheme_manager")

    refused = staff_web.post_form(f"{SCHEMES}/new", new_scheme_posted(**change))

    assert refused.status_code == 200
    assert "There is a problem" in page_text(refused) and message in page_text(refused)
    assert page_text(refused).startswith("Error: Create a scheme")
    assert staff_log(staff_web, "scheme.create") == []


def test_a_short_name_already_taken_is_refused_on_its_field(staff_web: StaffWeb) -> None:
    demo(world_of(staff_web), "leisure-vouchers")
    staff_web.sign_in("admin")

    refused = staff_web.post_form(f"{SCHEMES}/new", new_scheme_posted(slug="leisure-vouchers"))

    assert refused.status_code == 200
    assert "A scheme with this short name already exists: choose another" in page_text(refused)
    assert 'href="#slug"' in refused.get_data(as_text=True)


@pytest.mark.parametrize("scheme", FIVE_SCHEMES, ids=[scheme["slug"] for scheme in FIVE_SCHEMES])
def test_each_demo_schemes_rules_come_back_unchanged_through_the_edit_form(
    staff_web: StaffWeb, scheme: dict[str, object]
) -> None:
    demo(world_of(staff_web), str(scheme["slug"]))
    staff_web.sign_in("scheme_manager")
    path = f"{SCHEMES}/{scheme['slug']}/rules"
    assert staff_web.get(path).status_code == 200

    sent = staff_web.post_form(path, rules_posted(scheme["rules"], scheme["unit"], scheme["name"]))  # type: ignore[arg-type]

    assert sent.status_code == 302, page_text(sent)
    assert "Nothing was changed, so no new version was saved." in page_text(
        staff_web.get(sent.headers["Location"])
    )
    assert staff_log(staff_web, "scheme.update") == []


def test_a_new_rule_version_leaves_earlier_transactions_with_the_version_they_were_checked_against(
    staff_web: StaffWeb,
) -> None:
    world = world_of(staff_web)
    leisure = demo(world, "leisure-vouchers", funded_minor=10_000)
    resident_id = world.resident((leisure,))
    before = world.post(
        "/api/v1/issuances",
        {"scheme": "leisure-vouchers", "resident_id": resident_id},
        world.staff("caseworker"),
    )
    staff_web.sign_in("scheme_manager")

    saved = staff_web.post_form(
        f"{SCHEMES}/leisure-vouchers/rules",
        rules_posted(LEISURE["rules"], "GBP", "Leisure for teens", amount="20"),
    )

    assert saved.status_code == 302
    after = world.post(
        "/api/v1/issuances",
        {"scheme": "leisure-vouchers", "resident_id": resident_id},
        world.staff("caseworker"),
    )
    auditor = world.staff("auditor")
    first = world.get(f"/api/v1/transactions/{before.get_json()['transaction_id']}", auditor).get_json()
    second = world.get(f"/api/v1/transactions/{after.get_json()['transaction_id']}", auditor).get_json()
    assert (first["rule_version"], second["rule_version"]) == (1, 2)
    assert after.get_json()["amount_minor"] == 2000
    (entry,) = staff_log(staff_web, "scheme.update")
    assert entry["detail"] == {"version": 2, "name": "Leisure for teens"}


def test_adding_an_earning_rule_row_keeps_what_was_typed_and_saves_nothing(staff_web: StaffWeb) -> None:
    staff_web.sign_in("scheme_manager")
    typed = new_scheme_posted(
        **{"earning-0-event": "check_in", "earning-0-amount": "0.10", "add_earning_rule": "y"}
    )

    page = staff_web.post_form(f"{SCHEMES}/new", typed)

    body = page.get_data(as_text=True)
    assert page.status_code == 200 and "There is a problem" not in page_text(page)
    assert "Earning rule 2" in page_text(page) and 'name="earning-1-event"' in body
    assert 'value="check_in"' in body and 'value="leisure-2027"' in body
    assert staff_log(staff_web, "scheme.create") == []


def test_finance_adds_to_a_budget_in_pounds_and_pence_and_the_staff_log_records_it(
    staff_web: StaffWeb,
) -> None:
    world = world_of(staff_web)
    leisure = demo(world, "leisure-vouchers")
    staff_web.sign_in("finance")
    path = f"{SCHEMES}/leisure-vouchers/fund"

    funded = staff_web.post_form(path, {"amount": "£1,250.50", "reference": "Grant 2026/7"})

    assert funded.status_code == 302
    page = page_text(staff_web.get(funded.headers["Location"]))
    assert "£1,250.50 is added to the budget. The budget is now £1,250.50." in page
    assert world.balance(leisure["budget_account_id"]) == 125_050
    (entry,) = staff_log(staff_web, "scheme.fund")
    assert entry["actor"] == "finance:finance" and entry["target"] == "leisure-vouchers"
    assert entry["detail"]["amount"] == "£1,250.50" and entry["detail"]["reference"] == "Grant 2026/7"


def test_hours_are_funded_as_hours_and_minutes(staff_web: StaffWeb) -> None:
    world = world_of(staff_web)
    time_bank = demo(world, "time-bank")
    staff_web.sign_in("finance")

    staff_web.post_form(f"{SCHEMES}/time-bank/fund", {"amount": "40 h 30 min"})

    assert world.balance(time_bank["budget_account_id"]) == 40 * 60 + 30
    assert "Budget left 40 h 30 min" in page_text(staff_web.get(f"{SCHEMES}/time-bank"))


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("", "Enter the amount to add to the budget"),
        ("five pounds", "Amount must be an amount, for example 5.50 or £12"),
        ("£0", "Amount must be £0.01 or more"),
        ("1.234", "Amount must be an amount"),
        ("12345678901", "Amount must be an amount"),
    ],
)
def test_a_funding_amount_people_cannot_mean_is_refused_in_words(
    staff_web: StaffWeb, typed: str, message: str
) -> None:
    leisure = demo(world_of(staff_web), "leisure-vouchers")
    staff_web.sign_in("finance")

    refused = staff_web.post_form(f"{SCHEMES}/leisure-vouchers/fund", {"amount": typed})

    assert refused.status_code == 200 and message in page_text(refused)
    assert world_of(staff_web).balance(leisure["budget_account_id"]) == 0


def test_sending_the_funding_form_twice_adds_to_the_budget_once(staff_web: StaffWeb) -> None:
    world = world_of(staff_web)
    leisure = demo(world, "leisure-vouchers")
    staff_web.sign_in("finance")
    form = {"amount": "100", "request_key": "6b1d6f3e-2a43-4c55-9b7e-2a4f0f1f0b11"}

    for _ in range(2):
        assert staff_web.post_form(f"{SCHEMES}/leisure-vouchers/fund", form).status_code == 302

    assert world.balance(leisure["budget_account_id"]) == 10_000
    assert len(staff_log(staff_web, "scheme.fund")) == 1


WRITES = [
    ("/admin/schemes/new", ("finance", "caseworker", "auditor")),
    ("/admin/schemes/leisure-vouchers/rules", ("finance", "caseworker", "auditor")),
    ("/admin/schemes/leisure-vouchers/fund", ("admin", "scheme_manager", "caseworker", "auditor")),
]


@pytest.mark.parametrize(("path", "forbidden"), WRITES, ids=[path for path, _ in WRITES])
def test_every_schemes_write_url_refuses_a_role_that_may_not_use_it_even_with_a_valid_csrf_token(
    staff_web: StaffWeb, path: str, forbidden: tuple[str, ...]
) -> None:
    leisure = demo(world_of(staff_web), "leisure-vouchers")
    for role in forbidden:
        staff_web.new_client()
        staff_web.sign_in(role)

        refused = staff_web.post_form(path, new_scheme_posted(amount="5"), form_page="/admin/")

        assert refused.status_code == 403, role
        assert "You cannot do that" in page_text(refused)
    assert world_of(staff_web).balance(leisure["budget_account_id"]) == 0
    assert len(staff_log(staff_web, "scheme.create")) == 1  # the set-up's own
    assert staff_log(staff_web, "scheme.update") == staff_log(staff_web, "scheme.fund") == []


def test_each_role_sees_only_the_scheme_controls_it_may_use(staff_web: StaffWeb) -> None:
    demo(world_of(staff_web), "leisure-vouchers")
    shown = {}
    for role in ("admin", "scheme_manager", "finance"):
        staff_web.new_client()
        staff_web.sign_in(role)
        page = page_text(staff_web.get(f"{SCHEMES}/leisure-vouchers"))
        listed = page_text(staff_web.get(SCHEMES))
        shown[role] = ("Change the rules" in page, "Add to the budget" in page, "Create a scheme" in listed)

    assert shown == {
        "admin": (True, False, True),
        "scheme_manager": (True, False, True),
        "finance": (False, True, False),
    }


@pytest.mark.parametrize("role", ["caseworker", "auditor"])
def test_roles_outside_schemes_get_no_schemes_section_and_no_schemes_page(
    staff_web: StaffWeb, role: str
) -> None:
    demo(world_of(staff_web), "leisure-vouchers")
    staff_web.sign_in(role)

    assert "Schemes" not in page_text(staff_web.get("/admin/"))
    for path in (
        SCHEMES,
        f"{SCHEMES}/leisure-vouchers",
        f"{SCHEMES}/new",
        f"{SCHEMES}/leisure-vouchers/fund",
    ):
        assert staff_web.get(path).status_code == 403, path


def test_an_unknown_scheme_is_a_page_not_found(staff_web: StaffWeb) -> None:
    staff_web.sign_in("finance")

    for path in (f"{SCHEMES}/no-such-scheme", f"{SCHEMES}/no-such-scheme/fund"):
        assert staff_web.get(path).status_code == 404
