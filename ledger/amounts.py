"""Amounts as people type them (counter and staff forms): pounds and pence, hours and minutes, points."""

from __future__ import annotations

import re

from ledger.units import MAX_AMOUNT_MINOR, Unit

MAX_TYPED_LENGTH = 32
_POUNDS = re.compile(r"£?\s*(\d{1,10})(?:\.(\d{1,2}))?")
_TOO_PRECISE = re.compile(r"£?\s*\d+\.\d{3,}")
_PENCE_ONLY = re.compile(r"(\d{1,3})\s*p")
_CLOCK = re.compile(r"(\d{1,6}):([0-5]\d)")
_HOURS_MINUTES = re.compile(
    r"(?:(\d{1,6})\s*(?:h|hr|hrs|hour|hours))?\s*(?:(\d{1,6})\s*(?:m|min|mins|minute|minutes))?"
)
_DECIMAL_HOURS = re.compile(r"(\d{1,6})(?:\.(\d{1,2}))?")
_POINTS = re.compile(r"(\d{1,12})\s*(?:points?|pts?)?")
EXAMPLES = {
    Unit.GBP: "for example 5.50 or £12",
    Unit.HOUR: "for example 1:30, 1 h 30 min or 45 min",
    Unit.POINT: "for example 40",
}


class AmountNotUnderstood(ValueError):
    """Typed text that is not an amount in the unit; the message says what to type instead."""


def parse_amount(text: str, unit: Unit | str) -> int:
    """The typed amount in minor units (pence, minutes, points); AmountNotUnderstood if it is not one."""
    unit = Unit(unit)
    cleaned = " ".join(text.strip().lower().replace(",", "").split())
    if not cleaned:
        raise AmountNotUnderstood(f"Enter an amount, {EXAMPLES[unit]}")
    if len(cleaned) > MAX_TYPED_LENGTH:
        raise AmountNotUnderstood(f"That amount is too long. Enter it {EXAMPLES[unit]}")
    parsers = {Unit.GBP: _pence, Unit.HOUR: _minutes, Unit.POINT: _points}
    amount = parsers[unit](cleaned)
    if amount is None:
        raise AmountNotUnderstood(f"Enter the amount as a number, {EXAMPLES[unit]}")
    if amount <= 0:
        raise AmountNotUnderstood("The amount must be more than zero")
    if amount > MAX_AMOUNT_MINOR:
        raise AmountNotUnderstood("That amount is too large")
    return amount


def _pence(text: str) -> int | None:
    if _TOO_PRECISE.fullmatch(text):
        raise AmountNotUnderstood("Pounds and pence have at most 2 digits after the point, for example 5.50")
    match = _POUNDS.fullmatch(text)
    if match:
        pounds, pence = match.groups()
        return int(pounds) * 100 + int((pence or "0").ljust(2, "0"))
    match = _PENCE_ONLY.fullmatch(text)
    return int(match.group(1)) if match else None


def _minutes(text: str) -> int | None:
    match = _CLOCK.fullmatch(text)
    if match:
        return int(match.group(1)) * 60 + int(match.group(2))
    match = _HOURS_MINUTES.fullmatch(text)
    if match and any(match.groups()):
        hours, minutes = match.groups()
        return int(hours or 0) * 60 + int(minutes or 0)
    match = _DECIMAL_HOURS.fullmatch(text)
    if match:
        whole, fraction = match.groups()
        # 1.5 hours is 90 minutes; 1.33 hours is not a whole number of minutes, so it is refused.
        hundredths = int(whole) * 100 + int((fraction or "0").ljust(2, "0"))
        minutes, remainder = divmod(hundredths * 60, 100)
        return minutes if remainder == 0 else None
    return None


def _points(text: str) -> int | None:
    match = _POINTS.fullmatch(text)
    return int(match.group(1)) if match else None


def typed_form(amount_minor: int, unit: Unit | str) -> str:
    """An amount as staff would type it back into the form (5.50, 1:30, 40)."""
    unit = Unit(unit)
    if unit is Unit.GBP:
        return f"{amount_minor // 100}.{amount_minor % 100:02d}"
    if unit is Unit.HOUR:
        return f"{amount_minor // 60}:{amount_minor % 60:02d}"
    return str(amount_minor)
