"""Signing in (password, then TOTP or a recovery code), signing out, signing out everywhere."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from flask import flash, g, make_response, redirect, render_template, request, session, url_for
from werkzeug.wrappers import Response

from admin.web.auth import (
    clear_session_cookie,
    context,
    remote_address,
    requires_staff,
    safe_next,
    set_session_cookie,
    signed_in_user,
)
from admin.web.blueprint import staff
from admin.web.forms import SecondFactorForm, SignInForm
from admin.web.qr import qr_svg
from admin.web.setup import csrf
from api.limits import limiter
from ledger.usecases.staff_accounts import check_password, check_second_factor, pending_enrolment
from ledger.usecases.staff_sessions import end_every_session, end_session, start_session

PENDING_SECONDS = 300  # between the password and the code
PER_ACCOUNT_FAILURES = "5 per 15 minutes"
PER_ADDRESS_FAILURES = "20 per 15 minutes"


def _failed(response: Response) -> bool:
    # A sign-in form shown again (200) after a POST is a failed attempt; a redirect is progress.
    return request.method == "POST" and response.status_code == 200


def _account_key() -> str:
    return (
        "staff-sign-in:" + (request.form.get("username") or session.get("pending_username", ""))[:64].lower()
    )


def _address_key() -> str:
    return "staff-sign-in-address:" + remote_address()


_throttled = [
    limiter.limit(PER_ACCOUNT_FAILURES, key_func=_account_key, deduct_when=_failed, methods=["POST"]),
    limiter.limit(PER_ADDRESS_FAILURES, key_func=_address_key, deduct_when=_failed, methods=["POST"]),
]


def throttled(view: Callable[..., Any]) -> Callable[..., Any]:
    """Count failed sign-in attempts per account and per address."""
    for limit in _throttled:
        view = limit(view)
    return view


def _forget_pending() -> None:
    for name in ("pending_user_id", "pending_username", "pending_since"):
        session.pop(name, None)


@staff.route("/sign-in", methods=["GET", "POST"])
@throttled
def sign_in() -> str | Response:
    """First factor: username and password."""
    form = SignInForm()
    if request.method == "POST":
        csrf.protect()
    if form.validate_on_submit():
        ledger = context()
        user = ledger.write(
            lambda uow: check_password(uow, form.username.data or "", form.password.data or "")
        )
        if user is not None:
            _forget_pending()
            session["pending_user_id"] = user.id
            session["pending_username"] = user.username
            session["pending_since"] = time.time()
            return redirect(url_for("staff.second_factor", next=request.args.get("next")))
        form.password.errors.append("The username or password is wrong")
    return render_template("staff/sign_in.html", title="Sign in", form=form)


def _enrolment(user_id: str) -> dict[str, str] | None:
    enrolment = context().read(lambda uow: pending_enrolment(uow, user_id))
    if enrolment is None:
        return None
    return {
        "secret": enrolment.secret,
        "qr_svg": qr_svg(enrolment.provisioning_uri, "QR code for your authenticator app"),
    }


@staff.route("/sign-in/code", methods=["GET", "POST"])
@throttled
def second_factor() -> str | Response:
    """Second factor: a TOTP code (enrolling on first sign-in) or a recovery code."""
    user_id = session.get("pending_user_id")
    if not user_id or time.time() - float(session.get("pending_since", 0)) > PENDING_SECONDS:
        _forget_pending()
        return redirect(url_for("staff.sign_in"))
    form = SecondFactorForm()
    if request.method == "POST":
        csrf.protect()
    ledger = context()
    if form.validate_on_submit():
        code = form.code.data or ""
        if ledger.write(lambda uow: check_second_factor(uow, user_id, code, ledger.clock.now())):
            token = ledger.write(
                lambda uow: start_session(
                    uow,
                    user_id,
                    remote_address=remote_address(),
                    user_agent=request.user_agent.string,
                    now=ledger.clock.now(),
                )
            )
            _forget_pending()
            return set_session_cookie(redirect(safe_next(request.args.get("next"))), token)
        form.code.errors.append("That code is wrong or was already used")
    title = "Set up your authenticator app" if _enrolment(user_id) else "Enter your code"
    return render_template("staff/second_factor.html", title=title, form=form, enrolment=_enrolment(user_id))


@staff.post("/sign-out")
@requires_staff()
def sign_out() -> Response:
    """Sign out this browser."""
    ledger = context()
    token = g.staff_token
    ledger.write(lambda uow: end_session(uow, token, ledger.clock.now()))
    flash("You have signed out.", "success")
    return clear_session_cookie(make_response(redirect(url_for("staff.sign_in"))))


@staff.get("/account")
@requires_staff()
def account() -> str:
    """Your account, and signing out everywhere."""
    return render_template("staff/account.html", title="Your account")


@staff.post("/account/sign-out-everywhere")
@requires_staff()
def sign_out_everywhere() -> Response:
    """End every session of the signed-in user."""
    ledger = context()
    user = signed_in_user()
    assert user is not None
    ledger.write(lambda uow: end_every_session(uow, user.id, actor=user.actor, now=ledger.clock.now()))
    flash("You have been signed out everywhere.", "success")
    return clear_session_cookie(make_response(redirect(url_for("staff.sign_in"))))
