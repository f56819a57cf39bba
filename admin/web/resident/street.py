"""The resident's street pot page (/my/street): a household on a street sees the pot, the open round's
proposals with household counts (never names), votes (one vote per household per round, changeable until it
closes), and after it closes sees the result and the payment."""

from __future__ import annotations

from typing import Any

from flask import abort, redirect, url_for
from flask_wtf import FlaskForm
from govuk_frontend_wtf.wtforms_widgets import GovRadioInput, GovSubmitInput
from wtforms import RadioField, SelectChoice, SubmitField
from wtforms.validators import InputRequired

from admin.web.auth import context
from admin.web.resident import pages
from admin.web.resident.blueprint import resident
from admin.web.resident.limits import every_page
from admin.web.resident.session import requires_resident, signed_in_resident
from ledger.errors import Conflict, Forbidden, NotFound
from ledger.ports import UnitOfWork
from ledger.street_pot import WINNER_RULE
from ledger.usecases.household_rounds import close_rounds_due_for_household
from ledger.usecases.street_pot import cast_vote
from ledger.usecases.street_pot_pages import RoundView, StreetPot, pots_of_household


class VoteForm(FlaskForm):
    """The household's choice among the open round's proposals."""

    proposal = RadioField(
        "What should the pot buy?", widget=GovRadioInput(), validators=[InputRequired("Choose a proposal")]
    )
    submit = SubmitField("Send your household's vote", widget=GovSubmitInput())

    def __init__(self, *args: Any, round_view: RoundView, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.proposal.choices = [SelectChoice(p.id, p.title) for p in round_view.proposals]
        if self.proposal.data is None:
            self.proposal.data = round_view.my_vote


def _pots(household_id: str) -> list[StreetPot]:
    """The household's street pots now, after closing any round whose closing time has passed."""
    ledger = context()
    at = ledger.clock.now()

    def operation(uow: UnitOfWork) -> list[StreetPot]:
        close_rounds_due_for_household(uow, household_id=household_id, now=at, zone=ledger.clock.zone)
        return pots_of_household(uow, household_id=household_id, now=at)

    return ledger.write(operation)


def _page(
    household_id: str, voted: str | None = None, form: VoteForm | None = None, status: int = 200
) -> Any:
    pots = _pots(household_id)
    forms = {
        pot.open_round.id: VoteForm(round_view=pot.open_round)
        for pot in pots
        if pot.open_round is not None and pot.open_round.takes_votes and pot.open_round.proposals
    }
    if form is not None:
        forms.update({key: form for key in forms if key == voted})
    return pages._render(
        "street.html", "Your street's pot", status, pots=pots, forms=forms, rule=WINNER_RULE, form=form
    )


@resident.get("/street")
@every_page
@requires_resident
def street() -> Any:
    """The household's street pots: what is in each, what is proposed, how it voted, past results."""
    session = signed_in_resident()
    assert session is not None
    return _page(session.resident_id)


@resident.post("/street/rounds/<round_id>/vote")
@every_page
@requires_resident
def street_vote(round_id: str) -> Any:
    """Record the household's vote (or its change of mind) in an open round of its street."""
    session = signed_in_resident()
    assert session is not None
    pots = _pots(session.resident_id)
    open_round = next(
        (p.open_round for p in pots if p.open_round is not None and p.open_round.id == round_id), None
    )
    if open_round is None:
        abort(404)
    form = VoteForm(round_view=open_round)
    if not form.validate_on_submit():
        return _page(session.resident_id, voted=round_id, form=form)
    ledger, proposal = context(), form.proposal.data or ""
    try:
        changed = ledger.write(
            lambda uow: cast_vote(
                uow,
                household_id=session.resident_id,
                round_id=round_id,
                proposal_id=proposal,
                now=ledger.clock.now(),
            )
        )
    except (Conflict, Forbidden, NotFound) as error:
        form.proposal.errors = [f"Your vote could not be counted: {error.detail}"]
        return _page(session.resident_id, voted=round_id, form=form, status=409)
    return redirect(url_for("resident.street", voted="changed" if changed else "yes"))
