"""Units of value and kinds of account."""

from __future__ import annotations

import enum


class Unit(enum.StrEnum):
    """A unit of value; amounts are always integers in the unit's minor unit."""

    GBP = "GBP"
    HOUR = "HOUR"
    POINT = "POINT"

    @property
    def decimals(self) -> int:
        """Digits after the point when shown to people (HOUR is stored in minutes)."""
        return {"GBP": 2, "HOUR": 0, "POINT": 0}[self.value]

    @property
    def minor_name(self) -> str:
        """What one minor unit is called."""
        return {"GBP": "pence", "HOUR": "minutes", "POINT": "points"}[self.value]

    @property
    def minor_per_major(self) -> int:
        """Minor units in one major unit (100 pence, 60 minutes, 1 point)."""
        return {"GBP": 100, "HOUR": 60, "POINT": 1}[self.value]


class AccountKind(enum.StrEnum):
    """What an account is for; decides its default balance constraint."""

    EXTERNAL = "external"  # the bank, Stripe: money from outside; no constraint
    BUDGET = "budget"  # a scheme's budget: never below zero
    LOT = "lot"  # a resident's or collective's lot in a scheme: never below its floor
    PAYABLE = "payable"  # owed to an outlet; credited by every redemption there; no constraint
    HOLD = "hold"  # funds reserved by a pending hold
    RISK = "risk"  # a scheme's offline-risk account; no constraint


# Largest absolute amount accepted in one posting: well inside a signed 64-bit column even when summed
# over millions of postings, and far beyond any voucher (£10 billion in pence).
MAX_AMOUNT_MINOR = 10**12


def format_amount(amount_minor: int, unit: Unit | str) -> str:
    """An amount as people read it: £5.50, -£0.05, 1 h 30 min, 45 min, 1 point, 40 points."""
    unit = Unit(unit)
    sign = "-" if amount_minor < 0 else ""
    magnitude = abs(amount_minor)
    if unit is Unit.GBP:
        pounds, pence = divmod(magnitude, 100)
        return f"{sign}£{pounds:,}.{pence:02d}"
    if unit is Unit.HOUR:
        hours, minutes = divmod(magnitude, 60)
        if hours and minutes:
            return f"{sign}{hours:,} h {minutes} min"
        return f"{sign}{hours:,} h" if hours else f"{sign}{minutes} min"
    return f"{sign}{magnitude:,} point" + ("" if magnitude == 1 else "s")
