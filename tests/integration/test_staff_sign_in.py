"""Signing in to the staff UI: password then TOTP, CSRF on every form, throttling, sessions that end."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from ledger.db.tables import staff_actions
from tests.support.staff_web import PASSWORD, StaffWeb, page_text, staff_web_fixture  # noqa: F401


def test_a_page_sends_a_signed_out_person_to_sign_in_and_back(staff_web: StaffWeb) -> None:
    response = staff_web.get("/admin/account")

    assert response.status_code == 302
    assert response.headers["Location"].startswith("/admin/sign-in?next=/admin/account")


def test_password_and_totp_sign_in_and_first_sign_in_shows_the_enrolment_qr(staff_web: StaffWeb) -> None:
    account = staff_web.account("caseworker")
    staff_web.post_form("/admin/sign-in", {"username": "caseworker", "password": PASSWORD})

    enrolment = staff_web.get("/admin/sign-in/code")
    assert "Set up your authenticator app" in page_text(enrolment)
    assert account.totp_secret in page_text(enrolment)
    assert "<svg" in enrolment.get_data(as_text=True)

    signed_in = staff_web.post_form("/admin/sign-in/code", {"code": staff_web.totp("caseworker")})
    assert signed_in.status_code == 302
    assert "Signed in as Test caseworker" in page_text(staff_web.get("/admin/"))


def test_a_wrong_password_or_code_is_refused_in_words(staff_web: StaffWeb) -> None:
    staff_web.account("auditor")

    wrong_password = staff_web.post_form("/admin/sign-in", {"username": "auditor", "password": "x" * 14})
    assert wrong_password.status_code == 200
    assert "The username or password is wrong" in page_text(wrong_password)

    staff_web.post_form("/admin/sign-in", {"username": "auditor", "password": PASSWORD})
    right = staff_web.totp("auditor")
    wrong_code = staff_web.post_form(
        "/admin/sign-in/code", {"code": "999999" if right != "999999" else "111111"}
    )
    assert "That code is wrong or was already used" in page_text(wrong_code)
    assert staff_web.get("/admin/").status_code == 302


def test_a_form_posted_without_its_csrf_token_is_refused_and_changes_nothing(staff_web: StaffWeb) -> None:
    staff_web.account("admin")

    response = staff_web.client.post("/admin/sign-in", data={"username": "admin", "password": PASSWORD})

    assert response.status_code == 400
    assert "nothing was changed" in page_text(response)
    assert staff_web.get("/admin/sign-in/code").status_code == 302  # no half-signed-in state


def test_repeated_wrong_passwords_for_one_account_are_throttled(staff_web: StaffWeb) -> None:
    staff_web.account("finance")
    for _ in range(5):
        staff_web.post_form("/admin/sign-in", {"username": "finance", "password": "not the password"})

    throttled = staff_web.post_form("/admin/sign-in", {"username": "finance", "password": PASSWORD})

    assert throttled.status_code == 429
    assert "Too many attempts" in page_text(throttled)


def test_signing_out_everywhere_ends_the_other_browsers_session(staff_web: StaffWeb) -> None:
    staff_web.sign_in("scheme_manager")
    first_browser = staff_web.client
    second_browser = staff_web.new_client()
    staff_web.sign_in("scheme_manager")
    assert first_browser.get("/admin/").status_code == 200

    staff_web.post_form("/admin/account/sign-out-everywhere", {}, form_page="/admin/account")

    assert first_browser.get("/admin/").status_code == 302
    assert second_browser.get("/admin/").status_code == 302


def test_an_idle_session_ends_after_thirty_minutes(staff_web: StaffWeb) -> None:
    staff_web.sign_in("caseworker")
    staff_web.clock.advance(dt.timedelta(minutes=31))

    assert staff_web.get("/admin/").status_code == 302


def test_each_sign_in_is_in_the_staff_log_with_the_address(staff_web: StaffWeb) -> None:
    staff_web.sign_in("admin")

    query = select(staff_actions.c.action, staff_actions.c.remote_address)
    rows = staff_web.context.read(lambda uow: uow.execute_now(query).all())
    assert ("staff.sign-in", "127.0.0.1") in [tuple(row) for row in rows]
