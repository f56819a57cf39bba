"""An outlet's payout details (finance and admins): its Stripe connected account and bank details, checked
and stored by a use case, each change in the staff log."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, url_for
from werkzeug.wrappers import Response

from admin.web.auth import context, requires_staff
from admin.web.blueprint import staff
from admin.web.forms_settlements import PayeeForm
from admin.web.pages.acting import now, staff_actor
from ledger.errors import LedgerError, NotFound
from ledger.usecases.outlets import get_outlet
from ledger.usecases.settlements_payees import clean_payee, payee_of, save_payee

PAYEE_EDITORS = ("finance", "admin")
FIELDS = ("connected_account_id", "sort_code", "account_number", "account_name")


@staff.route("/outlets/<outlet_id>/payout", methods=["GET", "POST"])
@requires_staff(*PAYEE_EDITORS)
def outlet_payee(outlet_id: str) -> str | Response:
    """Show and change where an outlet is paid."""
    try:
        outlet, payee = context().read(lambda uow: (get_outlet(uow, outlet_id), payee_of(uow, outlet_id)))
    except NotFound:
        abort(404)
    form = PayeeForm(data={name: getattr(payee, name) or "" for name in FIELDS})
    if form.validate_on_submit():
        try:
            given = {name: (getattr(form, name).data or "") for name in FIELDS}
            cleaned = clean_payee(outlet_id, **given)
            actor = staff_actor()
            context().write(lambda uow: save_payee(uow, payee=cleaned, now=now(), actor=actor))
        except LedgerError as error:
            field = error.detail.split(":", 1)[0]
            target = getattr(form, field, form.connected_account_id) if field in FIELDS else form.sort_code
            target.errors = [error.detail.split(": ", 1)[-1].capitalize()]
        else:
            flash(f"The payout details of {outlet['name']} are saved.", "success")
            return redirect(url_for("staff.outlet_payee", outlet_id=outlet_id))
    return render_template(
        "staff/settlements/payee.html", title=f"Payout details: {outlet['name']}", form=form, outlet=outlet
    )
