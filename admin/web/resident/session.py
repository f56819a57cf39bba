"""The resident's session cookie: a signed, short-lived, HttpOnly, SameSite=Strict cookie for /my only,
naming a server-side session row (idle timeout 10 minutes)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

from flask import current_app, g, redirect, request, url_for
from itsdangerous import BadSignature, TimestampSigner
from werkzeug.wrappers import Response

from admin.web.auth import context
from admin.web.setup import csrf
from ledger.usecases.resident_access import ABSOLUTE_LIFETIME_SECONDS, ResidentSession, current_session

F = TypeVar("F", bound=Callable[..., Any])
COOKIE = "clubcard_resident"
COOKIE_PATH = "/my"


def _signer() -> TimestampSigner:
    return TimestampSigner(current_app.secret_key or "", salt="clubcard-resident-session")


def signed_in_resident() -> ResidentSession | None:
    """The resident this request comes from, or None (no cookie, a forged one, an ended session)."""
    if "resident_session" in g:
        found: ResidentSession | None = g.resident_session
        return found
    g.resident_session = None
    g.resident_token = None
    cookie = request.cookies.get(COOKIE, "")
    if cookie and len(cookie) < 300:
        try:
            token = _signer().unsign(cookie, max_age=ABSOLUTE_LIFETIME_SECONDS).decode()
        except BadSignature:
            token = ""
        ledger = context()
        if token:
            g.resident_session = ledger.write(lambda uow: current_session(uow, token, now=ledger.clock.now()))
            g.resident_token = token if g.resident_session is not None else None
    return g.resident_session


def requires_resident(view: F) -> F:
    """Signed in as a resident (else to the sign-in page); CSRF checked on every POST."""

    @functools.wraps(view)
    def checked(*args: Any, **kwargs: Any) -> Any:
        if signed_in_resident() is None:
            return redirect(url_for("resident.sign_in"))
        if request.method not in ("GET", "HEAD", "OPTIONS"):
            csrf.protect()
        return view(*args, **kwargs)

    return checked  # type: ignore[return-value]


def set_cookie(response: Response, token: str) -> Response:
    """Remember the session in this browser until it closes (a session cookie, no Max-Age)."""
    response.set_cookie(
        COOKIE,
        _signer().sign(token).decode(),
        httponly=True,
        samesite="Strict",
        secure=request.is_secure,
        path=COOKIE_PATH,
    )
    return response


def clear_cookie(response: Response) -> Response:
    """Forget the session in this browser."""
    response.delete_cookie(COOKIE, path=COOKIE_PATH, httponly=True, samesite="Strict")
    return response
