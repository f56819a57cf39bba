"""The resident's "Add money" pages: choose a scheme that accepts top-ups and an amount, pay on Stripe
Checkout, come back to a page that says the payment is being confirmed (the webhook credits, never this)."""

from __future__ import annotations

from typing import Any

from flask import redirect, request

from admin.web.auth import context
from admin.web.forms_topups import AddMoneyForm
from admin.web.resident import pages
from admin.web.resident.blueprint import resident
from admin.web.resident.limits import every_page
from admin.web.resident.session import requires_resident, signed_in_resident
from admin.web.setup import csrf
from admin.web.topup_views import allows_checkout_redirect, return_pages, start_from_form
from clubcard.stripe_gateway import stripe_configured
from ledger.usecases.topup_pages import topup_options

RESIDENT_ACTOR_PREFIX = "resident:"


@resident.route("/add-money", methods=["GET", "POST"])
@allows_checkout_redirect
@every_page
@requires_resident
def add_money() -> Any:
    """The form; a valid one goes (303) to Stripe Checkout."""
    session = signed_in_resident()
    assert session is not None
    ledger = context()
    options = ledger.read(lambda uow: topup_options(uow, session.resident_id))
    form = AddMoneyForm(options=options)
    configured = stripe_configured(ledger.settings)
    if request.method == "POST":
        csrf.protect()
        if configured and form.validate_on_submit():
            started = start_from_form(
                form,
                card_number=session.card_number,
                actor=RESIDENT_ACTOR_PREFIX + session.resident_id,
                pages=return_pages("resident.topup_confirming", "resident.topup_cancelled"),
            )
            if started is not None:
                return redirect(started.checkout_url, code=303)
    return pages._render(
        "topups/add_money.html",
        "Add money to your card",
        form=form,
        options=options,
        configured=configured,
    )


@resident.get("/add-money/confirming")
@every_page
def topup_confirming() -> Any:
    """Back from Stripe after paying: the money shows once Stripe confirms it to us, not before."""
    return pages._render("topups/confirming.html", "We are confirming your payment")


@resident.get("/add-money/cancelled")
@every_page
def topup_cancelled() -> Any:
    """Back from Stripe without paying: nothing was taken."""
    return pages._render("topups/cancelled.html", "You have not paid")
