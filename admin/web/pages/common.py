"""What every staff page shares: template variables, the dashboard, error pages."""

from __future__ import annotations

from typing import Any

from flask import render_template
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from admin.web.auth import context, may, requires_staff, signed_in_user
from admin.web.blueprint import staff
from admin.web.navigation import navigation, sections_for
from ledger.errors import LedgerError


@staff.app_context_processor
def staff_template_variables() -> dict[str, Any]:
    """The signed-in user, the council's name and the navigation, for every template."""
    return {
        "staff_user": signed_in_user_or_none(),
        "council_name": context().settings.council_name,
        "navigation": lambda path: navigation(signed_in_user_or_none(), path),
        "may": may,
    }


def signed_in_user_or_none() -> Any:
    """The user when this request belongs to the staff UI, else None (API requests never look)."""
    from flask import request

    if request.blueprint != "staff":
        return None
    return signed_in_user()


@staff.get("/")
@requires_staff()
def dashboard() -> str:
    """The start page: the sections this role may use."""
    return render_template("staff/dashboard.html", title="Start", sections=sections_for(signed_in_user()))


ERROR_PAGES = {
    400: ("Something was wrong with that request", "Go back, reload the page and try again."),
    403: ("You cannot do that", "Your role does not allow it. Ask an administrator if you need it."),
    404: ("Page not found", "Check the address, or start again from the start page."),
    405: ("You cannot do that here", "Use the buttons on the page rather than typing the address."),
    429: ("Too many attempts", "Wait a few minutes, then try again."),
}


@staff.errorhandler(CSRFError)
def csrf_refused(error: CSRFError) -> tuple[str, int]:
    """A form without a valid CSRF token: refused, and nothing changed."""
    return (
        render_template(
            "staff/error.html",
            title="This form has expired",
            message="For your security the form could not be sent: nothing was changed.",
            next_step="Go back, reload the page and send the form again.",
        ),
        400,
    )


@staff.errorhandler(HTTPException)
def http_error(error: HTTPException) -> tuple[str, int]:
    """HTTP errors on staff pages as HTML pages in plain English, never problem+json."""
    status = error.code or 500
    title, next_step = ERROR_PAGES.get(status, ("Something went wrong", "Try again in a moment."))
    return render_template("staff/error.html", title=title, message="", next_step=next_step), status


@staff.errorhandler(LedgerError)
def ledger_error(error: LedgerError) -> tuple[str, int]:
    """An expected refusal a page did not handle itself: shown in words, nothing changed."""
    return (
        render_template(
            "staff/error.html", title="That could not be done", message=error.detail, next_step=None
        ),
        422,
    )
