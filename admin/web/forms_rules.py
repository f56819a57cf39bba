"""A scheme's rules as a form, field by field: typed as people think of them (ages, amounts in the scheme's
unit, lists one a line) and turned into the rules data that POST /schemes and PATCH /schemes/{slug} take;
the same use cases check them again."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from flask_wtf import FlaskForm
from govuk_frontend_wtf.wtforms_widgets import (
    GovCheckboxesInput,
    GovCheckboxInput,
    GovRadioInput,
    GovSelect,
    GovSubmitInput,
    GovTextArea,
)
from wtforms import (
    BooleanField,
    FieldList,
    FormField,
    HiddenField,
    RadioField,
    SelectChoice,
    SelectField,
    SelectMultipleField,
    SubmitField,
    TextAreaField,
)
from wtforms.validators import InputRequired, Length, StopValidation, ValidationError

from admin.web.form_fields import (
    AmountField,
    ItemListField,
    WholeNumberField,
    lines_of_pairs,
    one_line_items,
    typed_amount,
)
from admin.web.forms_dates import GovDateField
from admin.web.forms_earning import ROLE_CHOICES, EarningRuleForm, earning_rows
from admin.web.forms_topup_rules import TopUpRuleFields, topup_form_data
from ledger.amounts import AmountNotUnderstood, parse_amount
from ledger.rules import PERIODS, Rules
from ledger.units import Unit

MODE_CHOICES = [
    SelectChoice("one_off", "One-off amounts, issued by staff"),
    SelectChoice("recurring", "A recurring allowance, paid to every member each period"),
    SelectChoice("series", "A series of vouchers, one for each purpose"),
    SelectChoice("earned", "Earned only, by events such as check-ins"),
]
PERIOD_CHOICES = [SelectChoice("", "Not set"), *[SelectChoice(p, p.capitalize()) for p in PERIODS]]
KIND_CHOICES = [
    SelectChoice("person", "People"),
    SelectChoice("household", "Households"),
    SelectChoice("collective", "Streets (a shared pot)"),
]
EXPIRY_CHOICES = [
    SelectChoice("never", "Never"),
    SelectChoice("days", "A number of days after it is issued"),
    SelectChoice("date", "On a fixed date"),
]
MAX_EARNING_RULES = 50
OFFLINE_FLOOR_LARGEST_MINOR = 10**7
OVERDRAFT_LARGEST_MINOR = 10**9
DEFAULT_REFUND_WINDOW_DAYS = 14


def new_request_key() -> str:
    """A fresh key for a form, so that sending the same form twice does the work once."""
    return str(uuid.uuid4())


class RulesForm(TopUpRuleFields, FlaskForm):
    """Every rule of a scheme, field by field, in fieldsets by what they are about."""

    # Who may join
    min_age = WholeNumberField("Youngest age", noun="Youngest age", smallest=0, largest=130, example=13)
    max_age = WholeNumberField("Oldest age", noun="Oldest age", smallest=0, largest=130, example=19)
    wards = ItemListField("Wards", noun="wards", most=500, description="One a line. Leave blank for any ward")
    postcode_prefixes = ItemListField(
        "Postcode areas",
        noun="postcode areas",
        most=2000,
        longest=8,
        description="The start of a postcode, one a line, for example AB1. Leave blank for anywhere",
    )
    referral_required = BooleanField("A referral is needed to join", widget=GovCheckboxInput())
    resident_kinds = SelectMultipleField(
        "Who may be members",
        widget=GovCheckboxesInput(),
        choices=KIND_CHOICES,
        default=["person", "household"],
    )
    # How value is issued
    mode = RadioField(
        "How value is issued",
        widget=GovRadioInput(),
        choices=MODE_CHOICES,
        default="one_off",
        validators=[InputRequired("Select how value is issued")],
    )
    amount = AmountField(
        "Standard amount", noun="Standard amount", description="Issued when staff do not give an amount"
    )
    period = SelectField("How often an allowance is paid", widget=GovSelect(), choices=PERIOD_CHOICES)
    purposes = TextAreaField(
        "Purposes and their standard amounts",
        widget=GovTextArea(),
        description="One a line: the purpose, a colon, the amount. For example, accommodation: 60.00",
    )
    # Where and how it is spent
    outlet_categories = ItemListField(
        "Outlet categories where it may be spent",
        noun="outlet categories",
        most=100,
        description="One a line, for example leisure-centre",
    )
    purpose_categories = TextAreaField(
        "Outlet categories for each purpose",
        widget=GovTextArea(),
        description="One a line: the purpose, a colon, its categories. For example, accommodation: hostel",
    )
    per_transaction_limit = AmountField("Most in one spend", noun="Most in one spend")
    per_day_limit = AmountField("Most spent in one day", noun="Most spent in one day")
    partial_spend = BooleanField("Part of a voucher may be spent", widget=GovCheckboxInput(), default=True)
    transferable = BooleanField("Members may give value to each other", widget=GovCheckboxInput())
    overdraft = AmountField(
        "Overdraft: how far below zero a member may go",
        noun="Overdraft",
        zero_allowed=True,
        largest_minor=OVERDRAFT_LARGEST_MINOR,
        description="Leave blank for none",
    )
    refund_window_days = WholeNumberField(
        "Days an outlet may refund a spend",
        noun="Refund window",
        smallest=0,
        largest=365,
        example=14,
        default="14",
    )
    offline_floor_limit = AmountField(
        "Most a card may spend in a day while a kiosk is offline",
        noun="Offline limit",
        zero_allowed=True,
        largest_minor=OFFLINE_FLOOR_LARGEST_MINOR,
        description="Leave blank for nothing offline",
    )
    # Expiry
    expiry = RadioField(
        "When issued value expires", widget=GovRadioInput(), choices=EXPIRY_CHOICES, default="never"
    )
    days_after_issue = WholeNumberField(
        "Days after issue", noun="Days after issue", smallest=1, largest=3650, example=90
    )
    fixed_date = GovDateField("Expiry date", noun="Expiry date", description="For example, 31 3 2027")
    earning = FieldList(FormField(EarningRuleForm), min_entries=1, max_entries=MAX_EARNING_RULES)
    add_earning_rule = SubmitField("Add another earning rule", widget=GovSubmitInput())
    request_key = HiddenField(default=new_request_key, validators=[Length(min=1, max=36)])

    def __init__(self, *args: Any, unit: str | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fixed_unit = unit
        self.purpose_amounts: dict[str, int] = {}
        self.purpose_category_lists: dict[str, list[str]] = {}
        for row in self.earning:
            self._configure(row.form)

    def _configure(self, row: EarningRuleForm) -> None:
        row.amount_unit = self.amount_unit
        # A role a rule already names stays choosable, even one the form does not offer.
        offered = {choice.value for choice in ROLE_CHOICES}
        named = [role for role in row.requires_role.data or [] if role not in offered]
        row.requires_role.choices = [*ROLE_CHOICES, *[SelectChoice(role, role) for role in named]]

    def add_row(self) -> None:
        """One more blank earning rule row (the "Add another earning rule" button, without JavaScript)."""
        if len(self.earning.entries) < MAX_EARNING_RULES:
            self.earning.append_entry({"period": "month", "requires_role": []})
            self._configure(self.earning.entries[-1].form)

    def amount_unit(self) -> Unit | None:
        """The unit amounts are typed in: the scheme's (editing), or the one chosen (a new scheme)."""
        chosen = self.fixed_unit or getattr(getattr(self, "unit", None), "data", None)
        return Unit(chosen) if isinstance(chosen, str) and chosen in Unit.__members__ else None

    def validate_max_age(self, field: WholeNumberField) -> None:
        """Not below the youngest age."""
        if (
            field.number is not None
            and self.min_age.number is not None
            and field.number < self.min_age.number
        ):
            raise ValidationError("Oldest age must be the same as or more than the youngest age")

    def validate_resident_kinds(self, field: SelectMultipleField) -> None:
        """Someone may join."""
        if not field.data:
            raise ValidationError("Select who may be members")

    def validate_purposes(self, field: TextAreaField) -> None:
        """Lines of "purpose: amount", each amount in the scheme's unit."""
        self.purpose_amounts = lines_of_pairs(
            field, field.data or "", self._purpose_amount, "accommodation: 60.00"
        )

    def _purpose_amount(self, typed: str, line: int) -> int:
        unit = self.amount_unit()
        if unit is None:
            return 0
        try:
            return parse_amount(typed, unit)
        except AmountNotUnderstood as error:
            raise StopValidation(f"Line {line}: {str(error)[0].lower()}{str(error)[1:]}") from error

    def validate_purpose_categories(self, field: TextAreaField) -> None:
        """Lines of "purpose: category, category"."""

        def categories(typed: str, line: int) -> list[str]:
            found = one_line_items(typed)
            if not found:
                raise StopValidation(f"Line {line}: name at least one outlet category after the colon")
            return found

        self.purpose_category_lists = lines_of_pairs(
            field, field.data or "", categories, "accommodation: hostel"
        )

    def validate_days_after_issue(self, field: WholeNumberField) -> None:
        """Needed when value expires after a number of days."""
        if self.expiry.data == "days" and field.number is None and not field.errors:
            raise ValidationError("Enter how many days after issue value expires")

    def validate_fixed_date(self, field: GovDateField) -> None:
        """Needed when value expires on a date."""
        if self.expiry.data == "date" and field.data is None and not field.process_errors:
            raise ValidationError("Enter the expiry date")

    def rules(self) -> dict[str, Any]:
        """The rules data the scheme use cases take (call once the form is valid)."""
        earning = {row.form.event.data.strip(): row.form.rule() for row in self.earning if row.form.filled()}
        return {
            "eligibility": {
                "min_age": self.min_age.number,
                "max_age": self.max_age.number,
                "wards": self.wards.items,
                "postcode_prefixes": self.postcode_prefixes.items,
                "referral_required": bool(self.referral_required.data),
                "resident_kinds": list(self.resident_kinds.data or []),
            },
            "issuing": {
                "mode": self.mode.data,
                "amount_minor": self.amount.amount_minor,
                "period": self.period.data or None,
                "purposes": self.purpose_amounts,
            },
            "earning": earning,
            "spending": self._spending(),
            "expiry": self._expiry(),
            **self.topup_section(),
        }

    def _spending(self) -> dict[str, Any]:
        refund_days = self.refund_window_days.number
        return {
            "outlet_categories": self.outlet_categories.items,
            "purpose_categories": self.purpose_category_lists,
            "per_transaction_limit_minor": self.per_transaction_limit.amount_minor,
            "per_day_limit_minor": self.per_day_limit.amount_minor,
            "partial_spend": bool(self.partial_spend.data),
            "transferable": bool(self.transferable.data),
            "overdraft_floor_minor": -(self.overdraft.amount_minor or 0),
            "refund_window_days": DEFAULT_REFUND_WINDOW_DAYS if refund_days is None else refund_days,
            "offline_floor_limit_minor": self.offline_floor_limit.amount_minor or 0,
        }

    def _expiry(self) -> dict[str, Any]:
        on_date = self.expiry.data == "date" and self.fixed_date.data is not None
        return {
            "fixed_date": self.fixed_date.data.isoformat() if on_date and self.fixed_date.data else None,
            "days_after_issue": self.days_after_issue.number if self.expiry.data == "days" else None,
        }

    def adding_a_row(self) -> bool:
        """True when the form was sent to add an earning rule row rather than to be saved."""
        return bool(self.add_earning_rule.data)


