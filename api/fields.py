"""Strict marshmallow fields: amounts are JSON integers, nothing else."""

from __future__ import annotations

from typing import Any

from marshmallow import ValidationError, fields

from ledger.units import MAX_AMOUNT_MINOR


class StrictInteger(fields.Integer):
    """A JSON integer only: 2.5, "7", true and 1e3 are refused (1e3 parses as a float in JSON)."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> int:
        if type(value) is not int:
            raise ValidationError("must be a JSON integer (no decimals, strings, booleans or exponents)")
        return int(super()._deserialize(value, attr, data, **kwargs))


def amount_field(**kwargs: Any) -> StrictInteger:
    """A positive amount in minor units."""
    from marshmallow.validate import Range

    return StrictInteger(
        validate=Range(min=1, max=MAX_AMOUNT_MINOR),
        metadata={"description": "integer amount in the unit's minor unit (pence, minutes, points)"},
        **kwargs,
    )
