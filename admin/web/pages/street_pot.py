"""Street pots (scheme managers and admins change them; caseworkers read): per street, open a round of
voting, add proposals, see household vote counts, close the round (a round whose time has passed closes on
the next visit to its page, staff's or a household's), which pays the winner's outlet from the pot; reverse
that payment. Every change is in the staff log."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, url_for
from werkzeug.wrappers import Response

from admin.web.auth import context, requires_staff
from admin.web.blueprint import staff
from admin.web.forms_street_pot import CloseRoundForm, OpenRoundForm, ProposalForm, ReversePaymentForm
from admin.web.pages.acting import now, staff_actor
from ledger.errors import LedgerError, NotFound
from ledger.ports import UnitOfWork
from ledger.street_pot import WINNER_RULE
from ledger.units import format_amount
from ledger.usecases.schemes import get_scheme
from ledger.usecases.street_pot import (
    add_proposal,
    close_due,
    close_round,
    open_round,
    reverse_payment,
)
from ledger.usecases.street_pot_pages import StreetPot, street_pot, street_pots

READERS = ("admin", "scheme_manager", "caseworker")
WRITERS = ("admin", "scheme_manager")


@staff.get("/street-pots")
@requires_staff(*READERS)
def street_pot_list() -> str:
    """Every street's pot, with its open round if any."""
    pots = context().read(lambda uow: street_pots(uow, now=now()))
    return render_template("staff/street_pot/index.html", title="Street pots", pots=pots)


def _pot(street_id: str, slug: str) -> StreetPot:
    """The pot as it is now, after closing its round if the closing time has passed."""
    ledger, at = context(), now()

    def operation(uow: UnitOfWork) -> StreetPot:
        scheme = get_scheme(uow, slug)
        close_due(uow, street_id=street_id, scheme_id=scheme["id"], now=at, zone=ledger.clock.zone)
        return street_pot(uow, street_id=street_id, slug=slug, now=at)

    try:
        return ledger.write(operation)
    except NotFound:
        abort(404)


def _page(pot: StreetPot, **forms: object) -> str:
    open_form = forms.get("open_form") or OpenRoundForm()
    proposal_form = forms.get("proposal_form") or ProposalForm(unit=pot.unit, outlets=pot.outlets)
    return render_template(
        "staff/street_pot/pot.html",
        title=f"{pot.street_name}: {pot.scheme_name} pot",
        pot=pot,
        rule=WINNER_RULE,
        open_form=open_form,
        proposal_form=proposal_form,
        close_form=CloseRoundForm(),
        form=forms.get("form"),
    )


@staff.get("/street-pots/<street_id>/<slug>")
@requires_staff(*READERS)
def street_pot_page(street_id: str, slug: str) -> str:
    """One street's pot: the open round's proposals and household counts, and the past rounds."""
    return _page(_pot(street_id, slug))


@staff.post("/street-pots/<street_id>/<slug>/rounds")
@requires_staff(*WRITERS)
def street_pot_open(street_id: str, slug: str) -> str | Response:
    """Open a round of voting that closes at the day and time given (council time)."""
    pot = _pot(street_id, slug)
    form = OpenRoundForm()
    if not form.validate_on_submit():
        return _page(pot, open_form=form, form=form)
    ledger, actor, key = context(), staff_actor(), form.request_key.data
    closes_at = form.closes_at(ledger.clock.zone)
    try:
        ledger.write(
            lambda uow: open_round(
                uow,
                street_id=street_id,
                slug=slug,
                closes_at=closes_at,
                now=now(),
                zone=ledger.clock.zone,
                actor=actor,
                idempotency_key=key,
            )
        )
    except LedgerError as error:
        form.closes_on.errors = [f"The round cannot be opened: {error.detail}"]
        return _page(pot, open_form=form, form=form)
    flash("The round is open: households on the street can now vote on its proposals.", "success")
    return redirect(url_for("staff.street_pot_page", street_id=street_id, slug=slug))


@staff.post("/street-pots/<street_id>/<slug>/rounds/<round_id>/proposals")
@requires_staff(*WRITERS)
def street_pot_propose(street_id: str, slug: str, round_id: str) -> str | Response:
    """Add a proposal to the open round."""
    pot = _pot(street_id, slug)
    form = ProposalForm(unit=pot.unit, outlets=pot.outlets)
    if not form.validate_on_submit() or form.cost.amount_minor is None:
        return _page(pot, proposal_form=form, form=form)
    ledger, actor, key = context(), staff_actor(), form.request_key.data
    title, cost, outlet = form.title.data or "", form.cost.amount_minor, form.outlet.data or ""
    try:
        ledger.write(
            lambda uow: add_proposal(
                uow,
                round_id=round_id,
                title=title,
                cost_minor=cost,
                outlet_id=outlet,
                now=now(),
                actor=actor,
                idempotency_key=key,
            )
        )
    except LedgerError as error:
        form.title.errors = [f"The proposal cannot be added: {error.detail}"]
        return _page(pot, proposal_form=form, form=form)
    flash(f"“{' '.join(title.split())}” ({format_amount(cost, pot.unit)}) is on the ballot.", "success")
    return redirect(url_for("staff.street_pot_page", street_id=street_id, slug=slug))


@staff.post("/street-pots/<street_id>/<slug>/rounds/<round_id>/close")
@requires_staff(*WRITERS)
def street_pot_close(street_id: str, slug: str, round_id: str) -> Response:
    """Close voting now: count the households' votes and pay the winner's outlet from the pot, once."""
    if not CloseRoundForm().validate_on_submit():
        abort(400)
    ledger, actor = context(), staff_actor()
    closed = ledger.write(
        lambda uow: close_round(uow, round_id=round_id, now=now(), zone=ledger.clock.zone, actor=actor)
    )
    messages = {
        "commissioned": "Voting is closed and the winner is commissioned: the pot has paid its outlet.",
        "no-votes": "Voting is closed. Nobody voted, so nothing was bought.",
        "none-affordable": "Voting is closed. The pot cannot pay for any voted proposal: nothing was bought.",
    }
    flash(messages[closed.outcome], "success")
    return redirect(url_for("staff.street_pot_page", street_id=street_id, slug=slug))


@staff.route("/street-pots/<street_id>/<slug>/rounds/<round_id>/reverse", methods=["GET", "POST"])
@requires_staff(*WRITERS)
def street_pot_reverse(street_id: str, slug: str, round_id: str) -> str | Response:
    """Reverse a round's payment with a reason: a reversing transaction, the pot refilled."""
    pot = _pot(street_id, slug)
    past = next((view for view in pot.past_rounds if view.id == round_id), None)
    if past is None or past.payment is None:
        abort(404)
    form = ReversePaymentForm()
    if past.payment.reversal_transaction_id is None and form.validate_on_submit():
        ledger, actor, reason, key = context(), staff_actor(), form.reason.data or "", form.request_key.data
        try:
            ledger.write(
                lambda uow: reverse_payment(
                    uow, round_id=round_id, reason=reason, now=now(), actor=actor, idempotency_key=key
                )
            )
        except LedgerError as error:
            form.reason.errors = [f"The payment cannot be reversed: {error.detail}"]
        else:
            flash("The payment is reversed: the pot has the amount back.", "success")
            return redirect(url_for("staff.street_pot_page", street_id=street_id, slug=slug))
    title = f"Reverse the payment for “{past.winner.title if past.winner else ''}”"
    return render_template("staff/street_pot/reverse.html", title=title, pot=pot, past=past, form=form)
