"""Marshmallow schemas for settlement batches (documented in the OpenAPI)."""

from __future__ import annotations

from marshmallow import Schema, fields

from api.pagination import page_schema
from api.resources.common_schemas import Rfc3339
from api.resources.scheme_schemas import StrictSchema


class SettlementRequestSchema(StrictSchema):
    """A batch for the period ending at `period_end` (it starts where the previous batch ended)."""

    period_end = Rfc3339(required=True, metadata={"description": "RFC 3339 with an offset, in the past"})


class SettlementLineSchema(Schema):
    """One outlet's line: what it is owed and what happened to it."""

    outlet_id = fields.String()
    outlet_name = fields.String()
    amount_minor = fields.Integer()
    unit = fields.Constant("GBP")
    status = fields.String(
        metadata={"description": "to_pay, carried (≤ 0), held, in_clearing, transferred, paid, returned"}
    )
    reason = fields.String(allow_none=True, metadata={"description": "why it is carried or held"})
    destination = fields.String(allow_none=True, metadata={"description": "the Stripe connected account"})
    transfer_id = fields.String(allow_none=True)
    settled_at = Rfc3339(allow_none=True)


class SettlementBatchSchema(Schema):
    """A batch of outlet payables and where it is on its way to the outlets."""

    id = fields.String()
    sequence = fields.Integer()
    period_start = Rfc3339(allow_none=True)
    period_end = Rfc3339()
    mode = fields.String(metadata={"description": "stripe or payment_file"})
    status = fields.String(metadata={"description": "awaiting_approval, paying or paid"})
    created_by = fields.String()
    created_at = Rfc3339()
    approved_by = fields.String(allow_none=True)
    approved_at = Rfc3339(allow_none=True)
    paid_by = fields.String(allow_none=True)
    paid_at = Rfc3339(allow_none=True)
    total_to_pay_minor = fields.Integer()
    lines = fields.List(fields.Nested(SettlementLineSchema))


SettlementPageSchema = page_schema(SettlementBatchSchema, "SettlementPage")
