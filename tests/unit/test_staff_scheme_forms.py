"""The scheme forms' fields and the rules in words: amounts typed in the scheme's unit, refused with the
field's own name; lists one a line; sentences a scheme manager would say; what a version changed."""

from __future__ import annotations

import pytest
from werkzeug.datastructures import MultiDict
from wtforms import Form

from admin.demo_schemes import FIVE_SCHEMES
from admin.web.form_fields import AmountField, ItemListField, WholeNumberField, one_line_items
from admin.web.rules_in_words import rule_changes, rules_in_words
from ledger.units import Unit

LEISURE = next(scheme for scheme in FIVE_SCHEMES if scheme["slug"] == "leisure-vouchers")
TIME_BANK = next(scheme for scheme in FIVE_SCHEMES if scheme["slug"] == "time-bank")


class _Form(Form):
    limit = AmountField("Most spent in one day", noun="Most spent in one day")
    offline = AmountField("Offline limit", noun="Offline limit", zero_allowed=True, largest_minor=10**7)
    age = WholeNumberField("Youngest age", noun="Youngest age", smallest=0, largest=130, example=13)
    wards = ItemListField("Wards", noun="wards", most=2)

    def __init__(self, data: dict[str, str], unit: Unit) -> None:
        super().__init__(MultiDict(data))
        self.unit = unit

    def amount_unit(self) -> Unit:
        return self.unit


def _errors(data: dict[str, str], unit: Unit = Unit.GBP) -> dict[str, list[str]]:
    form = _Form(data, unit)
    form.validate()
    return dict(form.errors)


@pytest.mark.parametrize(
    ("unit", "typed", "minor"),
    [
        (Unit.GBP, "£12.50", 1250),
        (Unit.GBP, "1,000", 100_000),
        (Unit.HOUR, "1:30", 90),
        (Unit.POINT, "40", 40),
    ],
)
def test_an_amount_is_typed_as_people_write_it_in_the_schemes_unit(
    unit: Unit, typed: str, minor: int
) -> None:
    form = _Form({"limit": typed}, unit)

    assert form.validate() and form.limit.amount_minor == minor


@pytest.mark.parametrize(
    ("unit", "typed", "message"),
    [
        (Unit.GBP, "0", "Most spent in one day must be £0.01 or more"),
        (Unit.HOUR, "0:00", "Most spent in one day must be 1 min or more"),
        (Unit.POINT, "0", "Most spent in one day must be 1 point or more"),
        (Unit.GBP, "ten", "Most spent in one day must be an amount, for example 5.50 or £12"),
        (
            Unit.HOUR,
            "1.33",
            "Most spent in one day must be an amount, for example 1:30, 1 h 30 min or 45 min",
        ),
    ],
)
def test_an_amount_people_cannot_mean_is_refused_naming_its_field(
    unit: Unit, typed: str, message: str
) -> None:
    assert _errors({"limit": typed}, unit) == {"limit": [message]}


def test_zero_is_allowed_where_it_means_none_and_a_limit_has_its_own_largest_amount() -> None:
    assert _Form({"offline": "0"}, Unit.GBP).validate()
    assert _errors({"offline": "100000.01"}) == {"offline": ["Offline limit must be £100,000.00 or less"]}


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("13.5", "Youngest age must be a whole number, like 13"),
        ("131", "Youngest age must be between 0 and 130"),
    ],
)
def test_a_whole_number_outside_its_range_says_what_it_must_be(typed: str, message: str) -> None:
    assert _errors({"age": typed}) == {"age": [message]}


def test_a_list_is_typed_one_a_line_or_with_commas_without_blanks_or_repeats() -> None:
    assert one_line_items("Riverside, Castle\n\n  Northgate \nCastle") == ["Riverside", "Castle", "Northgate"]
    assert _errors({"wards": "a\nb\nc"}) == {"wards": ["Enter 2 wards or fewer"]}


def test_the_leisure_rules_read_as_a_scheme_manager_would_explain_them() -> None:
    sections = {section.heading: section.lines for section in rules_in_words(LEISURE["rules"], "GBP")}

    assert sections["Who may join"] == (
        "People and households may join.",
        "Aged 13 to 19.",
        "Living in Riverside, Northgate, Castle or Eastfield.",
        "No referral is needed.",
    )
    assert sections["How value is issued"] == (
        "A recurring allowance, paid each month. The standard amount is £15.00.",
    )
    assert "At most £10.00 a day." in sections["Where and how it is spent"]
    assert sections["Expiry"] == (
        "Value expires 91 days after it is issued; what is left goes back to the budget.",
    )


def test_hours_rules_read_in_hours_and_an_overdraft_as_how_far_below_zero() -> None:
    sections = {section.heading: section.lines for section in rules_in_words(TIME_BANK["rules"], "HOUR")}

    assert sections["Earning"] == (
        "volunteer_hours: 1 min for each unit of quantity; confirmed only by a scheme manager.",
    )
    assert "Members may go down to -10 h." in sections["Where and how it is spent"]


def test_a_new_version_is_described_by_the_sentences_it_adds_and_drops() -> None:
    changed = {**LEISURE["rules"], "expiry": {"days_after_issue": 30}}

    assert rule_changes(LEISURE["rules"], changed, "GBP") == [
        "Now: Value expires 30 days after it is issued; what is left goes back to the budget.",
        "No longer: Value expires 91 days after it is issued; what is left goes back to the budget.",
    ]
