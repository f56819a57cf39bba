"""The sign-in forms (GOV.UK widgets from govuk-frontend-wtf, CSRF from Flask-WTF)."""

from __future__ import annotations

from flask_wtf import FlaskForm
from govuk_frontend_wtf.wtforms_widgets import GovPasswordInput, GovSubmitInput, GovTextInput
from wtforms import PasswordField, StringField, SubmitField
from wtforms.validators import InputRequired, Length


class SignInForm(FlaskForm):
    """Username and password: the first factor."""

    username = StringField(
        "Username",
        widget=GovTextInput(),
        validators=[
            InputRequired("Enter your username"),
            Length(max=64, message="That username is too long"),
        ],
    )
    password = PasswordField(
        "Password",
        widget=GovPasswordInput(),
        validators=[
            InputRequired("Enter your password"),
            Length(max=256, message="That password is too long"),
        ],
    )
    submit = SubmitField("Continue", widget=GovSubmitInput())


class SecondFactorForm(FlaskForm):
    """The TOTP code (or a recovery code): the second factor."""

    code = StringField(
        "Code",
        widget=GovTextInput(),
        validators=[
            InputRequired("Enter the code from your app"),
            Length(max=32, message="That code is too long"),
        ],
    )
    submit = SubmitField("Sign in", widget=GovSubmitInput())
