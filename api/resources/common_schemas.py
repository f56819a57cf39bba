"""Schemas shared by several resources: receipts and transactions."""

from __future__ import annotations

from marshmallow import Schema, fields


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
