"""The street pot's staff forms: open a round (closing day and time, council time), add a proposal, close a
round, reverse its payment."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from typing import Any

from flask_wtf import FlaskForm
from govuk_frontend_wtf.wtforms_widgets import GovSelect, GovSubmitInput, GovTextArea, GovTextInput
from wtforms import HiddenField, SelectChoice, SelectField, StringField, SubmitField, TextAreaField
from wtforms.validators import InputRequired, Length, ValidationError

from admin.web.form_fields import AmountField
from admin.web.forms_dates import GovDateField
from admin.web.forms_rules import new_request_key
from ledger.street_pot import MAX_TITLE_LENGTH
from ledger.units import Unit
from ledger.usecases.street_pot import MAX_REASON_LENGTH

_TIME = re.compile(r"(\d{1,2})[:.](\d{2})")


def _request_key() -> HiddenField:
    return HiddenField(default=new_request_key, validators=[Length(min=1, max=36)])


class OpenRoundForm(FlaskForm):
    """When the new round's voting closes, in the council's time."""

    closes_on = GovDateField(
        "Voting closes on", noun="Closing date", required_message="Enter the closing date"
    )
    closes_time = StringField(
        "At",
        widget=GovTextInput(),
        default="18:00",
        description="24-hour clock, council time, for example 18:00",
        validators=[InputRequired("Enter the closing time, for example 18:00")],
    )
    request_key = _request_key()
    submit = SubmitField("Open a round of voting", widget=GovSubmitInput())

    def validate_closes_time(self, field: StringField) -> None:
        """HH:MM on the 24-hour clock."""
        found = _TIME.fullmatch((field.data or "").strip())
        if found is None or int(found.group(1)) > 23 or int(found.group(2)) > 59:
            raise ValidationError("Enter the closing time on the 24-hour clock, for example 18:00")

    def closes_at(self, zone: dt.tzinfo) -> dt.datetime:
        """The closing instant (once valid): the day and time in the council's zone."""
        assert self.closes_on.data is not None
        found = _TIME.fullmatch((self.closes_time.data or "").strip())
        assert found is not None
        local = dt.datetime.combine(self.closes_on.data, dt.time(int(found.group(1)), int(found.group(2))))
        return local.replace(tzinfo=zone).astimezone(dt.UTC)


class ProposalForm(FlaskForm):
    """Something the pot could buy: what, its cost in the scheme's unit, and who delivers it."""

    title = StringField(
        "What is proposed",
        widget=GovTextInput(),
        description="For example, two street trees planted and cared for",
        validators=[
            InputRequired("Enter what is proposed"),
            Length(
                max=MAX_TITLE_LENGTH,
                message=f"What is proposed must be {MAX_TITLE_LENGTH} characters or fewer",
            ),
        ],
    )
    cost = AmountField("Cost", noun="Cost", required_message="Enter the cost")
    outlet = SelectField("Delivered by", widget=GovSelect(), validate_choice=False)
    request_key = _request_key()
    submit = SubmitField("Add the proposal", widget=GovSubmitInput())

    def __init__(self, *args: Any, unit: str, outlets: Sequence[tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.unit = Unit(unit)
        self.outlet_ids = {outlet_id for outlet_id, _ in outlets}
        self.outlet.choices = [
            SelectChoice("", "Choose who delivers it"),
            *(SelectChoice(i, n) for i, n in outlets),
        ]

    def amount_unit(self) -> Unit:
        """Costs are in the pot's unit."""
        return self.unit

    def validate_outlet(self, field: SelectField) -> None:
        """One of the outlets that take the scheme."""
        if field.data not in self.outlet_ids:
            raise ValidationError("Select who delivers it")


class CloseRoundForm(FlaskForm):
    """Close the round now and commission the winner."""

    request_key = _request_key()
    submit = SubmitField("Close voting and commission the winner", widget=GovSubmitInput())


class ReversePaymentForm(FlaskForm):
    """Why a round's payment is reversed."""

    reason = TextAreaField(
        "Why is the payment reversed?",
        widget=GovTextArea(),
        description="For example, the work was not done. The pot gets the amount back.",
        validators=[
            InputRequired("Enter why the payment is reversed"),
            Length(
                max=MAX_REASON_LENGTH, message=f"The reason must be {MAX_REASON_LENGTH} characters or fewer"
            ),
        ],
    )
    request_key = _request_key()
    submit = SubmitField(
        "Reverse the payment", widget=GovSubmitInput(), render_kw={"class": "govuk-button--warning"}
    )
