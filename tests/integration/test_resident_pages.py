"""The resident's own pages (/my): sign in by card number and PIN (or date of birth), throttled per card and
per address; balances, expiry, history, where to spend and the time bank's figures; nothing personal; no-store
everywhere; a lost card blocked at once. On SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from sqlalchemy import select

from api.app import create_app
from ledger.clock import FixedClock
from ledger.db.tables import staff_actions
from tests.integration.resident_page_support import (
    BORN,
    DEVICE_LABEL,
    PERSONAL,
    Household,
    choose_pin,
    household,
    sign_in_with_date_of_birth,
    sign_in_with_pin,
    signed_in_with_pin,
)
from tests.support.staff_web import START, StaffWeb, csrf_token, page_text, staff_web_fixture  # noqa: F401

PROBLEM = "https://clubcard.example/problems/"


@pytest.fixture(name="home")
def home_fixture(staff_web: StaffWeb) -> Household:
    """The resident under test and their world."""
    return household(staff_web)


def _actions(web: StaffWeb, action: str) -> list[dict[str, object]]:
    query = select(staff_actions).where(staff_actions.c.action == action)
    rows = web.context.read(lambda uow: uow.execute_now(query).all())
    return [{**row._mapping, "detail": json.loads(row.detail_json)} for row in rows]


def test_a_first_visit_uses_the_date_of_birth_then_the_resident_chooses_a_pin_and_signs_in_with_it(
    staff_web: StaffWeb, home: Household
) -> None:
    first = sign_in_with_date_of_birth(staff_web, home.card_number.lower().replace("-", " "))
    assert first.status_code == 302 and first.headers["Location"].endswith("/my/pin")
    cookie = first.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/my" in cookie

    assert "Choose a PIN" in page_text(staff_web.get("/my/pin"))
    assert choose_pin(staff_web, "4827").status_code == 302
    assert "Your PIN is saved" in page_text(staff_web.get("/my/?pin=saved"))
    staff_web.post_form("/my/sign-out", {}, form_page="/my/")
    assert staff_web.get("/my/").status_code == 302

    signed_in = sign_in_with_pin(staff_web, home.card_number, "4827")
    assert signed_in.status_code == 302 and signed_in.headers["Location"].endswith("/my/")
    assert "Your card" in page_text(staff_web.get("/my/"))
    (entry,) = _actions(staff_web, "resident.set-pin")
    assert entry["actor"] == f"resident:{home.card_number}" and entry["remote_address"] == "127.0.0.1"
    stored = staff_web.context.read(lambda uow: uow.resident_access.pin_hash(home.resident_id))
    assert stored.startswith("$argon2id$") and "4827" not in stored


def test_an_easy_or_mistyped_pin_is_refused_field_by_field(staff_web: StaffWeb, home: Household) -> None:
    sign_in_with_date_of_birth(staff_web, home.card_number)

    for pin, confirm, message in (
        ("12", "12", "Your PIN must be 4 to 6 digits"),
        ("1234", "1234", "harder to guess"),
        ("7777", "7777", "harder to guess"),
        ("4827", "4828", "The PINs do not match"),
    ):
        refused = choose_pin(staff_web, pin, confirm)
        assert refused.status_code == 200 and message in page_text(refused)
    assert staff_web.context.read(lambda uow: uow.resident_access.pin_hash(home.resident_id)) is None


def test_a_wrong_pin_is_refused_and_five_wrong_tries_lock_the_card_even_with_the_right_pin(
    staff_web: StaffWeb, home: Household
) -> None:
    signed_in_with_pin(staff_web, home.card_number, "4827")
    staff_web.new_client()

    for attempt in range(5):
        wrong = sign_in_with_pin(staff_web, home.card_number, f"90{attempt}1")
        assert wrong.status_code == 200 and "The card number or PIN is wrong" in page_text(wrong)
    throttled = staff_web.client.post(
        "/my/sign-in",
        data={"card_number": home.card_number, "pin": "4827", "csrf_token": _token(staff_web)},
        environ_overrides={"REMOTE_ADDR": "192.0.2.9"},  # another address: the card's own budget is spent
    )

    assert throttled.status_code == 429
    assert "Too many attempts" in page_text(throttled)
    assert throttled.headers["Cache-Control"] == "no-store"


def _token(web: StaffWeb) -> str:
    return csrf_token(web.get("/my/sign-in").get_data(as_text=True))


def test_wrong_tries_on_many_cards_from_one_address_are_throttled(
    staff_web: StaffWeb, home: Household
) -> None:
    signed_in_with_pin(staff_web, home.card_number, "4827")
    staff_web.new_client()
    token = _token(staff_web)
    address = {"REMOTE_ADDR": "198.51.100.7"}

    for attempt in range(20):
        guess = {"card_number": f"CC-0000-0000-0000-{attempt:04d}", "pin": "1357", "csrf_token": token}
        assert staff_web.client.post("/my/sign-in", data=guess, environ_overrides=address).status_code == 200
    right = {"card_number": home.card_number, "pin": "4827", "csrf_token": token}

    assert staff_web.client.post("/my/sign-in", data=right, environ_overrides=address).status_code == 429
    assert staff_web.client.post("/my/sign-in", data=right).status_code == 302  # elsewhere, still fine


def test_a_wrong_date_of_birth_is_refused_and_counts_as_a_failed_try(
    staff_web: StaffWeb, home: Household
) -> None:
    for _ in range(5):
        wrong = sign_in_with_date_of_birth(staff_web, home.card_number, BORN + dt.timedelta(days=1))
        assert wrong.status_code == 200 and "The card number or date of birth is wrong" in page_text(wrong)

    assert sign_in_with_date_of_birth(staff_web, home.card_number).status_code == 429


def test_the_council_can_switch_the_date_of_birth_sign_in_off(database_url: str, tmp_path: object) -> None:
    clock = FixedClock(START)
    app = create_app(
        {
            "CLUBCARD_DATABASE_URL": database_url,
            "CLUBCARD_DATA_DIR": str(tmp_path),
            "CLUBCARD_RESIDENT_DOB_SIGN_IN": "off",
            "CLOCK": clock,
        }
    )
    try:
        web = StaffWeb(app, clock)
        home = household(web)
        assert "Check your card with your date of birth" not in page_text(web.get("/my/sign-in"))
        page = web.get("/my/sign-in/date-of-birth")
        assert page.status_code == 404 and "switched off" in page_text(page)
        refused = web.client.post(
            "/my/sign-in/date-of-birth",
            data={
                "card_number": home.card_number,
                "date_of_birth": ["15", "1", "1975"],
                "csrf_token": _token(web),
            },
        )
        assert refused.status_code == 404 and "Set-Cookie" not in refused.headers
    finally:
        app.extensions["clubcard"].engine.dispose()


def test_the_page_shows_balances_expiry_history_and_where_to_spend(
    staff_web: StaffWeb, home: Household
) -> None:
    signed_in_with_pin(staff_web, home.card_number)

    page = page_text(staff_web.get("/my/"))

    leisure = page[page.index("leisure Balance") : page.index("time-bank Balance")]
    assert "Balance £15.50" in leisure
    assert "£15.50 on 2 December 2026" in leisure  # issued 2 November 2026, 30 days to spend it
    assert "Northbank Pool" in leisure
    assert "Central Library" not in leisure and "Gym Elsewhere" not in leisure
    assert "Spent at Northbank Pool leisure -£4.50" in page
    assert "Added to your card leisure +£20.00" in page
    assert "2 November 2026, 10:00am" in page  # the council's time (GMT in November)


def test_the_time_bank_shows_hours_earned_given_received_and_the_overdraft_left(
    staff_web: StaffWeb, home: Household
) -> None:
    signed_in_with_pin(staff_web, home.card_number)

    page = page_text(staff_web.get("/my/"))

    bank = page[page.index("time-bank Balance") :]
    assert "Balance 2 h 30 min" in bank
    assert "Hours earned 3 h" in bank
    assert "Hours given to other members 1 h" in bank
    assert "Hours received from other members 30 min" in bank
    assert "Overdraft left 10 h of 10 h" in bank
    assert "Repair Café" in bank and "Nothing on this card expires" in bank
    assert "Given time-bank -1 h" in page and "Received time-bank +30 min" in page


def test_the_overdraft_left_shrinks_once_the_balance_is_below_zero(
    staff_web: StaffWeb, home: Household
) -> None:
    give = {"scheme": "time-bank", "from_resident_id": home.resident_id, "to_resident_id": home.neighbour_id}
    made = home.world.post("/api/v1/transfers", {**give, "amount_minor": 270}, home.world.staff("caseworker"))
    assert made.status_code == 201, made.get_json()
    signed_in_with_pin(staff_web, home.card_number)

    bank = page_text(staff_web.get("/my/"))
    bank = bank[bank.index("time-bank Balance") :]

    assert "Balance -2 h" in bank and "Overdraft left 8 h of 10 h" in bank


def test_no_page_shows_personal_data_staff_or_device_details_and_every_page_is_no_store(
    staff_web: StaffWeb, home: Household
) -> None:
    pages = ["/my/sign-in", "/my/sign-in/date-of-birth"]
    responses = [staff_web.get(path) for path in pages]
    signed_in_with_pin(staff_web, home.card_number)
    responses += [staff_web.get(path) for path in ("/my/", "/my/pin", "/my/lost-card", "/my/nowhere")]

    for response in responses:
        assert response.headers["Cache-Control"] == "no-store"
        text = response.get_data(as_text=True)
        for secret in (*PERSONAL, DEVICE_LABEL, home.resident_id, *home.outlets.values(), "caseworker"):
            assert secret not in text, (response.request.path, secret)
    assert responses[-1].status_code == 404


def test_a_blocked_or_replaced_card_cannot_sign_in_and_is_told_what_to_do(
    staff_web: StaffWeb, home: Household
) -> None:
    signed_in_with_pin(staff_web, home.card_number, "4827")
    staff_web.new_client()
    home.world.block(home.card_number)

    blocked = sign_in_with_pin(staff_web, home.card_number, "4827")

    assert blocked.status_code == 200 and "Set-Cookie" not in blocked.headers
    text = page_text(blocked)
    assert "This card has been blocked" in text and "Your balance is safe" in text
    assert "0300 123 4567" in text
    wrong = sign_in_with_pin(staff_web, home.card_number, "9999")
    assert "The card number or PIN is wrong" in page_text(wrong)  # the wrong PIN learns nothing


def test_a_lost_card_is_blocked_at_once_and_a_kiosk_then_gets_card_blocked(
    staff_web: StaffWeb, home: Household
) -> None:
    signed_in_with_pin(staff_web, home.card_number)
    other_browser = staff_web.client
    staff_web.new_client()
    signed_in_with_pin(staff_web, home.card_number)
    confirm = page_text(staff_web.get("/my/lost-card"))
    assert "Block my card" in confirm and home.card_number in confirm

    done = staff_web.post_form("/my/lost-card", {})

    text = page_text(done)
    assert done.status_code == 200 and "Your card is blocked" in text
    assert "Your balance is safe" in text and "0300 123 4567" in text
    assert staff_web.get("/my/").status_code == 302 and other_browser.get("/my/").status_code == 302
    keys = staff_web.client.get("/.well-known/clubcard-keys").get_json()
    assert home.card_number in keys["revoked_cards"]
    entitlements = home.world.get(f"/api/v1/cards/{home.card_token}/entitlements", home.pool_device)
    assert (
        entitlements.status_code == 403 or entitlements.status_code == 409 or entitlements.status_code == 410
    )
    assert entitlements.get_json()["type"] == PROBLEM + "card-blocked"
    (entry,) = _actions(staff_web, "card.block")
    assert entry["actor"] == f"resident:{home.card_number}" and entry["target"] == home.card_number
    assert home.world.wallet(home.resident_id, {"id": _scheme_id(home, "leisure")}) == 1550


def _scheme_id(home: Household, slug: str) -> str:
    scheme = home.world.context.read(lambda uow: uow.schemes.get(slug=slug))
    return str(scheme["id"])


def test_a_form_without_its_csrf_token_is_refused(staff_web: StaffWeb, home: Household) -> None:
    refused = staff_web.client.post("/my/sign-in", data={"card_number": home.card_number, "pin": "4827"})

    assert refused.status_code == 400 and "This form has expired" in page_text(refused)
    assert refused.headers["Cache-Control"] == "no-store"


def test_an_idle_session_ends_after_ten_minutes(staff_web: StaffWeb, home: Household) -> None:
    signed_in_with_pin(staff_web, home.card_number)
    staff_web.clock.advance(dt.timedelta(minutes=9))
    assert staff_web.get("/my/").status_code == 200

    staff_web.clock.advance(dt.timedelta(minutes=11))

    assert staff_web.get("/my/").status_code == 302


def test_the_resident_pages_have_their_own_limit_per_address(database_url: str, tmp_path: object) -> None:
    clock = FixedClock(START)
    settings = {"CLUBCARD_DATABASE_URL": database_url, "CLUBCARD_DATA_DIR": str(tmp_path), "CLOCK": clock}
    app = create_app({**settings, "RESIDENT_PAGE_RATE_LIMIT": "5 per hour"})
    try:
        client, address = app.test_client(), {"REMOTE_ADDR": "203.0.113.5"}
        for _ in range(5):
            assert client.get("/my/sign-in", environ_overrides=address).status_code == 200

        limited = client.get("/my/sign-in", environ_overrides=address)

        assert limited.status_code == 429 and "Too many attempts" in page_text(limited)
        assert limited.headers["Cache-Control"] == "no-store"
        assert client.get("/my/sign-in").status_code == 200  # another address is not held up
    finally:
        app.extensions["clubcard"].engine.dispose()
