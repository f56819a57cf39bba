"""The residents section's forms: look-ups, enrolment, cards, voucher series, export and erasure.

Every form that changes something carries "Who asked for this" and "Why" (recorded in the staff log entry
of the action) and a hidden request key, so sending the same form twice does the work once.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from typing import Any

from flask_wtf import FlaskForm
from govuk_frontend_wtf.wtforms_widgets import (
    GovRadioInput,
    GovSelect,
    GovSubmitInput,
    GovTextArea,
    GovTextInput,
)
from wtforms import (
    FieldList,
    Form,
    FormField,
    HiddenField,
    RadioField,
    SelectChoice,
    SelectField,
    StringField,
    SubmitField,
    TextAreaField,
)
from wtforms.validators import InputRequired, Length, Optional, ValidationError

from admin.web.forms_dates import GovDateField
from ledger.actors import OnBehalf
from ledger.amounts import AmountNotUnderstood, parse_amount
from ledger.units import Unit

THE_RESIDENT = "resident"
SOMEONE_ELSE = "someone-else"
MAX_TEXT_LENGTH = 200
MAX_REASON_LENGTH = 500
REQUEST_KEY_LENGTH = 36  # a UUID


def _request_key() -> str:
    return str(uuid.uuid4())


class ActionForm(FlaskForm):
    """Who asked for this and why, on every form that changes something; and the request key."""

    request_key = HiddenField(default=_request_key, validators=[Length(min=1, max=REQUEST_KEY_LENGTH)])
    asked_by = RadioField(
        "Who asked for this?",
        widget=GovRadioInput(),
        choices=[
            SelectChoice(THE_RESIDENT, "The resident"),
            SelectChoice(SOMEONE_ELSE, "Someone else, on the resident's behalf"),
        ],
        validators=[InputRequired("Select who asked for this")],
    )
    third_party = StringField(
        "Their name and how they know the resident",
        widget=GovTextInput(),
        description="For example, Sam Patel, probation officer",
        validators=[Length(max=MAX_TEXT_LENGTH, message="Their name must be 200 characters or fewer")],
    )
    reason = TextAreaField(
        "Why",
        widget=GovTextArea(),
        description="This is kept in the staff log with what you do",
        validators=[
            InputRequired("Enter why this was done"),
            Length(max=MAX_REASON_LENGTH, message="Why must be 500 characters or fewer"),
        ],
    )

    def validate_third_party(self, field: StringField) -> None:
        """A third party is named."""
        if self.asked_by.data == SOMEONE_ELSE and not (field.data or "").strip():
            raise ValidationError("Enter the name of the person who asked")

    def on_behalf(self) -> OnBehalf:
        """Who asked and why, as the staff log records it."""
        asked_by = "the resident"
        if self.asked_by.data == SOMEONE_ELSE:
            asked_by = " ".join((self.third_party.data or "").split())
        return OnBehalf(asked_by=asked_by, reason=" ".join((self.reason.data or "").split()))


class FindByCardForm(FlaskForm):
    """Look a resident up by the number printed on any of their cards."""

    card_number = StringField(
        "Card number",
        widget=GovTextInput(),
        description="For example, CC-7Q4M-2K9X-HT3P-R8VD",
        validators=[
            InputRequired("Enter a card number"),
            Length(max=40, message="A card number is 24 characters or fewer"),
        ],
    )
    submit = SubmitField("Find by card number", widget=GovSubmitInput())


class FindByNameForm(FlaskForm):
    """Look a resident up by their full name and date of birth together (exact matches only)."""

    name = StringField(
        "Full name",
        widget=GovTextInput(),
        validators=[
            InputRequired("Enter the resident's full name"),
            Length(max=MAX_TEXT_LENGTH, message="A name must be 200 characters or fewer"),
        ],
    )
    date_of_birth = GovDateField(
        "Date of birth",
        noun="Date of birth",
        required_message="Enter their date of birth",
        description="For example, 27 3 2008",
    )
    submit = SubmitField("Find by name and date of birth", widget=GovSubmitInput())


class EnrolResidentForm(ActionForm):
    """A new resident: their personal details, kept apart from the ledger."""

    kind = RadioField(
        "Enrolling",
        widget=GovRadioInput(),
        choices=[
            SelectChoice("person", "A person"),
            SelectChoice("household", "A household"),
            SelectChoice("collective", "A street (for a shared pot)"),
        ],
        default="person",
        validators=[InputRequired("Select who you are enrolling")],
    )
    name = StringField(
        "Full name",
        widget=GovTextInput(),
        validators=[
            InputRequired("Enter a name"),
            Length(max=MAX_TEXT_LENGTH, message="A name must be 200 characters or fewer"),
        ],
    )
    date_of_birth = GovDateField(
        "Date of birth",
        noun="Date of birth",
        description="For a person. For example, 27 3 2008",
    )
    postcode = StringField(
        "Postcode",
        widget=GovTextInput(),
        validators=[Optional(), Length(max=10, message="A postcode must be 10 characters or fewer")],
    )
    ward = StringField(
        "Ward",
        widget=GovTextInput(),
        validators=[Optional(), Length(max=100, message="A ward must be 100 characters or fewer")],
    )
    contact = StringField(
        "Contact (phone or email)",
        widget=GovTextInput(),
        validators=[
            Optional(),
            Length(max=MAX_TEXT_LENGTH, message="Contact must be 200 characters or fewer"),
        ],
    )
    submit = SubmitField("Enrol resident", widget=GovSubmitInput())

    def __init__(self, *args: Any, today: dt.date, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.today = today

    def validate_date_of_birth(self, field: GovDateField) -> None:
        """A person has a date of birth, in the past."""
        if field.data is None:
            if self.kind.data == "person" and not field.process_errors:
                raise ValidationError("Enter a date of birth")
            return
        if field.data > self.today:
            raise ValidationError("Date of birth must be in the past")
        if field.data.year < 1900:
            raise ValidationError("Date of birth must be after 1900")

    def details(self) -> dict[str, Any]:
        """The personal details, as the enrolment use case takes them."""
        return {
            "name": self.name.data,
            "date_of_birth": self.date_of_birth.data,
            "postcode": self.postcode.data or None,
            "ward": self.ward.data or None,
            "contact": self.contact.data or None,
        }


class JoinSchemeForm(ActionForm):
    """Enrol the resident in a scheme, checked against its eligibility rules."""

    scheme = SelectField(
        "Scheme", widget=GovSelect(), validators=[InputRequired("Select a scheme")], validate_choice=True
    )
    referral = TextAreaField(
        "Referral (if the scheme needs one)",
        widget=GovTextArea(),
        description="Who referred the resident, for example the probation service, and their reference",
        validators=[Length(max=MAX_REASON_LENGTH, message="A referral must be 500 characters or fewer")],
    )
    submit = SubmitField("Check eligibility and enrol", widget=GovSubmitInput())

    def __init__(self, *args: Any, schemes: Sequence[tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.scheme.choices = [SelectChoice("", "Choose a scheme"), *[SelectChoice(*s) for s in schemes]]

    def validate_scheme(self, field: SelectField) -> None:
        """A scheme was chosen (not the prompt)."""
        if not field.data:
            raise ValidationError("Select a scheme")


class CardActionForm(ActionForm):
    """Issue, block or replace a card: who asked and why."""

    submit = SubmitField("Continue", widget=GovSubmitInput())


class VoucherRowForm(Form):
    """One voucher of a series: purpose, amount (blank: the purpose's standard amount), expiry day."""

    purpose = SelectField("Purpose", widget=GovSelect(), validate_choice=False)
    amount = StringField("Amount", widget=GovTextInput())
    expires_on = GovDateField("Expires on", noun="Expiry date")

    def configure(self, *, purposes: Sequence[str], unit: Unit, today: dt.date) -> None:
        """What this row is checked against: the scheme's purposes and unit, and today's date."""
        self.purposes = list(purposes)
        self.unit = unit
        self.today = today
        self.amount_minor: int | None = None
        self.purpose.choices = [
            SelectChoice("", "Choose a purpose"),
            *[SelectChoice(purpose, purpose.replace("-", " ")) for purpose in purposes],
        ]

    def validate_purpose(self, field: SelectField) -> None:
        """One of the scheme's purposes."""
        if field.data not in self.purposes:
            raise ValidationError("Select a purpose")

    def validate_amount(self, field: StringField) -> None:
        """Blank, or an amount in the scheme's unit as people type it (5.50, £60)."""
        typed = (field.data or "").strip()
        if typed:
            try:
                self.amount_minor = parse_amount(typed, self.unit)
            except AmountNotUnderstood as error:
                raise ValidationError(str(error)) from error

    def validate_expires_on(self, field: GovDateField) -> None:
        """Blank, or a day still to come."""
        if field.data is not None and field.data <= self.today:
            raise ValidationError("Expiry date must be in the future")


class VoucherSeriesForm(ActionForm):
    """A series of vouchers for one scheme, a fixed number of rows (chosen in a first step)."""

    vouchers = FieldList(FormField(VoucherRowForm), min_entries=1)
    submit = SubmitField("Issue vouchers", widget=GovSubmitInput())

    def __init__(
        self, *args: Any, count: int, purposes: Sequence[str], unit: str, today: dt.date, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        while len(self.vouchers.entries) < count:
            self.vouchers.append_entry()
        while len(self.vouchers.entries) > count:
            self.vouchers.pop_entry()
        for row in self.vouchers:
            row.form.configure(purposes=purposes, unit=Unit(unit), today=today)

    def requested(self) -> list[tuple[str, int | None, dt.date | None]]:
        """(purpose, amount in minor units or None, expiry day or None) for each row, once valid."""
        return [
            (row.form.purpose.data, row.form.amount_minor, row.form.expires_on.data) for row in self.vouchers
        ]


class ExportForm(ActionForm):
    """A subject access request: who asked and why."""

    submit = SubmitField("Download the export", widget=GovSubmitInput())


class EraseForm(ActionForm):
    """Erasure of a resident's personal details: who asked and why."""

    submit = SubmitField("Erase personal data", widget=GovSubmitInput(), render_kw={})
