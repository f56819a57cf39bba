"""The residents pages of the staff UI: find, enrol, schemes, cards, voucher series, export and erasure, with
who asked and why in the staff log; roles enforced on every page and POST. On SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import io

import pypdfium2
import zxingcpp

from ledger.usecases.cards import resolve_card
from tests.integration.staff_residents_support import (
    ADULT,
    ON_BEHALF,
    TEEN,
    THIRD_PARTY,
    api_key,
    date_fields,
    demo_scheme,
    enrol,
    enrol_form,
    issue_card,
    join,
    staff_log,
)
from tests.support.staff_web import StaffWeb, page_text, staff_web_fixture  # noqa: F401

RESIDENTS = "/admin/residents"


def test_a_caseworker_enrols_a_resident_and_the_staff_log_records_who_asked_and_why(
    staff_web: StaffWeb,
) -> None:
    staff_web.sign_in("caseworker")

    resident_id = enrol(staff_web, TEEN, **THIRD_PARTY)

    page = page_text(staff_web.get(f"{RESIDENTS}/{resident_id}"))
    assert "Ada Lovelace is enrolled." in page
    for shown in (resident_id, "15 June 2010", "AB1 2CD", "Riverside", "No cards yet."):
        assert shown in page
    (entry,) = staff_log(staff_web, "resident.enrol")
    assert entry["target"] == resident_id and entry["actor"] == "caseworker:caseworker"
    assert entry["remote_address"] == "127.0.0.1"
    assert entry["detail"]["on_behalf"] == {
        "asked_by": "Sam Patel, probation officer",
        "reason": "Released on Monday; needs a bed",
    }


def test_the_enrolment_form_says_what_is_wrong_field_by_field_and_enrols_no_one(staff_web: StaffWeb) -> None:
    staff_web.sign_in("caseworker")
    path = f"{RESIDENTS}/new"

    empty = staff_web.post_form(path, {"kind": "person"})
    assert empty.status_code == 200
    for message in (
        "Enter a name",
        "Enter a date of birth",
        "Select who asked for this",
        "Enter why this was done",
    ):
        assert message in page_text(empty)
    cases = {
        "Date of birth must include a month": date_fields("date_of_birth", 15, "", 2010),
        "Date of birth must be a real date": date_fields("date_of_birth", 31, 2, 2010),
        "Date of birth must be in the past": date_fields("date_of_birth", 1, 1, 2030),
        "Enter the name of the person who asked": {"asked_by": "someone-else", "third_party": " "},
    }
    for message, change in cases.items():
        refused = staff_web.post_form(path, {**enrol_form(TEEN), **change})
        assert refused.status_code == 200 and message in page_text(refused), message
        assert "There is a problem" in page_text(refused)
    assert staff_log(staff_web, "resident.enrol") == []


def test_sending_the_enrolment_form_twice_enrols_the_resident_once(staff_web: StaffWeb) -> None:
    staff_web.sign_in("caseworker")
    form = {**enrol_form(TEEN), "request_key": "3f1c0a52-8a43-4c55-9b7e-2a4f0f1f0b11"}

    first = staff_web.post_form(f"{RESIDENTS}/new", form)
    again = staff_web.post_form(f"{RESIDENTS}/new", form)

    assert first.status_code == again.status_code == 302
    assert first.headers["Location"] == again.headers["Location"]
    assert len(staff_log(staff_web, "resident.enrol")) == 1


def test_a_resident_is_found_by_card_number_or_by_exact_name_and_date_of_birth_only(
    staff_web: StaffWeb,
) -> None:
    staff_web.sign_in("caseworker")
    resident_id = enrol(staff_web, TEEN)
    enrol(staff_web, {**TEEN, "born": (16, 6, 2010)})
    number = issue_card(staff_web, resident_id)

    by_card = staff_web.post_form(
        f"{RESIDENTS}/find-by-card", {"card_number": number.lower()}, form_page=RESIDENTS
    )
    assert "1 resident with that card number" in page_text(by_card)
    assert f'href="{RESIDENTS}/{resident_id}"' in by_card.get_data(as_text=True)
    by_name = {"name": "  ada LOVELACE ", **date_fields("date_of_birth", 15, 6, 2010)}
    found = staff_web.post_form(f"{RESIDENTS}/find-by-name", by_name, form_page=RESIDENTS)
    assert "1 resident with exactly that name and date of birth" in page_text(found)
    partial = staff_web.post_form(
        f"{RESIDENTS}/find-by-name", {**by_name, "name": "Ada"}, form_page=RESIDENTS
    )
    assert "No resident has exactly that name and date of birth" in page_text(partial)
    typo = staff_web.post_form(f"{RESIDENTS}/find-by-card", {"card_number": "CC-0000"}, form_page=RESIDENTS)
    assert "That is not a valid card number: check it for a typo" in page_text(typo)

    lookups = staff_log(staff_web, "resident.lookup")
    assert sorted(entry["detail"]["found"] for entry in lookups) == [[], [resident_id], [resident_id]]
    assert all("Ada" not in str(entry) and "ada" not in entry["target"] for entry in lookups)


def test_a_search_form_says_what_is_missing(staff_web: StaffWeb) -> None:
    staff_web.sign_in("admin")

    no_number = staff_web.post_form(f"{RESIDENTS}/find-by-card", {"card_number": ""}, form_page=RESIDENTS)
    no_birth_date = staff_web.post_form(
        f"{RESIDENTS}/find-by-name", {"name": "Ada Lovelace"}, form_page=RESIDENTS
    )

    assert "Enter a card number" in page_text(no_number)
    assert "Enter their date of birth" in page_text(no_birth_date)
    assert staff_log(staff_web, "resident.lookup") == []


def test_enrolling_in_a_scheme_shows_a_refusal_in_words_then_enrols_an_eligible_resident(
    staff_web: StaffWeb,
) -> None:
    demo_scheme(staff_web, "leisure-vouchers")
    staff_web.sign_in("caseworker")
    adult, teen = enrol(staff_web, ADULT), enrol(staff_web, TEEN)

    refused = join(staff_web, adult, "leisure-vouchers")
    assert refused.status_code == 200
    assert (
        "Not eligible for Leisure vouchers (13-19): aged 21 on 2026-11-02; the scheme is for ages 13 to 19"
        in page_text(refused)
    )
    accepted = join(staff_web, teen, "leisure-vouchers", **THIRD_PARTY)
    assert accepted.status_code == 302
    page = page_text(staff_web.get(f"{RESIDENTS}/{teen}"))
    assert (
        "Eligible and enrolled in Leisure vouchers (13-19) (checked on 2 November 2026, rule version 1)"
        in page
    )
    assert "Leisure vouchers (13-19) 2 Nov 2026 09:00 UTC £0.00" in page
    (entry,) = staff_log(staff_web, "membership.enrol")
    assert (
        entry["target"] == teen and entry["detail"]["on_behalf"]["asked_by"] == "Sam Patel, probation officer"
    )


def _release_member(staff_web: StaffWeb, funded_minor: int) -> str:
    demo_scheme(staff_web, "release-vouchers", funded_minor=funded_minor)
    staff_web.sign_in("caseworker")
    resident_id = enrol(staff_web, ADULT)
    assert join(staff_web, resident_id, "release-vouchers", referral="Probation ref 88").status_code == 302
    return resident_id


def _voucher_rows(*rows: tuple[str, str, tuple[int, int, int] | None]) -> dict[str, object]:
    form: dict[str, object] = {}
    for index, (purpose, amount, expires) in enumerate(rows):
        form[f"vouchers-{index}-purpose"] = purpose
        form[f"vouchers-{index}-amount"] = amount
        form.update(date_fields(f"vouchers-{index}-expires_on", *(expires or ("", "", ""))))
    return form


def test_a_voucher_series_issues_each_purpose_with_its_amount_and_expiry(staff_web: StaffWeb) -> None:
    resident_id = _release_member(staff_web, funded_minor=100_000)
    path = f"{RESIDENTS}/{resident_id}/schemes/release-vouchers/vouchers?count=2"
    assert page_text(staff_web.get(path)).count("Purpose") == 2

    rows = _voucher_rows(("accommodation", "", None), ("work-clothes", "25.50", (31, 1, 2027)))
    issued = staff_web.post_form(path, {**rows, **THIRD_PARTY})

    assert issued.status_code == 302, page_text(issued)
    page = page_text(staff_web.get(f"{RESIDENTS}/{resident_id}"))
    issued_message = (
        "2 vouchers issued: accommodation £60.00 until 31 January 2027; work clothes £25.50 until"
    )
    assert f"{issued_message} 31 January 2027" in page
    assert "Release vouchers" in page and "£85.50" in page
    assert page.count("Issued") >= 2
    (entry,) = staff_log(staff_web, "issuance.series")
    assert [(v["purpose"], v["amount_minor"]) for v in entry["detail"]["vouchers"]] == [
        ("accommodation", 6000),
        ("work-clothes", 2550),
    ]
    assert entry["detail"]["on_behalf"]["reason"] == "Released on Monday; needs a bed"


def test_a_voucher_series_is_refused_whole_when_one_voucher_is_refused(staff_web: StaffWeb) -> None:
    resident_id = _release_member(staff_web, funded_minor=5_000)
    path = f"{RESIDENTS}/{resident_id}/schemes/release-vouchers/vouchers?count=2"

    rows = _voucher_rows(("accommodation", "40", None), ("skills-course", "", None))
    refused = staff_web.post_form(path, {**rows, **ON_BEHALF})

    assert refused.status_code == 200
    assert "Voucher 2 was refused, so none were issued" in page_text(refused)
    assert "Release vouchers Not a member" not in page_text(staff_web.get(f"{RESIDENTS}/{resident_id}"))
    assert "£0.00" in page_text(staff_web.get(f"{RESIDENTS}/{resident_id}"))
    assert staff_log(staff_web, "issuance.series") == []


def test_each_voucher_row_says_what_is_wrong_with_it(staff_web: StaffWeb) -> None:
    resident_id = _release_member(staff_web, funded_minor=100_000)
    path = f"{RESIDENTS}/{resident_id}/schemes/release-vouchers/vouchers?count=3"

    rows = _voucher_rows(("", "", None), ("accommodation", "lots", None), ("work-clothes", "", (1, 11, 2026)))
    refused = staff_web.post_form(path, {**rows, **ON_BEHALF})

    text = page_text(refused)
    assert "Select a purpose" in text
    assert "Enter the amount as a number, for example 5.50 or £12" in text
    assert "Expiry date must be in the future" in text
    assert staff_log(staff_web, "issuance.series") == []


def _decoded_qr(pdf: bytes) -> str:
    page = pypdfium2.PdfDocument(io.BytesIO(pdf))[0]
    (result,) = zxingcpp.read_barcodes(
        page.render(scale=300 / 72).to_pil(), formats=zxingcpp.BarcodeFormat.QRCode
    )
    return str(result.text)


def test_a_caseworker_issues_a_card_and_prints_a_pdf_whose_qr_is_that_card(staff_web: StaffWeb) -> None:
    staff_web.sign_in("caseworker")
    resident_id = enrol(staff_web, TEEN)

    number = issue_card(staff_web, resident_id)

    page = staff_web.get(f"{RESIDENTS}/{resident_id}")
    assert f"Card {number} is issued." in page_text(page)
    assert f"{RESIDENTS}/cards/{number}/card.pdf" in page.get_data(as_text=True)
    pdf = staff_web.get(f"{RESIDENTS}/cards/{number}/card.pdf")
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    assert pdf.headers["Cache-Control"] == "no-store"
    token = _decoded_qr(pdf.data)
    card = staff_web.context.read(
        lambda uow: resolve_card(uow, keyring=staff_web.context.keyring, token=token)
    )
    assert card["number"] == number and card["resident_id"] == resident_id
    (entry,) = staff_log(staff_web, "card.issue")
    assert entry["target"] == number and entry["detail"]["on_behalf"] == {
        "asked_by": "the resident",
        "reason": "Came to the desk at the library",
    }
    again = staff_web.post_form(f"{RESIDENTS}/{resident_id}/cards/new", ON_BEHALF)
    assert f"No card was issued: this resident already has card {number}" in page_text(again)


def test_blocking_and_replacing_a_lost_card_ask_first_and_keep_the_balance_with_the_resident(
    staff_web: StaffWeb,
) -> None:
    resident_id = _release_member(staff_web, funded_minor=100_000)
    path = f"{RESIDENTS}/{resident_id}/schemes/release-vouchers/vouchers?count=1"
    assert (
        staff_web.post_form(path, {**_voucher_rows(("accommodation", "", None)), **ON_BEHALF}).status_code
        == 302
    )
    old = issue_card(staff_web, resident_id)

    confirm = page_text(staff_web.get(f"{RESIDENTS}/{resident_id}/cards/{old}/block"))
    assert f"Are you sure you want to block card {old}?" in confirm
    assert "The balance stays with the resident" in confirm
    blocked = staff_web.post_form(f"{RESIDENTS}/{resident_id}/cards/{old}/block", THIRD_PARTY)
    assert blocked.status_code == 302
    page = page_text(staff_web.get(f"{RESIDENTS}/{resident_id}"))
    assert f"Card {old} is blocked. The balance stays with the resident." in page
    assert f"{old} Blocked" in page and "£60.00" in page

    assert "The balance stays with the resident" in page_text(
        staff_web.get(f"{RESIDENTS}/{resident_id}/cards/{old}/replace")
    )
    replaced = staff_web.post_form(f"{RESIDENTS}/{resident_id}/cards/{old}/replace", ON_BEHALF)
    assert replaced.status_code == 302
    new = staff_web.context.read(lambda uow: uow.people.card(old))["replaced_by"]
    page = page_text(staff_web.get(f"{RESIDENTS}/{resident_id}"))
    assert f"Card {old} is blocked and replaced by card {new}. The balance stays with the resident." in page
    assert f"{old} Replaced" in page and f"{new} Active" in page and "£60.00" in page
    assert (
        staff_log(staff_web, "card.block")[0]["detail"]["on_behalf"]["asked_by"]
        == "Sam Patel, probation officer"
    )
    assert staff_log(staff_web, "card.replace")[0]["detail"]["replaced_by"] == new
    assert staff_web.get(f"{RESIDENTS}/cards/{old}/card.pdf").status_code == 422


def test_the_subject_access_export_downloads_the_same_json_as_the_api(staff_web: StaffWeb) -> None:
    staff_web.sign_in("caseworker")
    resident_id = enrol(staff_web, TEEN)
    issue_card(staff_web, resident_id)
    assert "Subject access export" in page_text(staff_web.get(f"{RESIDENTS}/{resident_id}/export"))

    download = staff_web.post_form(f"{RESIDENTS}/{resident_id}/export", THIRD_PARTY)

    assert download.status_code == 200 and download.mimetype == "application/json"
    assert download.headers["Content-Disposition"] == f'attachment; filename="resident-{resident_id}.json"'
    assert download.headers["Cache-Control"] == "no-store"
    headers = {"Authorization": f"Bearer {api_key(staff_web, 'caseworker')}"}
    from_api = staff_web.client.get(f"/api/v1/residents/{resident_id}/export", headers=headers)
    assert from_api.status_code == 200
    assert download.json == from_api.json
    (ui_export,) = [
        e for e in staff_log(staff_web, "resident.export") if e["actor"] == "caseworker:caseworker"
    ]
    assert ui_export["detail"]["on_behalf"]["asked_by"] == "Sam Patel, probation officer"


def test_an_admin_erases_personal_data_after_a_confirmation_and_the_balances_stay(
    staff_web: StaffWeb,
) -> None:
    resident_id = _release_member(staff_web, funded_minor=100_000)
    path = f"{RESIDENTS}/{resident_id}/schemes/release-vouchers/vouchers?count=1"
    assert (
        staff_web.post_form(path, {**_voucher_rows(("accommodation", "", None)), **ON_BEHALF}).status_code
        == 302
    )
    assert staff_web.get(f"{RESIDENTS}/{resident_id}/erase").status_code == 403
    staff_web.new_client()
    staff_web.sign_in("admin")

    confirm = page_text(staff_web.get(f"{RESIDENTS}/{resident_id}/erase"))
    assert "Are you sure you want to erase this resident's personal data?" in confirm
    assert "their name, date of birth, postcode, ward and contact details" in confirm
    assert (
        "the ledger holds no personal data, so its hashes, signed checkpoints and proofs stay valid"
        in confirm
    )
    erased = staff_web.post_form(f"{RESIDENTS}/{resident_id}/erase", ON_BEHALF)

    assert erased.status_code == 302
    page = page_text(staff_web.get(f"{RESIDENTS}/{resident_id}"))
    assert "Their personal data is erased. Their balances and the ledger are unchanged." in page
    assert "Resident (personal data erased)" in page and "Grace Hopper" not in page and "£60.00" in page
    by_name = {"name": ADULT["name"], **date_fields("date_of_birth", *ADULT["born"])}
    found = staff_web.post_form(f"{RESIDENTS}/find-by-name", by_name, form_page=RESIDENTS)
    assert "No resident has exactly that name and date of birth" in page_text(found)
    assert staff_log(staff_web, "resident.erase")[0]["detail"]["on_behalf"]["asked_by"] == "the resident"
    assert "already erased" in page_text(staff_web.get(f"{RESIDENTS}/{resident_id}/erase"))


def _write_urls(resident_id: str, number: str) -> dict[str, tuple[str, ...]]:
    """Every residents URL that changes something (or looks a resident up), with the roles that may."""
    casework = ("caseworker", "admin")
    return {
        f"{RESIDENTS}/find-by-card": casework,
        f"{RESIDENTS}/find-by-name": casework,
        f"{RESIDENTS}/new": casework,
        f"{RESIDENTS}/{resident_id}/schemes": ("caseworker",),
        f"{RESIDENTS}/{resident_id}/schemes/release-vouchers/vouchers?count=1": ("caseworker",),
        f"{RESIDENTS}/{resident_id}/cards/new": casework,
        f"{RESIDENTS}/{resident_id}/cards/{number}/block": casework,
        f"{RESIDENTS}/{resident_id}/cards/{number}/replace": casework,
        f"{RESIDENTS}/{resident_id}/export": casework,
        f"{RESIDENTS}/{resident_id}/erase": ("admin",),
    }


def test_every_residents_write_url_refuses_a_role_that_may_not_use_it_even_with_a_valid_csrf_token(
    staff_web: StaffWeb,
) -> None:
    resident_id = _release_member(staff_web, funded_minor=100_000)
    number = issue_card(staff_web, resident_id)
    urls = _write_urls(resident_id, number)
    form = {"card_number": number, **enrol_form(TEEN), "scheme": "release-vouchers", **ON_BEHALF}
    for role in ("auditor", "finance", "scheme_manager", "admin", "caseworker"):
        staff_web.new_client()
        staff_web.sign_in(role)
        for url, allowed in urls.items():
            if role in allowed:
                continue
            refused = staff_web.post_form(url, form, form_page="/admin/account")
            assert refused.status_code == 403, (role, url)
            assert "You cannot do that" in page_text(refused)
    assert staff_log(staff_web, "card.block") == [] and staff_log(staff_web, "resident.erase") == []
    assert len(staff_log(staff_web, "resident.enrol")) == 1


def test_roles_outside_casework_see_no_residents_section_and_no_residents_page(staff_web: StaffWeb) -> None:
    staff_web.sign_in("caseworker")
    resident_id = enrol(staff_web, TEEN)
    number = issue_card(staff_web, resident_id)
    for role in ("auditor", "finance", "scheme_manager"):
        staff_web.new_client()
        staff_web.sign_in(role)
        assert f'href="{RESIDENTS}"' not in staff_web.get("/admin/").get_data(as_text=True)
        for path in (
            RESIDENTS,
            f"{RESIDENTS}/new",
            f"{RESIDENTS}/{resident_id}",
            f"{RESIDENTS}/{resident_id}/export",
            f"{RESIDENTS}/cards/{number}/card.pdf",
        ):
            assert staff_web.get(path).status_code == 403, (role, path)


def test_the_resident_page_shows_each_role_only_the_controls_it_may_use(staff_web: StaffWeb) -> None:
    resident_id = _release_member(staff_web, funded_minor=100_000)
    caseworker_page = staff_web.get(f"{RESIDENTS}/{resident_id}").get_data(as_text=True)
    staff_web.new_client()
    staff_web.sign_in("admin")
    admin_page = staff_web.get(f"{RESIDENTS}/{resident_id}").get_data(as_text=True)

    assert "Issue vouchers" in caseworker_page and "Issue a card" in caseworker_page
    assert "Erase their personal data" not in caseworker_page
    assert "Erase their personal data" in admin_page and "Issue a card" in admin_page
    assert "Issue vouchers" not in admin_page and "Enrol in a scheme" not in admin_page


def test_an_unknown_resident_or_card_is_a_page_not_found(staff_web: StaffWeb) -> None:
    staff_web.sign_in("caseworker")

    for path in (
        f"{RESIDENTS}/00000000-0000-0000-0000-000000000000",
        f"{RESIDENTS}/{'x' * 80}",
        f"{RESIDENTS}/cards/not-a-card/card.pdf",
        f"{RESIDENTS}/cards/CC-7Q4M-2K9X-HT3P-R8VD/card.pdf",
    ):
        response = staff_web.get(path)
        assert response.status_code == 404, path
        assert "Page not found" in page_text(response)


def test_a_residents_form_posted_without_its_csrf_token_changes_nothing(staff_web: StaffWeb) -> None:
    staff_web.sign_in("caseworker")

    response = staff_web.client.post(f"{RESIDENTS}/new", data=enrol_form(TEEN))

    assert response.status_code == 400 and "nothing was changed" in page_text(response)
    assert staff_log(staff_web, "resident.enrol") == []


def test_look_ups_draw_from_each_member_of_staffs_own_budget(staff_web: StaffWeb) -> None:
    staff_web.app.config["CLUBCARD_CARD_LOOKUP_LIMIT"] = "2 per minute"
    staff_web.sign_in("caseworker")
    search = {"card_number": "CC-7Q4M-2K9X-HT3P-R8VD"}
    for _ in range(2):
        assert (
            staff_web.post_form(f"{RESIDENTS}/find-by-card", search, form_page=RESIDENTS).status_code == 200
        )

    throttled = staff_web.post_form(f"{RESIDENTS}/find-by-card", search, form_page=RESIDENTS)
    staff_web.new_client()
    staff_web.sign_in("admin")
    other = staff_web.post_form(f"{RESIDENTS}/find-by-card", search, form_page=RESIDENTS)

    assert throttled.status_code == 429 and "Too many attempts" in page_text(throttled)
    assert other.status_code == 200


def test_the_resident_page_shows_the_newest_twenty_movements_first_in_peoples_units(
    staff_web: StaffWeb,
) -> None:
    resident_id = _release_member(staff_web, funded_minor=1_000_000)
    path = f"{RESIDENTS}/{resident_id}/schemes/release-vouchers/vouchers?count="
    ten = _voucher_rows(*[("work-clothes", "1", None)] * 10)
    for _ in range(2):
        assert staff_web.post_form(path + "10", {**ten, **ON_BEHALF}).status_code == 302
        staff_web.clock.advance(dt.timedelta(minutes=5))
    last = _voucher_rows(("accommodation", "1.23", None))
    assert staff_web.post_form(path + "1", {**last, **ON_BEHALF}).status_code == 302

    page = page_text(staff_web.get(f"{RESIDENTS}/{resident_id}"))

    history = page.split("Recent history, newest first", 1)[1]
    assert history.startswith(" When What Scheme Amount 2 Nov 2026 09:10 UTC Issued Release vouchers £1.23")
    assert history.count("Issued Release vouchers") == 20
    assert "The newest 20 movements." in history and "£21.23" in page
