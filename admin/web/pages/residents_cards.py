"""A resident's cards (caseworker, admin): issue one, print its PDF, block a lost card, replace it."""

from __future__ import annotations

from typing import Any

from flask import Response, abort, flash, render_template
from werkzeug.wrappers import Response as BaseResponse

from admin.web.auth import context, requires_staff
from admin.web.blueprint import staff
from admin.web.forms_residents import CardActionForm
from admin.web.pages.residents import CASEWORK, acting, lookup_limited, now, resident_or_404, to_resident
from ledger.cards.render import card_pdf
from ledger.cards.token import normalize_card_number
from ledger.errors import Conflict, NotFound
from ledger.usecases.cards import block_card, issue_first_card, printable_card, replace_card
from ledger.usecases.residents import resident_view


def _card_number(text: str) -> str:
    try:
        return normalize_card_number(text)
    except ValueError:
        abort(404)


def _resident_and_card(resident_id: str, number: str | None = None) -> tuple[dict[str, Any], Any]:
    """The resident (and one of their cards), or a 404 page."""
    resident_or_404(resident_id)
    try:
        view = context().read(lambda uow: resident_view(uow, resident_id, personal=True))
    except NotFound:
        abort(404)
    if number is None:
        return view, None
    card = next((card for card in view["cards"] if card["number"] == number), None)
    if card is None:
        abort(404)
    return view, card


def _form_page(template: str, title: str, form: CardActionForm, resident: Any, card: Any) -> str:
    return render_template(
        f"staff/residents/{template}", title=title, form=form, resident=resident, card=card
    )


@staff.route("/residents/<resident_id>/cards/new", methods=["GET", "POST"])
@requires_staff(*CASEWORK)
def issue_card(resident_id: str) -> str | BaseResponse:
    """Issue a first card (a lost card is replaced instead), then print it."""
    resident, _ = _resident_and_card(resident_id)
    form = CardActionForm()
    if form.validate_on_submit():
        ledger, key, actor = context(), form.request_key.data, acting(form)
        try:
            issued = ledger.write(
                lambda uow: issue_first_card(
                    uow,
                    resident_id=resident_id,
                    key=ledger.card_key,
                    now=now(),
                    actor=actor,
                    idempotency_key=key,
                )
            )
        except Conflict as error:
            form.asked_by.errors.append(f"No card was issued: {error.detail}")
        else:
            flash(f"Card {issued.number} is issued. Print it from the list of cards.", "success")
            return to_resident(resident_id)
    return _form_page("card_issue.html", "Issue a card", form, resident, None)


@staff.get("/residents/cards/<number>/card.pdf")
@requires_staff(*CASEWORK)
@lookup_limited
def card_pdf_download(number: str) -> Response:
    """The printable card (bank-card size: council, schemes, QR code, number), as the API serves it."""
    ledger, card_number = context(), _card_number(number)
    try:
        card = ledger.read(lambda uow: printable_card(uow, number=card_number, keys=ledger.card_keys))
    except NotFound:
        abort(404)
    body = card_pdf(card.token, card.number, card.scheme_names, ledger.settings.council_name)
    response = Response(body, mimetype="application/pdf")
    response.headers["Cache-Control"] = "no-store"  # the QR code is the resident's credential
    response.headers["Content-Disposition"] = f'inline; filename="{card.number}.pdf"'
    return response


@staff.route("/residents/<resident_id>/cards/<number>/block", methods=["GET", "POST"])
@requires_staff(*CASEWORK)
def block(resident_id: str, number: str) -> str | BaseResponse:
    """Block a lost card after a confirmation; the balance stays with the resident."""
    resident, card = _resident_and_card(resident_id, _card_number(number))
    form = CardActionForm()
    if form.validate_on_submit():
        key, actor = form.request_key.data, acting(form)
        try:
            context().write(
                lambda uow: block_card(
                    uow, number=card["number"], now=now(), actor=actor, idempotency_key=key
                )
            )
        except Conflict as error:
            form.asked_by.errors.append(f"The card was not blocked: {error.detail}")
        else:
            flash(f"Card {card['number']} is blocked. The balance stays with the resident.", "success")
            return to_resident(resident_id)
    return _form_page("card_block.html", f"Block card {card['number']}", form, resident, card)


@staff.route("/residents/<resident_id>/cards/<number>/replace", methods=["GET", "POST"])
@requires_staff(*CASEWORK)
def replace(resident_id: str, number: str) -> str | BaseResponse:
    """Block a card (if not already) and issue a new one after a confirmation; balances stay put."""
    resident, card = _resident_and_card(resident_id, _card_number(number))
    form = CardActionForm()
    if form.validate_on_submit():
        ledger, key, actor = context(), form.request_key.data, acting(form)
        try:
            issued = ledger.write(
                lambda uow: replace_card(
                    uow,
                    number=card["number"],
                    key=ledger.card_key,
                    now=now(),
                    actor=actor,
                    idempotency_key=key,
                )
            )
        except Conflict as error:
            form.asked_by.errors.append(f"The card was not replaced: {error.detail}")
        else:
            flash(
                f"Card {card['number']} is blocked and replaced by card {issued.number}. "
                "The balance stays with the resident. Print the new card from the list of cards.",
                "success",
            )
            return to_resident(resident_id)
    return _form_page("card_replace.html", f"Replace card {card['number']}", form, resident, card)
