"""The top-up scheme rule on plain values: parsed field by field, and each amount checked in words."""

from __future__ import annotations

import pytest

from ledger.errors import ValidationFailed
from ledger.rules import TopUps, parse_rules
from ledger.units import Unit

RULE = TopUps(accepted=True, min_minor=500, max_minor=3000, cap_per_month_minor=5000)


def test_an_amount_within_the_limits_and_the_months_cap_is_allowed() -> None:
    assert RULE.check_amount(3000, added_this_month_minor=2000) is None


@pytest.mark.parametrize(
    ("amount_minor", "added_minor", "refusal"),
    [
        (499, 0, "the smallest top-up is £5.00"),
        (3001, 0, "the largest top-up is £30.00"),
        (1000, 4500, "at most £50.00 may be added to a card in a month; £5.00 is left this month"),
        (1000, 6000, "£0.00 is left this month"),
    ],
)
def test_an_amount_outside_the_rule_is_refused_saying_why(
    amount_minor: int, added_minor: int, refusal: str
) -> None:
    found = RULE.check_amount(amount_minor, added_this_month_minor=added_minor)

    assert found is not None and refusal in found


@pytest.mark.parametrize(
    ("topups", "message"),
    [
        ({"accepted": "yes"}, "accepted is true or false"),
        ({"min_minor": 0}, "min_minor is a whole number of pence"),
        ({"max_minor": 2.5}, "max_minor is a whole number of pence"),
        ({"min_minor": 900, "max_minor": 100}, "min_minor is above max_minor"),
        ({"cap_per_month_minor": 500}, "cap_per_month_minor is below max_minor"),
        ({"per_week": 5}, "unknown field per_week"),
    ],
)
def test_a_top_up_rule_that_makes_no_sense_is_refused_field_by_field(
    topups: dict[str, object], message: str
) -> None:
    with pytest.raises(ValidationFailed, match=message):
        parse_rules({"topups": topups})


def test_schemes_in_hours_or_points_cannot_accept_top_ups() -> None:
    for unit in (Unit.HOUR, Unit.POINT):
        with pytest.raises(ValidationFailed, match="only schemes in pounds"):
            parse_rules({"topups": {"accepted": True}}, unit)
    assert parse_rules({"topups": {"accepted": True}}, Unit.GBP).topups.accepted
    assert not parse_rules({}).topups.accepted  # no top-ups unless the rules say so
