"""Who is signed in: the session cookie, role checks on every page and POST, CSRF on every form."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import urlsplit

from flask import abort, current_app, g, redirect, request, url_for
from werkzeug.wrappers import Response

from admin.web.setup import csrf
from clubcard.context import LedgerContext
from ledger.usecases.staff_accounts import StaffUser
from ledger.usecases.staff_sessions import DEFAULT_IDLE_TIMEOUT_SECONDS, current_session

F = TypeVar("F", bound=Callable[..., Any])
SESSION_COOKIE = "clubcard_staff"
STAFF_ROLES = ("admin", "scheme_manager", "caseworker", "finance", "auditor")


def context() -> LedgerContext:
    """The ledger context of the running app."""
    found: LedgerContext = current_app.extensions["clubcard"]
    return found


def idle_timeout_seconds() -> int:
    """How long a session may sit unused: CLUBCARD_STAFF_IDLE_TIMEOUT_SECONDS or 30 minutes."""
    return int(current_app.config.get("CLUBCARD_STAFF_IDLE_TIMEOUT_SECONDS") or DEFAULT_IDLE_TIMEOUT_SECONDS)


def signed_in_user() -> StaffUser | None:
    """The member of staff this request comes from, or None."""
    if "staff_user" in g:
        user: StaffUser | None = g.staff_user
        return user
    token = request.cookies.get(SESSION_COOKIE, "")
    ledger = context()
    session = (
        ledger.write(
            lambda uow: current_session(
                uow, token, now=ledger.clock.now(), idle_timeout_seconds=idle_timeout_seconds()
            )
        )
        if token
        else None
    )
    g.staff_user = session.user if session is not None else None
    g.staff_token = token if session is not None else None
    return g.staff_user


def remote_address() -> str:
    """Where the request came from (ProxyFix, when configured, has already applied X-Forwarded-For)."""
    return (request.remote_addr or "unknown")[:64]


def safe_next(target: str | None) -> str:
    """A same-site path to go back to after signing in; anything else goes to the dashboard."""
    if target and target.startswith("/admin") and not urlsplit(target).netloc and "\\" not in target:
        return target
    return url_for("staff.dashboard")


def requires_staff(*roles: str) -> Callable[[F], F]:
    """Signed in (else to the sign-in page), one of `roles` (else 403), CSRF checked on every POST."""
    allowed = roles or STAFF_ROLES

    def decorate(view: F) -> F:
        @functools.wraps(view)
        def checked(*args: Any, **kwargs: Any) -> Any:
            user = signed_in_user()
            if user is None:
                return redirect(url_for("staff.sign_in", next=request.full_path.rstrip("?")))
            if user.role not in allowed:
                abort(403)
            if request.method not in ("GET", "HEAD", "OPTIONS"):
                csrf.protect()
            g.allowed_roles = allowed
            return view(*args, **kwargs)

        checked.allowed_roles = allowed  # type: ignore[attr-defined]
        return checked  # type: ignore[return-value]

    return decorate


def may(user: StaffUser | None, *roles: str) -> bool:
    """True when the user holds one of the roles (templates show a control only to those who may use it)."""
    return user is not None and user.role in roles


def set_session_cookie(response: Response, token: str) -> Response:
    """The staff session cookie: HttpOnly, SameSite=Lax, Secure over HTTPS, only for /admin."""
    response.set_cookie(
        SESSION_COOKIE,
        token,
        httponly=True,
        samesite="Lax",
        secure=request.is_secure,
        path="/admin",
    )
    return response


def clear_session_cookie(response: Response) -> Response:
    """Forget the staff session in this browser."""
    response.delete_cookie(SESSION_COOKIE, path="/admin")
    return response
