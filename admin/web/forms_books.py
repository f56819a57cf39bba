"""The read-only filters of the books and the staff log: GET forms (no CSRF token, nothing changes) with
GOV.UK date and time inputs in the council's time zone, turned into the instants the use cases take."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Sequence
from typing import Any

from flask_wtf import FlaskForm
from govuk_frontend_wtf.gov_form_base import GovFormBase
from govuk_frontend_wtf.wtforms_widgets import GovSelect, GovSubmitInput, GovTextInput
from wtforms import Field, SelectChoice, SelectField, StringField, SubmitField
from wtforms.validators import Length, Optional, ValidationError

from admin.web.forms_dates import GovDateField
from ledger.usecases.books_journal import JOURNAL_KINDS

MAX_FILTER_LENGTH = 200
ANY = ""


class QueryForm(FlaskForm):
    """A GET form: filters in the address, so a page can be bookmarked and shared; no CSRF token."""

    class Meta:
        """Nothing is written, so nothing to protect."""

        csrf = False


def start_of_day(day: dt.date, zone: zoneinfo.ZoneInfo) -> dt.datetime:
    """The instant a council day begins, in UTC."""
    return dt.datetime.combine(day, dt.time(), zone).astimezone(dt.UTC)


def day_period(
    first: dt.date | None, last: dt.date | None, zone: zoneinfo.ZoneInfo
) -> tuple[dt.datetime | None, dt.datetime | None]:
    """(after, up_to) for days `first` to `last` inclusive in the council's zone: after is exclusive, so
    it is a microsecond before the first day begins; up_to a microsecond before the day after `last`."""
    microsecond = dt.timedelta(microseconds=1)
    after = None if first is None else start_of_day(first, zone) - microsecond
    up_to = None if last is None else start_of_day(last + dt.timedelta(days=1), zone) - microsecond
    return after, up_to


class GovTimeInput(GovFormBase):
    """Hour, minute and second boxes in the GOV.UK date-input pattern (GOV.UK has no time component)."""

    template = "govuk_frontend_wtf/date.html"

    def __call__(self, field: Field, **kwargs: Any) -> Any:
        """Render the three boxes."""
        kwargs.setdefault("id", field.id)
        return super().__call__(field, **kwargs)

    def map_gov_params(self, field: Field, **kwargs: Any) -> dict[str, Any]:
        """The boxes, named alike (their values arrive in order), filled with what was typed."""
        params: dict[str, Any] = super().map_gov_params(field, **kwargs)
        values = [*(field.raw_data or []), "", "", ""][:3]
        error = " govuk-input--error" if field.errors else ""
        params.setdefault("fieldset", {"legend": {"text": field.label.text}})
        params["items"] = [
            {"label": label, "id": f"{field.name}-{label.lower()}", "name": field.name,
             "classes": f"govuk-input--width-2{error}", "value": value, "inputmode": "numeric"}
            for label, value in zip(("Hour", "Minute", "Second"), values, strict=True)
        ]  # fmt: skip
        return params


class GovTimeField(Field):
    """A time of day as hour, minute and (optional) second on the 24-hour clock; blank is None."""

    widget = GovTimeInput()

    def __init__(self, label: str, *, noun: str, **kwargs: Any) -> None:
        super().__init__(label, **kwargs)
        self.noun = noun

    def process_formdata(self, valuelist: list[str]) -> None:
        """Three boxes into a time; a missing hour or minute, or no such time, is a message."""
        parts = [str(value).strip() for value in [*valuelist, "", "", ""][:3]]
        self.raw_data = parts
        self.data = None
        if not any(parts):
            return
        hour, minute, second = parts
        if not hour or not minute:
            raise ValueError(f"{self.noun} must include an hour and a minute")
        if not all(part.isdigit() and len(part) <= 2 for part in (hour, minute, second or "0")):
            raise ValueError(f"{self.noun} must be a real time, for example 17 30 00")
        try:
            self.data = dt.time(int(hour), int(minute), int(second or 0))
        except ValueError as error:
            raise ValueError(f"{self.noun} must be a real time on the 24-hour clock") from error

    def _value(self) -> str:
        return ""


class TrialBalanceForm(QueryForm):
    """The instant of a trial balance: a date and a time in the council's zone (blank: now)."""

    date = GovDateField("Date", noun="The date")
    time = GovTimeField("Time", noun="The time", description="24-hour clock, for example 17 30 00")
    submit = SubmitField("Show the trial balance", widget=GovSubmitInput())

    def validate_time(self, field: GovTimeField) -> None:
        """A time needs its date."""
        if field.data is not None and self.date.data is None and not self.date.errors:
            raise ValidationError("Enter the date as well as the time")

    def instant(self, zone: zoneinfo.ZoneInfo) -> dt.datetime | None:
        """The instant chosen (midnight if only a date was given), or None for now."""
        if self.date.data is None:
            return None
        local = dt.datetime.combine(self.date.data, self.time.data or dt.time(), zone)
        return local.astimezone(dt.UTC)


