"""The resident pages' forms (GOV.UK widgets from govuk-frontend-wtf, CSRF from Flask-WTF)."""

from __future__ import annotations

from flask_wtf import FlaskForm
from govuk_frontend_wtf.wtforms_widgets import GovPasswordInput, GovSubmitInput, GovTextInput
from wtforms import PasswordField, StringField, SubmitField
from wtforms.validators import EqualTo, InputRequired, Length

from admin.web.forms_dates import GovDateField

CARD_NUMBER_LENGTH = 40  # CC-XXXX-XXXX-XXXX-XXXX typed with spaces; a limit on everything


def _card_number() -> StringField:
    return StringField(
        "Card number",
        widget=GovTextInput(),
        validators=[
            InputRequired("Enter your card number"),
            Length(max=CARD_NUMBER_LENGTH, message="That card number is too long"),
        ],
    )


class PinSignInForm(FlaskForm):
    """Card number and PIN."""

    card_number = _card_number()
    pin = PasswordField(
        "PIN",
        widget=GovPasswordInput(),
        validators=[InputRequired("Enter your PIN"), Length(max=6, message="Your PIN is 4 to 6 digits")],
    )
    submit = SubmitField("Sign in", widget=GovSubmitInput())


class DateOfBirthSignInForm(FlaskForm):
    """Card number and date of birth (first visit, or a forgotten PIN)."""

    card_number = _card_number()
    date_of_birth = GovDateField(
        "Date of birth", noun="Date of birth", required_message="Enter your date of birth"
    )
    submit = SubmitField("Continue", widget=GovSubmitInput())


class SetPinForm(FlaskForm):
    """A new PIN, typed twice."""

    pin = PasswordField(
        "New PIN",
        widget=GovPasswordInput(),
        validators=[
            InputRequired("Enter a PIN of 4 to 6 digits"),
            Length(max=6, message="Use 4 to 6 digits"),
        ],
    )
    confirm = PasswordField(
        "Type your new PIN again",
        widget=GovPasswordInput(),
        validators=[
            InputRequired("Type your new PIN again"),
            EqualTo("pin", message="The PINs do not match"),
        ],
    )
    submit = SubmitField("Save PIN", widget=GovSubmitInput())
