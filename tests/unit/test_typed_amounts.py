"""Typed amounts at the counter: pounds and pence, hours and minutes, points."""

from __future__ import annotations

import pytest

from ledger.amounts import AmountNotUnderstood, parse_amount, typed_form
from ledger.units import Unit


@pytest.mark.parametrize(
    ("typed", "pence"),
    [
        ("5.50", 550),
        ("£5.50", 550),
        ("5.5", 550),
        ("5", 500),
        ("£ 12", 1200),
        ("0.05", 5),
        ("1,250.00", 125000),
        ("45p", 45),
        ("150p", 150),
        (" 3.20 ", 320),
    ],
)
def test_pounds_and_pence_are_read_as_pence(typed: str, pence: int) -> None:
    assert parse_amount(typed, Unit.GBP) == pence


@pytest.mark.parametrize(
    ("typed", "minutes"),
    [
        ("1:30", 90),
        ("1 h 30 min", 90),
        ("1h30m", 90),
        ("45 min", 45),
        ("2 hours", 120),
        ("2", 120),
        ("1.5", 90),
        ("0.25", 15),
        ("0:05", 5),
    ],
)
def test_hours_and_minutes_are_read_as_minutes(typed: str, minutes: int) -> None:
    assert parse_amount(typed, Unit.HOUR) == minutes


@pytest.mark.parametrize(("typed", "points"), [("40", 40), ("40 points", 40), ("1 point", 1)])
def test_points_are_whole_numbers(typed: str, points: int) -> None:
    assert parse_amount(typed, Unit.POINT) == points


@pytest.mark.parametrize(
    ("typed", "unit"),
    [
        ("5.555", Unit.GBP),
        ("-5", Unit.GBP),
        ("0", Unit.GBP),
        ("0.00", Unit.GBP),
        ("1e3", Unit.GBP),
        ("five", Unit.GBP),
        ("", Unit.GBP),
        ("1:75", Unit.HOUR),
        ("1.33", Unit.HOUR),
        ("2.5", Unit.POINT),
        ("-1", Unit.POINT),
        ("9" * 40, Unit.POINT),
        ("99999999999999", Unit.POINT),
    ],
)
def test_anything_else_is_refused_with_a_message_saying_what_to_type(typed: str, unit: Unit) -> None:
    with pytest.raises(AmountNotUnderstood) as refused:
        parse_amount(typed, unit)
    assert str(refused.value)[0].isupper()


@pytest.mark.parametrize(
    ("minor", "unit"), [(550, Unit.GBP), (90, Unit.HOUR), (40, Unit.POINT), (5, Unit.GBP)]
)
def test_an_amount_typed_back_reads_as_the_same_amount(minor: int, unit: Unit) -> None:
    assert parse_amount(typed_form(minor, unit), unit) == minor


def test_pence_past_the_second_decimal_get_their_own_message() -> None:
    with pytest.raises(AmountNotUnderstood, match="at most 2 digits after the point"):
        parse_amount("1.255", Unit.GBP)
