"""Residents (caseworker, admin): find by card number or by name and date of birth, enrol, the resident
page. Cards, scheme membership, voucher series, export and erasure are in the residents_* modules."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from flask import abort, flash, redirect, render_template, url_for
from werkzeug.wrappers import Response

from admin.web.auth import context, remote_address, requires_staff, signed_in_user
from admin.web.blueprint import staff
from admin.web.forms_residents import ActionForm, EnrolResidentForm, FindByCardForm, FindByNameForm
from api.limits import card_lookup_limit, limiter
from ledger.actors import Actor, RequestOrigin
from ledger.errors import NotFound, ValidationFailed
from ledger.rules import local_date
from ledger.units import format_amount
from ledger.usecases.resident_pages import resident_page
from ledger.usecases.residents import (
    Matches,
    enrol_resident,
    find_by_card_number,
    find_by_name_and_birth_date,
    plausible_id,
)

CASEWORK = ("caseworker", "admin")  # the API's roles for residents and cards
STAFF_LOOKUP_SCOPE = "staff-card-lookup"


def acting(form: ActionForm | None = None) -> Actor:
    """The signed-in member of staff as the staff log records them: from this address, and (with an
    action form) on whose behalf and why."""
    user = signed_in_user()
    assert user is not None, "every residents page requires a signed-in user"
    origin = RequestOrigin(remote_address=remote_address())
    return Actor(user.actor, origin, on_behalf=None if form is None else form.on_behalf())


def now() -> dt.datetime:
    """The ledger clock's time."""
    return context().clock.now()


def today() -> dt.date:
    """The council's date today."""
    return local_date(now(), context().clock.zone)


MOVEMENTS = {
    "issue": "Issued",
    "earn": "Earned",
    "redeem": "Spent",
    "capture": "Spent (after a hold)",
    "hold": "Held at an outlet",
    "void": "Hold released",
    "refund": "Refunded",
    "transfer": "Transfer",
    "expire": "Expired",
    "topup": "Topped up",
    "offline_shortfall": "Offline spend",
}


@staff.app_template_filter("long_date")
def long_date(value: dt.date | str) -> str:
    """A date as people write it: 15 June 2010."""
    day = dt.date.fromisoformat(value) if isinstance(value, str) else value
    return f"{day.day} {day:%B %Y}"


@staff.app_template_filter("movement")
def movement(kind: str) -> str:
    """A ledger transaction kind in words."""
    return MOVEMENTS.get(kind, kind.replace("_", " ").capitalize())


@staff.app_template_filter("standard_amounts")
def standard_amounts(purposes: tuple[tuple[str, int | None], ...], unit: str) -> str:
    """A series scheme's purposes with their standard amounts: "accommodation £60.00, work clothes £40.00"."""
    return ", ".join(
        f"{purpose.replace('-', ' ')} {format_amount(amount, unit) if amount is not None else 'none'}"
        for purpose, amount in purposes
    )


def _lookup_key() -> str:
    user = signed_in_user()
    return f"staff-lookup:{user.id if user is not None else 'nobody'}"


def staff_lookup_limit() -> str:
    """A member of staff's look-up limit: the same figure as an API key's card look-up limit."""
    # A function of its own, not card_lookup_limit itself: staff draw from their own budget, never the API
    # keys' shared one, and the API's check that every card look-up shares one budget must not count them.
    return card_lookup_limit()


def lookup_limited(view: Callable[..., Any]) -> Callable[..., Any]:
    """A card or resident look-up draws from the member of staff's own budget (never per address)."""
    return limiter.shared_limit(staff_lookup_limit, scope=STAFF_LOOKUP_SCOPE, key_func=_lookup_key)(view)


def resident_or_404(resident_id: str) -> str:
    """A resident id that could exist; anything else is a 404 page."""
    if not plausible_id(resident_id):
        abort(404)
    return resident_id


def to_resident(resident_id: str) -> Response:
    """Back to the resident page."""
    return redirect(url_for("staff.resident", resident_id=resident_id))


def _search_page(
    card_form: FindByCardForm | None = None,
    name_form: FindByNameForm | None = None,
    matches: Matches | None = None,
    searched: str | None = None,
) -> str:
    card_form = card_form or FindByCardForm(formdata=None)
    name_form = name_form or FindByNameForm(formdata=None)
    failed = card_form if card_form.errors else name_form if name_form.errors else None
    return render_template(
        "staff/residents/index.html",
        title="Residents" if matches is None else "Search results",
        form=failed,
        card_form=card_form,
        name_form=name_form,
        matches=matches,
        searched=searched,
    )


@staff.get("/residents")
@requires_staff(*CASEWORK)
def residents() -> str:
    """Find a resident by card number, or by full name and date of birth; enrol a new one."""
    return _search_page()


@staff.post("/residents/find-by-card")
@requires_staff(*CASEWORK)
@lookup_limited
def find_by_card() -> str:
    """The resident holding a card (active, blocked or replaced), recorded in the staff log."""
    form = FindByCardForm()
    if not form.validate():
        return _search_page(card_form=form)
    number, actor = form.card_number.data or "", acting()
    try:
        matches = context().write(
            lambda uow: find_by_card_number(uow, card_number=number, now=now(), actor=actor)
        )
    except ValidationFailed:
        form.card_number.errors.append("That is not a valid card number: check it for a typo")
        return _search_page(card_form=form)
    return _search_page(card_form=form, matches=matches, searched="that card number")


@staff.post("/residents/find-by-name")
@requires_staff(*CASEWORK)
@lookup_limited
def find_by_name() -> str:
    """Residents with exactly this name and date of birth; the staff log records the look-up, not the
    name."""
    form = FindByNameForm()
    if not form.validate():
        return _search_page(name_form=form)
    name, born, actor = form.name.data or "", form.date_of_birth.data, acting()
    assert born is not None, "the form requires a date of birth"
    matches = context().write(
        lambda uow: find_by_name_and_birth_date(uow, name=name, date_of_birth=born, now=now(), actor=actor)
    )
    return _search_page(name_form=form, matches=matches, searched="exactly that name and date of birth")


@staff.route("/residents/new", methods=["GET", "POST"])
@requires_staff(*CASEWORK)
def enrol() -> str | Response:
    """Enrol a resident: a pseudonymous id for the ledger, personal details kept apart."""
    form = EnrolResidentForm(today=today())
    if form.validate_on_submit():
        kind, details, key, actor = form.kind.data, form.details(), form.request_key.data, acting(form)
        try:
            made = context().write(
                lambda uow: enrol_resident(
                    uow, kind=kind, details=details, now=now(), actor=actor, idempotency_key=key
                )
            )
        except ValidationFailed as error:
            form.name.errors.append(f"That could not be saved: {error.detail}")
        else:
            flash(f"{made['details']['name']} is enrolled.", "success")
            return to_resident(made["id"])
    return render_template("staff/residents/enrol.html", title="Enrol a resident", form=form)


@staff.get("/residents/<resident_id>")
@requires_staff(*CASEWORK)
def resident(resident_id: str) -> str:
    """A resident: pseudonymous id, personal details, cards, schemes with balances, recent history."""
    resident_or_404(resident_id)
    try:
        page = context().read(lambda uow: resident_page(uow, resident_id))
    except NotFound:
        abort(404)
    details = page.resident["details"]
    title = details["name"] if details else "Resident (personal data erased)"
    return render_template("staff/residents/resident.html", title=title, page=page)
