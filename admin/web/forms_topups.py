"""The "add money" form that residents and staff fill in: a scheme that accepts top-ups and an amount in
pounds; the same use case checks the scheme's limits again."""

from __future__ import annotations

import uuid
from typing import Any

from flask_wtf import FlaskForm
from govuk_frontend_wtf.wtforms_widgets import GovRadioInput, GovSubmitInput
from wtforms import HiddenField, RadioField, SelectChoice, SubmitField
from wtforms.validators import InputRequired, Length, ValidationError

from admin.web.form_fields import AmountField
from admin.web.forms_residents import ActionForm
from ledger.units import Unit, format_amount
from ledger.usecases.topup_pages import TopUpOption


def new_request_key() -> str:
    """A fresh key for each form shown, so that sending the same form twice starts one top-up."""
    return str(uuid.uuid4())


class AddMoneyForm(FlaskForm):
    """Which scheme, and how much in pounds."""

    scheme = RadioField(
        "Which card balance to add to",
        widget=GovRadioInput(),
        validators=[InputRequired("Select where to add the money")],
    )
    amount = AmountField("Amount", noun="Amount", required_message="Enter how much to add, for example 10.00")
    request_key = HiddenField(default=new_request_key, validators=[Length(min=1, max=36)])
    submit = SubmitField("Continue to payment", widget=GovSubmitInput())

    def __init__(self, *args: Any, options: list[TopUpOption], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.options = {option.scheme: option for option in options}
        self.scheme.choices = [SelectChoice(option.scheme, option.name) for option in options]
        if len(options) == 1 and not self.scheme.data:
            self.scheme.data = options[0].scheme

    def amount_unit(self) -> Unit:
        """Top-ups are always pounds."""
        return Unit.GBP

    def validate_amount(self, field: AmountField) -> None:
        """Within the chosen scheme's limits for one top-up (the monthly cap is checked when sent)."""
        option = self.options.get(self.scheme.data or "")
        if option is None or field.amount_minor is None:
            return
        if not option.min_minor <= field.amount_minor <= option.max_minor:
            raise ValidationError(
                f"Amount must be between {format_amount(option.min_minor, Unit.GBP)} and "
                f"{format_amount(option.max_minor, Unit.GBP)}"
            )


class StaffAddMoneyForm(AddMoneyForm, ActionForm):
    """A member of staff adding money for a resident: also who asked and why (for the staff log)."""
