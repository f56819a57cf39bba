"""A GOV.UK date input as a WTForms field: three boxes, GOV.UK's error messages, no guessing."""

from __future__ import annotations

import datetime as dt
from typing import Any

from govuk_frontend_wtf.wtforms_widgets import GovDateInput
from wtforms import Field
from wtforms.validators import StopValidation


class GovDateField(Field):
    """A GOV.UK date input (day, month, year) with GOV.UK's messages ("Date of birth must include a
    month", "Date of birth must be a real date")."""

    widget = GovDateInput()

    def __init__(self, label: str, *, noun: str, required_message: str | None = None, **kwargs: Any) -> None:
        super().__init__(label, **kwargs)
        self.noun = noun
        self.required_message = required_message  # None: the date may be left blank

    def process_formdata(self, valuelist: list[str]) -> None:
        """Three boxes into a date; a part missing or no such day is a message, not a guess."""
        parts = [str(value).strip() for value in [*valuelist, "", "", ""][:3]]
        self.raw_data = parts
        self.data = None
        if not any(parts):
            return
        missing = [name for name, part in zip(("day", "month", "year"), parts, strict=True) if not part]
        if missing:
            raise ValueError(f"{self.noun} must include a {' and a '.join(missing)}")
        day, month, year = parts
        if not all(part.isdigit() for part in parts) or len(year) != 4:
            raise ValueError(f"{self.noun} must be a real date")
        try:
            self.data = dt.date(int(year), int(month), int(day))
        except ValueError as error:
            raise ValueError(f"{self.noun} must be a real date") from error

    def _value(self) -> str:
        # The widget fills the three boxes from raw_data or data itself.
        return ""

    def pre_validate(self, form: Any) -> None:
        """Refuse an empty required date."""
        if self.required_message and self.data is None and not self.process_errors:
            raise StopValidation(self.required_message)
