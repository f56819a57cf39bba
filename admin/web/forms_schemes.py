"""The schemes section's forms: a new scheme (name, short name, unit, then its rules), a new version of its
rules, and funding its budget."""

from __future__ import annotations

from typing import Any

from flask_wtf import FlaskForm
from govuk_frontend_wtf.wtforms_widgets import GovRadioInput, GovSubmitInput, GovTextInput
from wtforms import HiddenField, RadioField, SelectChoice, StringField, SubmitField
from wtforms.validators import InputRequired, Length, Regexp, ValidationError

from admin.web.form_fields import AmountField
from admin.web.forms_rules import RulesForm, new_request_key
from ledger.units import Unit

UNIT_CHOICES = [
    SelectChoice("GBP", "Pounds and pence (£)"),
    SelectChoice("HOUR", "Hours (a time bank)"),
    SelectChoice("POINT", "Points"),
]
SLUG_HINT = "Lowercase letters, numbers and hyphens, for example leisure-2026. It cannot be changed later."
SLUG_MESSAGE = (
    "Short name must be 2 to 63 lowercase letters, numbers and hyphens, starting with a letter or number"
)


class NewSchemeForm(RulesForm):
    """A new scheme: its name, short name and unit, then its rules."""

    name = StringField(
        "Name",
        widget=GovTextInput(),
        description="As staff and residents will see it, for example Leisure vouchers",
        validators=[
            InputRequired("Enter a name"),
            Length(max=200, message="Name must be 200 characters or fewer"),
        ],
    )
    slug = StringField(
        "Short name",
        widget=GovTextInput(),
        description=SLUG_HINT,
        validators=[
            InputRequired("Enter a short name"),
            Regexp(
                r"\A[a-z0-9][a-z0-9-]{1,62}\Z",
                message=SLUG_MESSAGE,
            ),
        ],
    )
    unit = RadioField(
        "What the scheme gives",
        widget=GovRadioInput(),
        choices=UNIT_CHOICES,
        validators=[InputRequired("Select what the scheme gives")],
    )
    submit = SubmitField("Create scheme", widget=GovSubmitInput())

    def validate_name(self, field: StringField) -> None:
        """One line."""
        if field.data and any(character in field.data for character in "\t\r\n"):
            raise ValidationError("Name must be on one line")


class EditRulesForm(RulesForm):
    """A new version of a scheme's rules (and optionally a new name)."""

    name = StringField(
        "Name",
        widget=GovTextInput(),
        validators=[
            InputRequired("Enter a name"),
            Length(max=200, message="Name must be 200 characters or fewer"),
        ],
    )
    submit = SubmitField("Save as a new version", widget=GovSubmitInput())


class FundForm(FlaskForm):
    """Money (or hours, points) added to a scheme's budget."""

    amount = AmountField("Amount", noun="Amount", required_message="Enter the amount to add to the budget")
    reference = StringField(
        "Reference",
        widget=GovTextInput(),
        description="For example, the grant or payment reference",
        validators=[Length(max=200, message="Reference must be 200 characters or fewer")],
    )
    request_key = HiddenField(default=new_request_key, validators=[Length(min=1, max=36)])
    submit = SubmitField("Add to the budget", widget=GovSubmitInput())

    def __init__(self, *args: Any, unit: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.unit = Unit(unit)

    def amount_unit(self) -> Unit:
        """The scheme's unit."""
        return self.unit
