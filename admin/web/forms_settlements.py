"""The settlements section's forms: a batch's period end, approving, confirming paid, and an outlet's
payout details. Forms that change something carry a hidden request key, so sending one twice acts once."""

from __future__ import annotations

from flask_wtf import FlaskForm
from govuk_frontend_wtf.wtforms_widgets import GovSubmitInput, GovTextInput
from wtforms import HiddenField, StringField, SubmitField
from wtforms.validators import Length

from admin.web.forms_dates import GovDateField
from admin.web.forms_rules import new_request_key

REQUEST_KEY = [Length(min=1, max=36)]


class PeriodForm(FlaskForm):
    """The last day of the period to settle (the batch starts where the previous one ended)."""

    last_day = GovDateField(
        "Last day of the period",
        noun="The last day",
        required_message="Enter the last day of the period",
        description="Everything redeemed or refunded up to the end of this day (council time) is settled, "
        "for example 30 11 2026",
    )
    preview = SubmitField("Preview the batch", widget=GovSubmitInput())


class CreateBatchForm(FlaskForm):
    """Make the previewed batch."""

    period_end = HiddenField(validators=[Length(min=1, max=40)])
    request_key = HiddenField(default=new_request_key, validators=REQUEST_KEY)
    submit = SubmitField("Create the batch", widget=GovSubmitInput())


class ApproveForm(FlaskForm):
    """The second person's approval."""

    request_key = HiddenField(default=new_request_key, validators=REQUEST_KEY)
    submit = SubmitField("Approve and pay", widget=GovSubmitInput())


class ConfirmPaidForm(FlaskForm):
    """The bank paid the payment file."""

    request_key = HiddenField(default=new_request_key, validators=REQUEST_KEY)
    submit = SubmitField("Confirm the bank paid this file", widget=GovSubmitInput())


class PayeeForm(FlaskForm):
    """Where an outlet is paid: a Stripe connected account, bank details for payment files, or both."""

    connected_account_id = StringField(
        "Stripe connected account",
        widget=GovTextInput(),
        description="The outlet's Stripe Connect account id, for example acct_1A2b3C4d",
        validators=[Length(max=64, message="A connected account id is 64 characters or fewer")],
    )
    sort_code = StringField(
        "Sort code",
        widget=GovTextInput(),
        description="6 digits, for example 309430",
        validators=[Length(max=8, message="A sort code is 6 digits")],
    )
    account_number = StringField(
        "Account number",
        widget=GovTextInput(),
        description="8 digits",
        validators=[Length(max=10, message="An account number is 8 digits")],
    )
    account_name = StringField(
        "Name on the account",
        widget=GovTextInput(),
        description="Up to 18 letters, digits or spaces, as the bank has it",
        validators=[Length(max=40, message="The name on the account is 18 characters or fewer")],
    )
    submit = SubmitField("Save payout details", widget=GovSubmitInput())
