"""The outlets section's forms: an outlet's name, categories and approved schemes; a kiosk's device key.

Forms that create something carry a hidden request key, so sending the same form twice does the work once.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from flask_wtf import FlaskForm
from govuk_frontend_wtf.wtforms_widgets import GovCheckboxesInput, GovSubmitInput, GovTextInput
from wtforms import HiddenField, SelectChoice, SelectMultipleField, StringField, SubmitField
from wtforms.validators import InputRequired, Length, ValidationError

MAX_NAME_LENGTH = 200
MAX_CATEGORY_LENGTH = 64
MAX_CATEGORIES = 100
REQUEST_KEY_LENGTH = 36  # a UUID


def _request_key() -> str:
    return str(uuid.uuid4())


def categories_text(categories: Sequence[str]) -> str:
    """Categories as the form shows them: comma separated."""
    return ", ".join(categories)


class OutletForm(FlaskForm):
    """A partner outlet: its name, the categories schemes' spending rules refer to, its approved schemes."""

    request_key = HiddenField(default=_request_key, validators=[Length(min=1, max=REQUEST_KEY_LENGTH)])
    name = StringField(
        "Name",
        widget=GovTextInput(),
        description="As residents know it, for example Riverside Leisure Centre",
        validators=[
            InputRequired("Enter the outlet's name"),
            Length(max=MAX_NAME_LENGTH, message="The name must be 200 characters or fewer"),
        ],
    )
    categories = StringField(
        "Categories",
        widget=GovTextInput(),
        description="Separate them with commas, for example leisure, music-tuition. Schemes' spending "
        "rules name the categories where their value may be spent",
        validators=[Length(max=4_000, message="Enter fewer categories")],
    )
    schemes = SelectMultipleField(
        "Approved schemes",
        widget=GovCheckboxesInput(),
        description="Residents can spend these schemes here (within each scheme's own rules)",
        choices=[],
        validate_choice=False,  # checked below, in words, against the schemes offered
    )
    submit = SubmitField("Save", widget=GovSubmitInput())

    def offer_schemes(self, schemes: Sequence[tuple[str, str]]) -> None:
        """The schemes an outlet may be approved for: (slug, name)."""
        self.schemes.choices = [SelectChoice(slug, name) for slug, name in schemes]

    def validate_name(self, field: StringField) -> None:
        """A name is more than spaces."""
        if not (field.data or "").strip():
            raise ValidationError("Enter the outlet's name")

    def validate_categories(self, field: StringField) -> None:
        """Each category is a short word or phrase (schemes' rules compare them in lower case)."""
        given = self.category_list()
        if len(given) > MAX_CATEGORIES:
            raise ValidationError(f"Enter {MAX_CATEGORIES} categories or fewer")
        for category in given:
            if len(category) > MAX_CATEGORY_LENGTH:
                raise ValidationError(f"Each category must be {MAX_CATEGORY_LENGTH} characters or fewer")
            if not category.isprintable():
                raise ValidationError("Categories can only use letters, numbers, spaces and punctuation")

    def validate_schemes(self, field: SelectMultipleField) -> None:
        """Only schemes that exist may be approved."""
        offered = {str(choice.value) for choice in field.choices or []}
        if any(slug not in offered for slug in field.data or []):
            raise ValidationError("Select schemes from the list")

    def category_list(self) -> list[str]:
        """The categories typed, cleaned: lower case, no blanks, no repeats, in order."""
        seen: dict[str, None] = {}
        for part in (self.categories.data or "").split(","):
            category = " ".join(part.split()).lower()
            if category:
                seen[category] = None
        return list(seen)


class DeviceForm(FlaskForm):
    """A new kiosk credential for this outlet."""

    request_key = HiddenField(default=_request_key, validators=[Length(min=1, max=REQUEST_KEY_LENGTH)])
    label = StringField(
        "Where is the kiosk?",
        widget=GovTextInput(),
        description="So you can tell its key from the others, for example front desk",
        validators=[
            InputRequired("Enter where the kiosk is"),
            Length(max=MAX_NAME_LENGTH, message="Where the kiosk is must be 200 characters or fewer"),
        ],
    )
    submit = SubmitField("Create device key", widget=GovSubmitInput())

    def validate_label(self, field: StringField) -> None:
        """More than spaces."""
        if not (field.data or "").strip():
            raise ValidationError("Enter where the kiosk is")


class RevokeDeviceForm(FlaskForm):
    """The confirmation that revokes a device key."""

    submit = SubmitField("Revoke the device key", widget=GovSubmitInput())
