"""The resident pages: sign in by card number and PIN (or date of birth), set a PIN, see the card, report
it lost, sign out. Views are thin: parse the form, call one use case, render."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import g, make_response, redirect, render_template, request, url_for
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response

from admin.web.auth import context, remote_address
from admin.web.resident.blueprint import resident
from admin.web.resident.forms import DateOfBirthSignInForm, PinSignInForm, SetPinForm
from admin.web.resident.limits import every_page, throttled
from admin.web.resident.session import clear_cookie, requires_resident, set_cookie, signed_in_resident
from admin.web.setup import csrf
from ledger.clock import council_zone
from ledger.errors import LedgerError, ValidationFailed
from ledger.usecases.resident_access import (
    SignInResult,
    end_session,
    report_lost_card,
    set_pin,
    sign_in_with_date_of_birth,
    sign_in_with_pin,
    start_session,
)
from ledger.usecases.resident_view import my_page


@resident.app_template_filter("local_when")
def local_when(value: dt.datetime | None) -> str:
    """A time in the council's zone as people say it: 1 December 2026, 2:05pm."""
    if value is None:
        return ""
    local = value.astimezone(council_zone(context().settings.time_zone))
    return local.strftime("%-d %B %Y, ") + local.strftime("%-I:%M%p").lower()


@resident.app_template_filter("local_day")
def local_day(value: dt.datetime) -> str:
    """A day in the council's zone: 31 December 2026."""
    return value.astimezone(council_zone(context().settings.time_zone)).strftime("%-d %B %Y")


def _render(template: str, title: str, status: int = 200, **values: Any) -> tuple[str, int]:
    settings = context().settings
    return (
        render_template(
            f"resident/{template}",
            title=title,
            council_contact=settings.council_contact,
            date_of_birth_allowed=settings.resident_date_of_birth_sign_in,
            resident_session=signed_in_resident(),
            **values,
        ),
        status,
    )


def _after_sign_in(result: SignInResult) -> Response | None:
    """A session and a redirect for a right secret; None otherwise (the form says why)."""
    if result.outcome != "signed-in":
        return None
    ledger = context()
    token = ledger.write(lambda uow: start_session(uow, result=result, now=ledger.clock.now()))
    target = url_for("resident.home") if result.has_pin else url_for("resident.choose_pin")
    return set_cookie(redirect(target), token)


@resident.route("/sign-in", methods=["GET", "POST"])
@every_page
@throttled
def sign_in() -> Any:
    """Card number and PIN."""
    form = PinSignInForm()
    if request.method == "POST":
        csrf.protect()
    if form.validate_on_submit():
        number, pin = form.card_number.data or "", form.pin.data or ""
        result = context().read(lambda uow: sign_in_with_pin(uow, card_number=number, pin=pin))
        if result.outcome == "blocked":
            return _render("blocked.html", "This card has been blocked", replaced=result.replaced)
        signed_in = _after_sign_in(result)
        if signed_in is not None:
            return signed_in
        form.pin.errors.append("The card number or PIN is wrong")
    return _render("sign_in.html", "Check your card", form=form)


@resident.route("/sign-in/date-of-birth", methods=["GET", "POST"])
@every_page
@throttled
def sign_in_date_of_birth() -> Any:
    """Card number and date of birth: a first visit, or a forgotten PIN (if the council allows it)."""
    allowed = context().settings.resident_date_of_birth_sign_in
    if not allowed:
        return _render("no_date_of_birth.html", "Signing in with your date of birth is switched off", 404)
    form = DateOfBirthSignInForm()
    if request.method == "POST":
        csrf.protect()
    if form.validate_on_submit() and form.date_of_birth.data is not None:
        number, born = form.card_number.data or "", form.date_of_birth.data
        result = context().read(
            lambda uow: sign_in_with_date_of_birth(
                uow, card_number=number, date_of_birth=born, allowed=allowed
            )
        )
        if result.outcome == "blocked":
            return _render("blocked.html", "This card has been blocked", replaced=result.replaced)
        signed_in = _after_sign_in(result)
        if signed_in is not None:
            return signed_in
        form.date_of_birth.errors.append("The card number or date of birth is wrong")
    return _render("sign_in_date_of_birth.html", "Check your card with your date of birth", form=form)


