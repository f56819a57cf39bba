"""Rate limits on the resident pages: failed sign-ins per card and per address, and every page per address."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import current_app, request
from werkzeug.wrappers import Response

from admin.web.auth import remote_address
from api.limits import limiter
from ledger.cards.token import normalize_card_number

PER_CARD_FAILURES = "5 per 15 minutes"
PER_ADDRESS_FAILURES = "20 per 15 minutes"
PAGES_PER_ADDRESS = "120 per minute"


def failed(response: Response) -> bool:
    """A sign-in form shown again (200) after a POST is a failed attempt; a redirect is progress."""
    return request.method == "POST" and response.status_code == 200


def card_key() -> str:
    """One budget per card however its number is typed (spaces, lower case, no prefix)."""
    typed = (request.form.get("card_number") or "")[:40]
    try:
        number = normalize_card_number(typed)
    except ValueError:
        number = typed.strip().upper()
    return "resident-sign-in-card:" + number


def address_key() -> str:
    """One budget per address."""
    return "resident-address:" + remote_address()


_sign_in_limits = [
    limiter.shared_limit(
        PER_CARD_FAILURES, "resident-sign-in-card", key_func=card_key, deduct_when=failed, methods=["POST"]
    ),
    limiter.shared_limit(
        PER_ADDRESS_FAILURES,
        "resident-sign-in-address",
        key_func=address_key,
        deduct_when=failed,
        methods=["POST"],
    ),
]


def throttled(view: Callable[..., Any]) -> Callable[..., Any]:
    """Count failed sign-ins (PIN or date of birth alike) per card and per address."""
    for limit in _sign_in_limits:
        view = limit(view)
    return view


def pages_per_address() -> str:
    """The resident pages' limit per address: the RESIDENT_PAGE_RATE_LIMIT app setting (flask-limiter
    syntax), or 120 a minute."""
    return str(current_app.config.get("RESIDENT_PAGE_RATE_LIMIT") or PAGES_PER_ADDRESS)


# The resident pages' own limit: every request to any of them, per address.
every_page = limiter.shared_limit(pages_per_address, "resident-pages", key_func=address_key)
