"""The bulk issuance form: a scheme, the amount (blank for its standard amount), an expiry, and who is
paid (every eligible member, or the members listed in a CSV file)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from govuk_frontend_wtf.wtforms_widgets import GovFileInput, GovRadioInput, GovSelect, GovSubmitInput
from wtforms import HiddenField, RadioField, SelectChoice, SelectField, SubmitField
from wtforms.validators import InputRequired, Length, ValidationError

from admin.web.form_fields import AmountField
from admin.web.forms_dates import GovDateField
from admin.web.forms_rules import new_request_key
from ledger.units import Unit
from ledger.usecases.bulk_pages import BulkScheme

EVERY_MEMBER = "members"
LISTED = "csv"
MAX_CSV_BYTES = 5 * 1024 * 1024  # 100,000 card numbers fit in under 3 MB


class BulkIssueForm(FlaskForm):
    """What to pay, and to whom; checked by a dry run before anything is paid."""

    scheme = SelectField("Scheme", widget=GovSelect(), validate_choice=False)
    amount = AmountField(
        "Amount for each member",
        noun="Amount for each member",
        description="Leave blank for the scheme's standard amount",
    )
    expires_on = GovDateField(
        "Expires on", noun="Expiry date", description="Leave blank for the scheme's own expiry rule"
    )
    who = RadioField(
        "Who is paid",
        widget=GovRadioInput(),
        choices=[
            SelectChoice(EVERY_MEMBER, "Every eligible member of the scheme"),
            SelectChoice(LISTED, "The members listed in a CSV file"),
        ],
        default=EVERY_MEMBER,
        validators=[InputRequired("Select who is paid")],
    )
    members_file = FileField(
        "CSV file of members",
        widget=GovFileInput(),
        description="One member a row: their card number or resident id, in the first column",
    )
    request_key = HiddenField(default=new_request_key, validators=[Length(min=1, max=36)])
    submit = SubmitField("Check what would be paid", widget=GovSubmitInput())

    def __init__(
        self,
        *args: Any,
        schemes: Sequence[BulkScheme],
        today: dt.date,
        file_needed: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.file_needed = file_needed  # False once the dry run has kept the file's list
        self.schemes = {scheme.slug: scheme for scheme in schemes}
        self.today = today
        self.scheme.choices = [
            SelectChoice("", "Choose a scheme"),
            *[SelectChoice(s.slug, s.name) for s in schemes],
        ]
        self.listed_text: str | None = None

    def amount_unit(self) -> Unit | None:
        """The chosen scheme's unit (amounts are typed in it)."""
        chosen = self.schemes.get(self.scheme.data or "")
        return None if chosen is None else Unit(chosen.unit)

    def validate_scheme(self, field: SelectField) -> None:
        """One of the schemes that can be paid in bulk."""
        if field.data not in self.schemes:
            raise ValidationError("Select a scheme")

    def validate_amount(self, field: AmountField) -> None:
        """Needed when the scheme sets no standard amount."""
        chosen = self.schemes.get(self.scheme.data or "")
        if chosen is not None and chosen.amount_minor is None and field.amount_minor is None:
            raise ValidationError("Enter the amount for each member: this scheme has no standard amount")

    def validate_expires_on(self, field: GovDateField) -> None:
        """Blank, or a day still to come."""
        if field.data is not None and field.data <= self.today:
            raise ValidationError("Expiry date must be in the future")

    def validate_members_file(self, field: FileField) -> None:
        """A CSV file when the members are listed in one (kept as text for the dry run and the job)."""
        if self.who.data != LISTED or not self.file_needed:
            return
        upload = field.data
        if upload is None or not getattr(upload, "filename", ""):
            raise ValidationError("Choose a CSV file of members")
        content = upload.read(MAX_CSV_BYTES + 1)
        if len(content) > MAX_CSV_BYTES:
            raise ValidationError("The CSV file must be smaller than 5 MB")
        try:
            self.listed_text = content.decode("utf-8-sig")
        except UnicodeDecodeError as error:
            raise ValidationError("The CSV file must be saved as UTF-8 text") from error
        if not self.listed_text.strip():
            raise ValidationError("The CSV file is empty")

    def chosen(self) -> BulkScheme:
        """The scheme chosen (once valid)."""
        return self.schemes[self.scheme.data or ""]
