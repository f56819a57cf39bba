"""Adding money to a resident's card (caseworker, admin): a scheme that accepts top-ups and an amount, then
Stripe Checkout; the staff log records who started it, for whom and why. Stripe's webhook credits it."""

from __future__ import annotations

from typing import Any

from flask import abort, redirect, render_template

from admin.web.auth import context, requires_staff
from admin.web.blueprint import staff
from admin.web.forms_topups import StaffAddMoneyForm
from admin.web.pages.residents import CASEWORK, acting
from admin.web.topup_views import allows_checkout_redirect, return_pages, start_from_form
from clubcard.stripe_gateway import stripe_configured
from ledger.errors import NotFound
from ledger.usecases.topup_pages import StaffTopUpPage, staff_topup_page


def _page_or_404(resident_id: str) -> StaffTopUpPage:
    try:
        return context().read(lambda uow: staff_topup_page(uow, resident_id))
    except NotFound:
        abort(404)


@staff.route("/residents/<resident_id>/add-money", methods=["GET", "POST"])
@allows_checkout_redirect
@requires_staff(*CASEWORK)
def add_money(resident_id: str) -> Any:
    """The form; a valid one goes (303) to Stripe Checkout for whoever is paying."""
    page = _page_or_404(resident_id)
    form = StaffAddMoneyForm(options=page.options)
    configured = stripe_configured(context().settings)
    if configured and page.card_number and form.validate_on_submit():
        started = start_from_form(
            form,
            card_number=page.card_number,
            actor=acting(form),
            pages=return_pages("staff.topup_confirming", "staff.topup_cancelled", resident_id=resident_id),
        )
        if started is not None:
            return redirect(started.checkout_url, code=303)
    return render_template(
        "staff/topups/add_money.html",
        title="Add money to their card",
        form=form,
        page=page,
        configured=configured,
    )


@staff.get("/residents/<resident_id>/add-money/confirming")
@requires_staff(*CASEWORK)
def topup_confirming(resident_id: str) -> str:
    """Back from Stripe after paying: credited when Stripe confirms it to us, not on this page."""
    return render_template(
        "staff/topups/returned.html",
        title="The payment is being confirmed",
        resident_id=resident_id,
        paid=True,
    )


@staff.get("/residents/<resident_id>/add-money/cancelled")
@requires_staff(*CASEWORK)
def topup_cancelled(resident_id: str) -> str:
    """Back from Stripe without paying: nothing was taken or added."""
    return render_template(
        "staff/topups/returned.html", title="The payment was not made", resident_id=resident_id, paid=False
    )
