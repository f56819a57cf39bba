"""Schemas and fields shared by several resources: receipts, transactions, and instants."""

from __future__ import annotations

import datetime as dt
from typing import Any

from marshmallow import Schema, ValidationError, fields, validate

from ledger.clock import parse_rfc3339, rfc3339
from ledger.errors import ValidationFailed


class Rfc3339(fields.DateTime):
    """An instant in a request: RFC 3339 with an explicit offset (Z or ±hh:mm), loaded as aware UTC.

    The one way the API reads a timestamp (ledger.clock.parse_rfc3339), so every field and query
    parameter refuses the same things: no offset, other ISO 8601 forms, and instants that fall outside
    the years 1 to 9999 once in UTC (9999-12-31T23:59:59-14:00). Documented as format date-time.
    """

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> dt.datetime:
        try:
            return parse_rfc3339(value)
        except ValidationFailed as error:
            raise ValidationError(error.detail) from error

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> str | None:
        return None if value is None else rfc3339(value)


class ReceiptSchema(Schema):
    """What a ledger write did."""

    transaction_id = fields.String()
    kind = fields.String()
    unit = fields.String()
    amount_minor = fields.Integer()
    recorded_at = fields.String()
    taken = fields.List(
        fields.Dict(), metadata={"description": "lots drawn on: lot_account_id, amount_minor"}
    )
    balance_after_minor = fields.Integer(allow_none=True)
    lot_account_id = fields.String(allow_none=True)
    reverses_id = fields.String(allow_none=True)
    hold_id = fields.String(allow_none=True)


class OneLine(validate.Validator):
    """Text that is one line: names, slugs, categories. (Other control characters never get this far:
    api.json_body refuses them in every string; tab and line breaks are left for free text.)"""

    error = "must be one line: no tabs or line breaks"

    def __call__(self, value: Any) -> Any:
        """Refuse a tab, line feed or carriage return."""
        if isinstance(value, str) and any(character in value for character in "\t\n\r"):
            raise ValidationError(self.error)
        return value


ONE_LINE = OneLine()
