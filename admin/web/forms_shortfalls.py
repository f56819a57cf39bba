"""The offline shortfalls section's form: resolving a shortfall with a note."""

from __future__ import annotations

from flask_wtf import FlaskForm
from govuk_frontend_wtf.wtforms_widgets import GovSubmitInput, GovTextArea
from wtforms import HiddenField, SubmitField, TextAreaField
from wtforms.validators import InputRequired, Length

from admin.web.forms_rules import new_request_key
from ledger.usecases.shortfall_resolutions import MAX_NOTE_LENGTH


class ResolveShortfallForm(FlaskForm):
    """How an offline shortfall was resolved."""

    note = TextAreaField(
        "How was it resolved?",
        widget=GovTextArea(),
        description="For example, recovered from the resident, written off, or the kiosk's clock fixed",
        validators=[
            InputRequired("Enter how the shortfall was resolved"),
            Length(max=MAX_NOTE_LENGTH, message=f"The note must be {MAX_NOTE_LENGTH} characters or fewer"),
        ],
    )
    request_key = HiddenField(default=new_request_key, validators=[Length(min=1, max=36)])
    submit = SubmitField("Resolve shortfall", widget=GovSubmitInput())
