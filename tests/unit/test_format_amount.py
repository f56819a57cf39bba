"""Amounts are shown to people as they read them, never in minor units."""

from __future__ import annotations

import pytest

from ledger.units import Unit, format_amount


@pytest.mark.parametrize(
    ("amount_minor", "unit", "shown"),
    [
        (550, Unit.GBP, "£5.50"),
        (5, Unit.GBP, "£0.05"),
        (-5, Unit.GBP, "-£0.05"),
        (123456789, Unit.GBP, "£1,234,567.89"),
        (90, Unit.HOUR, "1 h 30 min"),
        (45, Unit.HOUR, "45 min"),
        (120, Unit.HOUR, "2 h"),
        (0, Unit.HOUR, "0 min"),
        (-600, Unit.HOUR, "-10 h"),
        (1, Unit.POINT, "1 point"),
        (40, "POINT", "40 points"),
    ],
)
def test_amounts_read_as_people_write_them(amount_minor: int, unit: Unit, shown: str) -> None:
    assert format_amount(amount_minor, unit) == shown