def rules_form_data(rules: Rules, unit: str, name: str) -> dict[str, Any]:
    """A form's data from parsed Rules (ledger.rules.Rules): what editing starts from."""
    eligibility, issuing, spending, expiry = rules.eligibility, rules.issuing, rules.spending, rules.expiry
    fixed_date: dt.date | None = expiry.fixed_date
    return {
        "name": name,
        "min_age": "" if eligibility.min_age is None else str(eligibility.min_age),
        "max_age": "" if eligibility.max_age is None else str(eligibility.max_age),
        "wards": "\n".join(eligibility.wards),
        "postcode_prefixes": "\n".join(eligibility.postcode_prefixes),
        "referral_required": eligibility.referral_required,
        "resident_kinds": list(eligibility.resident_kinds),
        "mode": issuing.mode,
        "amount": typed_amount(issuing.amount_minor, unit),
        "period": issuing.period or "",
        "purposes": "\n".join(f"{p}: {typed_amount(a, unit)}" for p, a in issuing.purposes.items()),
        "outlet_categories": "\n".join(spending.outlet_categories),
        "purpose_categories": "\n".join(
            f"{p}: {', '.join(c)}" for p, c in spending.purpose_categories.items()
        ),
        "per_transaction_limit": typed_amount(spending.per_transaction_limit_minor, unit),
        "per_day_limit": typed_amount(spending.per_day_limit_minor, unit),
        "partial_spend": spending.partial_spend,
        "transferable": spending.transferable,
        "overdraft": typed_amount(-spending.overdraft_floor_minor or None, unit),
        "refund_window_days": str(spending.refund_window_days),
        "offline_floor_limit": typed_amount(spending.offline_floor_limit_minor or None, unit),
        "expiry": "date" if fixed_date else "days" if expiry.days_after_issue else "never",
        "days_after_issue": "" if expiry.days_after_issue is None else str(expiry.days_after_issue),
        "fixed_date": fixed_date,
        "earning": earning_rows(rules.earning, unit),
        **topup_form_data(rules.topups),
    }