class PeriodForm(QueryForm):
    """From and to dates (inclusive days in the council's zone), either may be left blank."""

    from_date = GovDateField("From", noun="The from date", name="from")
    to_date = GovDateField("To", noun="The to date", name="to")

    def validate_to_date(self, field: GovDateField) -> None:
        """The period does not end before it begins."""
        if field.data is not None and self.from_date.data is not None and field.data < self.from_date.data:
            raise ValidationError("The to date must be the same as or after the from date")

    def period(self, zone: zoneinfo.ZoneInfo) -> tuple[dt.datetime | None, dt.datetime | None]:
        """(after, up_to) as the use cases take them."""
        return day_period(self.from_date.data, self.to_date.data, zone)


def _choice(**kwargs: Any) -> SelectField:
    return SelectField(
        widget=GovSelect(), choices=[SelectChoice(ANY, "Any")], validate_choice=False, **kwargs
    )


class JournalFilterForm(PeriodForm):
    """The journal's filters: period, kind, scheme, outlet."""

    kind = SelectField(
        "Kind",
        widget=GovSelect(),
        choices=[
            SelectChoice(ANY, "Any"),
            *(SelectChoice(kind, kind.replace("_", " ").capitalize()) for kind in JOURNAL_KINDS),
        ],
        validate_choice=False,  # checked below, in words
    )
    scheme = _choice(label="Scheme")
    outlet = _choice(label="Outlet")
    submit = SubmitField("Filter the journal", widget=GovSubmitInput())

    def offer(self, schemes: Sequence[tuple[str, str]], outlets: Sequence[tuple[str, str]]) -> None:
        """The schemes and outlets to choose from: (id, name), after "Any"."""
        self.scheme.choices = [
            SelectChoice(ANY, "Any"),
            *(SelectChoice(value, text) for value, text in schemes),
        ]
        self.outlet.choices = [
            SelectChoice(ANY, "Any"),
            *(SelectChoice(value, text) for value, text in outlets),
        ]

    def validate_kind(self, field: SelectField) -> None:
        """One of the kinds offered (schemes and outlets are matched exactly: an unknown one lists none)."""
        offered = {str(choice.value) for choice in field.choices or []}
        if (field.data or ANY) not in offered:
            raise ValidationError("Select a kind from the list")

    def chosen(self, field: SelectField) -> str | None:
        """A drop-down's value, None for Any."""
        return field.data or None


def _text(label: str, hint: str) -> StringField:
    return StringField(
        label,
        widget=GovTextInput(),
        description=hint,
        validators=[
            Optional(),
            Length(max=MAX_FILTER_LENGTH, message=f"{label} must be 200 characters or fewer"),
        ],
    )


class StaffLogFilterForm(PeriodForm):
    """The staff log's filters: exact actor, action and target, and a period."""

    actor = _text("Who", "Exactly as the log shows it, for example caseworker:sam")
    action = _text("Action", "For example outlet.update or card.block")
    target = _text("Target", "An id, card number or scheme, as the log shows it")
    submit = SubmitField("Filter the log", widget=GovSubmitInput())

    def exact(self, name: str) -> str | None:
        """A text filter's value, None when blank."""
        value = (self[name].data or "").strip()
        return value or None
