"""Marshmallow schemas for top-ups and the Stripe webhook (documented in the OpenAPI)."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from api.fields import amount_field
from api.resources.scheme_schemas import SHORT, StrictSchema

CARD_NUMBER = validate.Length(min=1, max=32)
URL = validate.URL(schemes={"http", "https"}, require_tld=False)


class TopUpCreateSchema(StrictSchema):
    """Add money to a card's wallet in a scheme that accepts top-ups: pence, in pounds schemes only."""

    card_number = fields.String(required=True, validate=CARD_NUMBER)
    scheme = fields.String(required=True, validate=SHORT)
    amount_minor = amount_field(required=True)
    unit = fields.String(validate=validate.Equal("GBP", error="top-ups are in pounds: GBP"))
    success_url = fields.String(
        validate=[URL, validate.Length(max=2000)],
        metadata={"description": "where Stripe sends the payer afterwards (default: our 'confirming' page)"},
    )
    cancel_url = fields.String(
        validate=[URL, validate.Length(max=2000)],
        metadata={"description": "where Stripe sends a payer who gives up (default: our 'not paid' page)"},
    )


class TopUpSchema(Schema):
    """A top-up: pending until Stripe's verified webhook says it was paid (completed) or expired."""

    topup_id = fields.String()
    status = fields.String(metadata={"description": "pending, completed or expired"})
    card_number = fields.String()
    scheme = fields.String()
    amount_minor = fields.Integer()
    unit = fields.String()
    checkout_session_id = fields.String()
    checkout_url = fields.String(metadata={"description": "the Stripe Checkout page to pay on"})
    created_at = fields.String(metadata={"description": "RFC 3339"})


class WebhookReceiptSchema(Schema):
    """What we did with a Stripe event: applied, duplicate (already applied) or ignored."""

    received = fields.Boolean()
    event_id = fields.String()
    type = fields.String()
    outcome = fields.String()
    detail = fields.String()
