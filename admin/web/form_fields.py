"""Form fields as people fill them in: amounts typed in pounds, hours or points (never minor units), whole
numbers and lists, each refused with a GOV.UK message that names the field."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from govuk_frontend_wtf.wtforms_widgets import GovTextArea, GovTextInput
from wtforms import Field, StringField, TextAreaField
from wtforms.validators import StopValidation

from ledger.amounts import EXAMPLES, AmountNotUnderstood, parse_amount, typed_form
from ledger.units import MAX_AMOUNT_MINOR, Unit, format_amount

MAX_ITEM_LENGTH = 64  # a ward, category, purpose or event name (the API's limit)
_TOO_SMALL = "The amount must be more than zero"
_TOO_LARGE = "That amount is too large"


def amount_message(noun: str, unit: Unit, error: AmountNotUnderstood, largest_minor: int) -> str:
    """The kiosk parser's refusal, reworded to name the field ("Per-day limit must be £0.01 or more")."""
    text = str(error)
    if text.startswith(_TOO_SMALL):
        return f"{noun} must be {format_amount(1, unit)} or more"
    if text.startswith(_TOO_LARGE):
        return f"{noun} must be {format_amount(largest_minor, unit)} or less"
    return f"{noun} must be an amount, {EXAMPLES[unit]}"


class AmountField(StringField):
    """An amount in the form's unit, typed as people write it (5.50, £12, 1:30, 40); `amount_minor` holds
    it in minor units once validated (None when left blank)."""

    widget = GovTextInput()

    def __init__(
        self,
        label: str,
        *,
        noun: str,
        required_message: str | None = None,
        zero_allowed: bool = False,
        largest_minor: int = MAX_AMOUNT_MINOR,
        **kwargs: Any,
    ) -> None:
        super().__init__(label, **kwargs)
        self.noun = noun
        self.required_message = required_message
        self.zero_allowed = zero_allowed
        self.largest_minor = largest_minor
        self.amount_minor: int | None = None

    def pre_validate(self, form: Any) -> None:
        """Parse in the unit the form names (`form.amount_unit()`); nothing to check without one."""
        self.amount_minor = None
        typed = (self.data or "").strip()
        if not typed:
            if self.required_message:
                raise StopValidation(self.required_message)
            return
        unit = form.amount_unit()
        if unit is None:
            return  # the unit itself is wrong: its own field says so
        try:
            amount = parse_amount(typed, unit)
        except AmountNotUnderstood as error:
            if self.zero_allowed and str(error).startswith(_TOO_SMALL):
                self.amount_minor = 0
                return
            raise StopValidation(amount_message(self.noun, unit, error, self.largest_minor)) from error
        if amount > self.largest_minor:
            raise StopValidation(f"{self.noun} must be {format_amount(self.largest_minor, unit)} or less")
        self.amount_minor = amount


def typed_amount(amount_minor: int | None, unit: Unit | str) -> str:
    """An amount as it is typed back into a form; blank for none."""
    return "" if amount_minor is None else typed_form(amount_minor, unit)


class WholeNumberField(StringField):
    """A whole number within a range; `number` holds it once validated (None when left blank)."""

    widget = GovTextInput()

    def __init__(
        self, label: str, *, noun: str, smallest: int, largest: int, example: int, **kwargs: Any
    ) -> None:
        super().__init__(label, **kwargs)
        self.noun = noun
        self.smallest = smallest
        self.largest = largest
        self.example = example
        self.number: int | None = None

    def pre_validate(self, form: Any) -> None:
        """Digits only, inside the range."""
        self.number = None
        typed = (self.data or "").strip()
        if not typed:
            return
        if not typed.isdigit() or not typed.isascii() or len(typed) > 10:
            raise StopValidation(f"{self.noun} must be a whole number, like {self.example}")
        number = int(typed)
        if not self.smallest <= number <= self.largest:
            raise StopValidation(f"{self.noun} must be between {self.smallest} and {self.largest}")
        self.number = number


def one_line_items(text: str) -> list[str]:
    """Items typed one a line or separated by commas, trimmed, blanks and repeats dropped."""
    items = [item.strip() for line in text.splitlines() for item in line.split(",")]
    return list(dict.fromkeys(item for item in items if item))


class ItemListField(TextAreaField):
    """A list typed one item a line (or separated by commas); `items` holds it once validated."""

    widget = GovTextArea()

    def __init__(
        self, label: str, *, noun: str, most: int, longest: int = MAX_ITEM_LENGTH, **kwargs: Any
    ) -> None:
        super().__init__(label, **kwargs)
        self.noun = noun
        self.most = most
        self.longest = longest
        self.items: list[str] = []

    def pre_validate(self, form: Any) -> None:
        """At most `most` items of at most `longest` printable characters each."""
        self.items = one_line_items(self.data or "")
        if len(self.items) > self.most:
            raise StopValidation(f"Enter {self.most} {self.noun} or fewer")
        for item in self.items:
            if len(item) > self.longest:
                raise StopValidation(
                    f"“{item[:20]}…” is too long: each must be {self.longest} characters or fewer"
                )
            if not item.isprintable():
                raise StopValidation(f"Each of the {self.noun} must be plain text")


def lines_of_pairs(
    field: Field, text: str, parse_value: Callable[[str, int], Any], example: str
) -> dict[str, Any]:
    """ "name: value" lines into a mapping, each value parsed by `parse_value(text, line number)`; a line
    without its colon is a StopValidation naming the line."""
    pairs: dict[str, Any] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        name, colon, value = line.partition(":")
        name = name.strip()
        if not colon or not name:
            raise StopValidation(f"Line {number}: write the name, a colon, then the rest, like “{example}”")
        if len(name) > MAX_ITEM_LENGTH or not name.isprintable():
            raise StopValidation(f"Line {number}: the name must be {MAX_ITEM_LENGTH} characters or fewer")
        if name in pairs:
            raise StopValidation(f"Line {number}: {name} is given twice")
        pairs[name] = parse_value(value.strip(), number)
    return pairs
