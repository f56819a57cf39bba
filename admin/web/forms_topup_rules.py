"""The rules form's top-up fields: whether a pounds scheme takes money added by card (Stripe Checkout),
the smallest and largest top-up and a monthly limit per card; the rules code checks them again."""

from __future__ import annotations

from typing import Any

from govuk_frontend_wtf.wtforms_widgets import GovCheckboxInput
from wtforms import BooleanField
from wtforms.validators import ValidationError

from admin.web.form_fields import AmountField, typed_amount
from ledger.rules import MAX_TOPUP_MINOR, TopUps
from ledger.units import Unit

DEFAULTS = TopUps()


class TopUpRuleFields:
    """Mixed into the rules form (which supplies `amount_unit`)."""

    topups_accepted = BooleanField(
        "Money may be added to a card by card payment (Stripe)", widget=GovCheckboxInput()
    )
    topup_min = AmountField("Smallest top-up", noun="Smallest top-up", largest_minor=MAX_TOPUP_MINOR)
    topup_max = AmountField("Largest top-up", noun="Largest top-up", largest_minor=MAX_TOPUP_MINOR)
    topup_cap_per_month = AmountField(
        "Most added to one card in a month", noun="Monthly top-up limit", largest_minor=MAX_TOPUP_MINOR
    )

    def amount_unit(self) -> Unit | None:
        """The unit amounts are typed in (the rules form's own)."""
        raise NotImplementedError

    def validate_topups_accepted(self, field: BooleanField) -> None:
        """Only pounds schemes take top-ups."""
        unit = self.amount_unit()
        if field.data and unit is not None and unit is not Unit.GBP:
            raise ValidationError("Only schemes in pounds can take money added by card")

    def validate_topup_max(self, field: AmountField) -> None:
        """Not below the smallest top-up."""
        smallest = self.topup_min.amount_minor or DEFAULTS.min_minor
        if field.amount_minor is not None and field.amount_minor < smallest:
            raise ValidationError("Largest top-up must be the same as or more than the smallest top-up")

    def validate_topup_cap_per_month(self, field: AmountField) -> None:
        """Not below the largest top-up."""
        largest = self.topup_max.amount_minor or DEFAULTS.max_minor
        if field.amount_minor is not None and field.amount_minor < largest:
            raise ValidationError("Monthly top-up limit must be the same as or more than the largest top-up")

    def topup_section(self) -> dict[str, Any]:
        """{"topups": ...} for the rules data, or nothing when top-ups are neither allowed nor set up."""
        given = (
            self.topup_min.amount_minor,
            self.topup_max.amount_minor,
            self.topup_cap_per_month.amount_minor,
        )
        if not self.topups_accepted.data and all(amount is None for amount in given):
            return {}
        smallest, largest, cap = given
        return {
            "topups": {
                "accepted": bool(self.topups_accepted.data),
                "min_minor": DEFAULTS.min_minor if smallest is None else smallest,
                "max_minor": DEFAULTS.max_minor if largest is None else largest,
                "cap_per_month_minor": cap,
            }
        }


def topup_form_data(topups: TopUps) -> dict[str, Any]:
    """The form's top-up fields from parsed rules (what editing starts from); amounts are pounds, and
    blank for a scheme that never set top-ups up (so saving it adds nothing)."""
    if topups == DEFAULTS:
        return {"topup_min": "", "topup_max": "", "topup_cap_per_month": ""}
    ticked = {"topups_accepted": True} if topups.accepted else {}  # a box left unticked is not sent
    return {
        **ticked,
        "topup_min": typed_amount(topups.min_minor, Unit.GBP),
        "topup_max": typed_amount(topups.max_minor, Unit.GBP),
        "topup_cap_per_month": typed_amount(topups.cap_per_month_minor, Unit.GBP),
    }
