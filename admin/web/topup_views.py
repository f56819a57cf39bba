"""What the resident's and the staff's "Add money" pages share: where Stripe sends the payer back, and
starting the top-up from a valid form (a refusal becomes the form's error, in words)."""

from __future__ import annotations

from collections.abc import Callable, ItemsView
from typing import Any, TypeVar

from flask import url_for

from admin.web.auth import context
from admin.web.forms_topups import AddMoneyForm
from api.security_headers import DEFAULT_CONTENT_SECURITY_POLICY
from clubcard.stripe_checkout import checkout_gateway
from ledger.actors import Actor
from ledger.errors import LedgerError
from ledger.usecases.topups import ReturnPages, TopUpRequest, TopUpStarted, start_topup

F = TypeVar("F", bound=Callable[..., Any])
STRIPE_CHECKOUT_ORIGIN = "https://checkout.stripe.com"


class _CheckoutFormPolicy(dict[str, str]):
    """The usual Content-Security-Policy, except that the form may end at Stripe Checkout: the browser
    enforces form-action on the redirect a POST answers with, so the 303 to Checkout needs its origin.
    Talisman reads `items()` for every response, so the origin follows this app's settings."""

    def items(self) -> ItemsView[str, str]:  # type: ignore[override]
        """The policy for this request."""
        base = context().settings.stripe_api_base  # the tests' fake Stripe serves its own Checkout pages
        origin = base.rstrip("/") if base else STRIPE_CHECKOUT_ORIGIN
        return {**self, "form-action": f"'self' {origin}"}.items()


def allows_checkout_redirect(view: F) -> F:
    """Serve this page's form with a policy that lets it redirect to Stripe Checkout (put under the route)."""
    view.talisman_view_options = {  # type: ignore[attr-defined]
        "content_security_policy": _CheckoutFormPolicy(DEFAULT_CONTENT_SECURITY_POLICY)
    }
    return view


def return_pages(success_endpoint: str, cancel_endpoint: str, **values: str) -> ReturnPages:
    """Our pages Stripe sends the payer's browser back to, as absolute addresses."""
    return ReturnPages(
        success_url=url_for(success_endpoint, _external=True, **values),
        cancel_url=url_for(cancel_endpoint, _external=True, **values),
    )


def start_from_form(
    form: AddMoneyForm, *, card_number: str, actor: Actor | str, pages: ReturnPages
) -> TopUpStarted | None:
    """The started top-up (its Checkout page to go to), or None with the reason on the form."""
    ledger = context()
    assert form.amount.amount_minor is not None and form.scheme.data, "call with a valid form"
    request = TopUpRequest(card_number, form.scheme.data, form.amount.amount_minor)
    try:
        return start_topup(
            ledger,
            checkout_gateway(ledger.settings),
            request=request,
            pages=pages,
            now=ledger.clock.now(),
            zone=ledger.clock.zone,
            actor=actor,
            key=form.request_key.data or "",
        )
    except LedgerError as error:
        form.amount.errors = [_sentence(error.detail)]
        return None


def _sentence(detail: str) -> str:
    return detail[:1].upper() + detail[1:]