@resident.get("/")
@every_page
@requires_resident
def home() -> Any:
    """The resident's card: balances, what expires when, where to spend, history."""
    session = signed_in_resident()
    assert session is not None
    ledger = context()
    page = ledger.read(
        lambda uow: my_page(
            uow, resident_id=session.resident_id, card_number=session.card_number, now=ledger.clock.now()
        )
    )
    return _render("home.html", "Your card", page=page, has_pin=session.has_pin)


@resident.route("/pin", methods=["GET", "POST"])
@every_page
@requires_resident
def choose_pin() -> Any:
    """Set or change the PIN used to sign in."""
    session = signed_in_resident()
    assert session is not None
    form = SetPinForm()
    if form.validate_on_submit():
        ledger, pin = context(), form.pin.data or ""
        try:
            ledger.write(
                lambda uow: set_pin(
                    uow, session=session, pin=pin, now=ledger.clock.now(), remote_address=remote_address()
                )
            )
        except ValidationFailed as error:
            form.pin.errors.append(error.detail)
        else:
            return redirect(url_for("resident.home", pin="saved"))
    title = "Change your PIN" if session.has_pin else "Choose a PIN"
    return _render("pin.html", title, form=form)


@resident.get("/lost-card")
@every_page
@requires_resident
def lost_card() -> Any:
    """Confirm before blocking the card."""
    return _render("lost_card.html", "Report your card lost or stolen")


@resident.post("/lost-card")
@every_page
@requires_resident
def block_lost_card() -> Any:
    """Block the card at once; the balance stays safe for the replacement."""
    session = signed_in_resident()
    assert session is not None
    ledger = context()
    ledger.write(
        lambda uow: report_lost_card(
            uow, session=session, now=ledger.clock.now(), remote_address=remote_address()
        )
    )
    g.resident_session = None  # signed out everywhere: the page after says so
    page, status = _render("lost_card_done.html", "Your card is blocked", card_number=session.card_number)
    return clear_cookie(make_response(page, status))


@resident.post("/sign-out")
@every_page
@requires_resident
def sign_out() -> Response:
    """Sign out this browser."""
    ledger, token = context(), str(g.resident_token)
    ledger.write(lambda uow: end_session(uow, token, ledger.clock.now()))
    return clear_cookie(redirect(url_for("resident.sign_in", signed_out="yes")))


ERROR_PAGES = {
    400: ("Something was wrong with that request", "Go back, reload the page and try again."),
    404: ("Page not found", "Check the address, or start again from the sign-in page."),
    405: ("You cannot do that here", "Use the buttons on the page rather than typing the address."),
    429: ("Too many attempts", "For your security, wait 15 minutes, then try again."),
}


@resident.errorhandler(CSRFError)
def csrf_refused(error: CSRFError) -> Any:
    """A form without a valid CSRF token: refused, and nothing changed."""
    return _render(
        "error.html", "This form has expired", 400, next_step="Go back, reload the page and try again."
    )


@resident.errorhandler(HTTPException)
def http_error(error: HTTPException) -> Any:
    """HTTP errors on resident pages as pages in plain English, never problem+json."""
    status = error.code or 500
    title, next_step = ERROR_PAGES.get(status, ("Something went wrong", "Try again in a moment."))
    return _render("error.html", title, status, next_step=next_step)


@resident.errorhandler(LedgerError)
def ledger_error(error: LedgerError) -> Any:
    """An expected refusal (a card already blocked): shown in words, nothing changed."""
    return _render("error.html", "That could not be done", 409, message=error.detail, next_step=None)
