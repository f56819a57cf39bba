"""One earning rule of a scheme as a row of the rules form: the event, its credit, its caps."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from govuk_frontend_wtf.wtforms_widgets import GovCheckboxesInput, GovCheckboxInput, GovSelect, GovTextInput
from wtforms import BooleanField, Form, SelectChoice, SelectField, SelectMultipleField, StringField
from wtforms.validators import Length, ValidationError

from admin.web.form_fields import MAX_ITEM_LENGTH, AmountField, typed_amount
from ledger.rules import PERIODS, EarningRule
from ledger.units import Unit

ROLE_CHOICES = [
    SelectChoice("device", "A kiosk at an outlet"),
    SelectChoice("scheme_manager", "A scheme manager"),
    SelectChoice("caseworker", "A caseworker"),
    SelectChoice("admin", "An administrator"),
]
EARNING_PERIOD_CHOICES = [SelectChoice(period, period.capitalize()) for period in PERIODS]


class EarningRuleForm(Form):
    """An event that earns credits (a check-in, an hour volunteered), after its caps; a blank row is no
    rule."""

    event = StringField(
        "Event name",
        widget=GovTextInput(),
        description="As kiosks and staff send it, for example leisure_check_in",
        validators=[Length(max=MAX_ITEM_LENGTH, message="Event name must be 64 characters or fewer")],
    )
    amount = AmountField("Credit for each event", noun="Credit for each event")
    per_quantity = BooleanField(
        "The credit is for each unit of quantity (for example each minute volunteered)",
        widget=GovCheckboxInput(),
    )
    cap_per_day = AmountField("Most earned in a day", noun="Most earned in a day")
    cap_per_week = AmountField("Most earned in a week", noun="Most earned in a week")
    cap_per_period = AmountField("Most earned in a period", noun="Most earned in a period")
    period = SelectField("Period", widget=GovSelect(), choices=EARNING_PERIOD_CHOICES, default="month")
    collective = BooleanField(
        "A street's reward, earned when its households beat a target", widget=GovCheckboxInput()
    )
    datum = AmountField("The street's target (datum line)", noun="Target")
    requires_role = SelectMultipleField(
        "Only confirmed by", widget=GovCheckboxesInput(), choices=ROLE_CHOICES, default=[]
    )

    amount_unit: Callable[[], Unit | None]  # set by the rules form that holds the row

    def filled(self) -> bool:
        """True when the row names an event (a blank row is left out)."""
        return bool((self.event.data or "").strip())

    def validate_event(self, field: StringField) -> None:
        """A plain one-line name."""
        name = (field.data or "").strip()
        if name and not name.isprintable():
            raise ValidationError("Event name must be plain text on one line")
        if not name and (self.amount.data or "").strip():
            raise ValidationError("Enter the event name")

    def validate_amount(self, field: AmountField) -> None:
        """A named event earns something."""
        if self.filled() and field.amount_minor is None and not field.errors:
            raise ValidationError("Enter the credit for each event")

    def rule(self) -> dict[str, Any]:
        """The rule as the rules data holds it."""
        return {
            "amount_minor": self.amount.amount_minor,
            "per_quantity": bool(self.per_quantity.data),
            "cap_per_day_minor": self.cap_per_day.amount_minor,
            "cap_per_week_minor": self.cap_per_week.amount_minor,
            "cap_per_period_minor": self.cap_per_period.amount_minor,
            "period": self.period.data,
            "collective": bool(self.collective.data),
            "datum_minor": self.datum.amount_minor,
            "requires_role": list(self.requires_role.data or []),
        }


def earning_rows(earning: Mapping[str, EarningRule], unit: Unit | str) -> list[dict[str, Any]]:
    """Rows of the form from parsed earning rules, then one blank row for another rule."""
    rows = [
        {
            "event": event,
            "amount": typed_amount(rule.amount_minor, unit),
            "per_quantity": rule.per_quantity,
            "cap_per_day": typed_amount(rule.cap_per_day_minor, unit),
            "cap_per_week": typed_amount(rule.cap_per_week_minor, unit),
            "cap_per_period": typed_amount(rule.cap_per_period_minor, unit),
            "period": rule.period,
            "collective": rule.collective,
            "datum": typed_amount(rule.datum_minor, unit),
            "requires_role": list(rule.requires_role),
        }
        for event, rule in earning.items()
    ]
    return [*rows, {"period": "month", "requires_role": []}]
