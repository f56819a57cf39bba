"""Marshmallow schemas for issuing, earning, transferring and spending value (documented in the OpenAPI)."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from api.fields import StrictInteger, amount_field
from api.pagination import page_schema
from api.resources.common_schemas import ReceiptSchema, Rfc3339
from api.resources.scheme_schemas import SHORT, StrictSchema
from ledger.usecases.earnings import MAX_QUANTITY
from ledger.usecases.holds import MAX_HOLD_TIMEOUT_SECONDS
from ledger.usecases.redemptions import DEFAULT_HOLD_TIMEOUT_SECONDS

ID = validate.Length(min=1, max=64)
TOKEN = validate.Length(min=1, max=512)
UNITS = validate.OneOf(["GBP", "HOUR", "POINT"])


def _one_of(data: dict[str, Any], *names: str) -> None:
    if sum(data.get(name) is not None for name in names) != 1:
        raise ValidationError(f"give exactly one of {', '.join(names)}", names[0])


class IssuanceSchema(StrictSchema):
    """Credit one member; amount, category and expiry default from the scheme's rules."""

    scheme = fields.String(required=True, validate=SHORT)
    resident_id = fields.String(required=True, validate=ID)
    amount_minor = amount_field()  # default: rules.issuing (or the series purpose's amount)
    purpose = fields.String(validate=SHORT, metadata={"description": "series schemes: the voucher's purpose"})
    category = fields.String(validate=SHORT)
    expires_at = Rfc3339(metadata={"description": "RFC 3339 with an offset; default: rules.expiry"})


class BulkIssuanceSchema(StrictSchema):
    """An allowance to every eligible member of a scheme."""

    scheme = fields.String(required=True, validate=SHORT)
    amount_minor = amount_field()
    purpose = fields.String(validate=SHORT)
    category = fields.String(validate=SHORT)
    expires_at = Rfc3339(metadata={"description": "RFC 3339 with an offset; default: rules.expiry"})


class JobAcceptedSchema(Schema):
    """A job was queued (or, for a retry, found and resumed)."""

    job_id = fields.String()
    kind = fields.String()
    status = fields.String(metadata={"description": "queued, running, succeeded or failed"})
    total = fields.Integer(metadata={"description": "members enrolled when the job was accepted"})
    period = fields.String(
        allow_none=True,
        metadata={
            "description": "a recurring allowance: the council's period it pays for (e.g. month:2026-11-01); "
            "each member is paid once in it, whatever the Idempotency-Key"
        },
    )
    already_paid = fields.Integer(
        metadata={"description": "members already paid for this period when the job was accepted"}
    )
    status_url = fields.String()


class JobSchema(Schema):
    """A job and its progress."""

    id = fields.String()
    kind = fields.String()
    status = fields.String(
        metadata={"description": "queued, running, succeeded or failed (the same request again resumes it)"}
    )
    total = fields.Integer()
    done = fields.Integer(metadata={"description": "members dealt with so far, of total"})
    paid = fields.Integer(metadata={"description": "members this job paid"})
    already_paid = fields.Integer(metadata={"description": "members another run had paid for this period"})
    refused = fields.Integer(metadata={"description": "members passed over (see refused_url)"})
    error = fields.String(
        allow_none=True, metadata={"description": "why a failed job stopped (a problem type)"}
    )
    period = fields.String(allow_none=True)
    scheme = fields.String(allow_none=True)
    amount_minor = fields.Integer(allow_none=True)
    refused_url = fields.String(metadata={"description": "the refused members, with reasons, page by page"})
    result = fields.Dict(
        allow_none=True,
        metadata={"description": "the job's parameters and counts (error_detail says why in words)"},
    )
    created_by = fields.String()
    created_at = fields.DateTime()
    finished_at = fields.DateTime(allow_none=True)


class JobRefusalSchema(Schema):
    """A member a job passed over."""

    resident_id = fields.String()
    problem = fields.String(metadata={"description": "a problem type, e.g. not-eligible"})
    reason = fields.String(metadata={"description": "why, in words"})


JobRefusalPageSchema = page_schema(JobRefusalSchema, "JobRefusalPage")


class EarningSchema(StrictSchema):
    """An earning event for a resident named by id or by a scanned card."""

    scheme = fields.String(required=True, validate=SHORT)
    event_type = fields.String(required=True, validate=SHORT)
    resident_id = fields.String(validate=ID)
    card_token = fields.String(validate=TOKEN)
    quantity = StrictInteger(
        validate=validate.Range(min=1, max=MAX_QUANTITY),
        metadata={"description": "required when the rule earns per quantity (e.g. minutes volunteered)"},
    )

    @validates_schema
    def _who(self, data: dict[str, Any], **kwargs: Any) -> None:
        _one_of(data, "resident_id", "card_token")


class TransferSchema(StrictSchema):
    """Member to member; each party by resident id or card token."""

    scheme = fields.String(required=True, validate=SHORT)
    amount_minor = amount_field(required=True)
    from_resident_id = fields.String(validate=ID)
    from_card_token = fields.String(validate=TOKEN)
    to_resident_id = fields.String(validate=ID)
    to_card_token = fields.String(validate=TOKEN)
    note = fields.String(validate=validate.Length(max=200))

    @validates_schema
    def _parties(self, data: dict[str, Any], **kwargs: Any) -> None:
        _one_of(data, "from_resident_id", "from_card_token")
        _one_of(data, "to_resident_id", "to_card_token")


class SpendSchema(StrictSchema):
    """A spend at the calling outlet: card, amount, and the scheme or the unit."""

    card_token = fields.String(required=True, validate=TOKEN)
    amount_minor = amount_field(required=True)
    scheme = fields.String(validate=SHORT)
    unit = fields.String(
        validate=UNITS, metadata={"description": "without scheme: the first scheme (by slug) that can pay"}
    )

    @validates_schema
    def _what(self, data: dict[str, Any], **kwargs: Any) -> None:
        if data.get("scheme") is None and data.get("unit") is None:
            raise ValidationError("give the scheme or the unit", "scheme")


class HoldSchema(SpendSchema):
    """A two-phase spend: reserve now, capture or void later."""

    timeout_seconds = StrictInteger(
        load_default=DEFAULT_HOLD_TIMEOUT_SECONDS,
        validate=validate.Range(min=1, max=MAX_HOLD_TIMEOUT_SECONDS),
    )


class CaptureSchema(StrictSchema):
    """How much of a hold to take; the rest goes back to the wallet."""

    amount_minor = amount_field(required=True)


class RefundSchema(StrictSchema):
    """Why a redemption is refunded (optional)."""

    reason = fields.String(load_default="", validate=validate.Length(max=200))


class TakenLotSchema(Schema):
    """A lot a spend drew on."""

    lot_account_id = fields.String()
    amount_minor = fields.Integer()
    category = fields.String(allow_none=True)
    expires_at = fields.String(allow_none=True)


class IssuanceReceiptSchema(ReceiptSchema):
    """What an issuance did."""

    scheme = fields.String()
    resident_id = fields.String()
    category = fields.String(allow_none=True)
    expires_at = fields.String(allow_none=True)
    rule_version = fields.Integer()


class EarningReceiptSchema(IssuanceReceiptSchema):
    """What an earning event credited, after caps."""

    event_type = fields.String()
    requested_minor = fields.Integer()
    credited_minor = fields.Integer()
    capped = fields.Boolean()


class TransferReceiptSchema(ReceiptSchema):
    """What a transfer did."""

    scheme = fields.String()
    from_resident_id = fields.String()
    to_resident_id = fields.String()
    rule_version = fields.Integer()


class SpendReceiptSchema(ReceiptSchema):
    """What a redemption (or hold) took, from which lots, and what is left."""

    taken = fields.List(fields.Nested(TakenLotSchema))
    remaining_here_minor = fields.Integer(
        metadata={
            "description": "after this spend: what is left to spend at this outlet in this scheme (lots of "
            "other purposes left out; per-day limits not applied: see entitlements max_spend_now_minor)"
        }
    )
    remaining_in_scheme_minor = fields.Integer(
        metadata={"description": "after this spend: the whole wallet in this scheme, every purpose"}
    )
    scheme = fields.String()
    outlet_id = fields.String()
    card_number = fields.String()
    rule_version = fields.Integer()
    status = fields.String(metadata={"description": "holds: pending"})
    expires_at = fields.String(metadata={"description": "holds: when the hold times out"})


class ResolutionSchema(ReceiptSchema):
    """A refund."""

    status = fields.String()
    outlet_id = fields.String(allow_none=True)
    refund_window_days = fields.Integer()


class ReturnedLotSchema(Schema):
    """A lot a resolved hold gave funds back to."""

    lot_account_id = fields.String()
    amount_minor = fields.Integer()


class HoldResolutionSchema(Schema):
    """A capture or void: what the outlet was paid, and what went back to the card (and to which lots)."""

    transaction_id = fields.String()
    kind = fields.String(metadata={"description": "capture or void"})
    hold_id = fields.String()
    unit = fields.String()
    amount_minor = fields.Integer(metadata={"description": "the amount captured (0 for a void)"})
    captured_minor = fields.Integer(metadata={"description": "paid to the outlet"})
    returned_minor = fields.Integer(metadata={"description": "the rest of the hold, back on the card"})
    returned_to = fields.List(fields.Nested(ReturnedLotSchema))
    recorded_at = fields.String()
    status = fields.String(metadata={"description": "captured or voided"})
    outlet_id = fields.String(allow_none=True)


class EntitlementLotSchema(Schema):
    """A lot spendable here."""

    category = fields.String(allow_none=True)
    expires_at = fields.String(allow_none=True)
    available_minor = fields.Integer()


class ExpiredLotSchema(Schema):
    """A lot of a purpose spendable here that is past its expiry but still holds value (not yet swept)."""

    category = fields.String(allow_none=True)
    expired_at = fields.String(metadata={"description": "RFC 3339: the instant it stopped being spendable"})
    amount_minor = fields.Integer(metadata={"description": "what it still holds, which cannot be spent"})


class SchemeEntitlementSchema(Schema):
    """What may be spent here from one scheme."""

    scheme = fields.String()
    name = fields.String()
    unit = fields.String()
    rule_version = fields.Integer()
    available_minor = fields.Integer()
    max_spend_now_minor = fields.Integer()
    per_transaction_limit_minor = fields.Integer(allow_none=True)
    per_day_limit_minor = fields.Integer(allow_none=True)
    spent_today_minor = fields.Integer()
    left_today_minor = fields.Integer(allow_none=True)
    partial_spend = fields.Boolean()
    offline_floor_limit_minor = fields.Integer()
    refund_window_days = fields.Integer()
    lots = fields.List(fields.Nested(EntitlementLotSchema))
    expired = fields.List(
        fields.Nested(ExpiredLotSchema),
        metadata={
            "description": "lots for this outlet's purposes past their expiry, not yet returned by the "
            "expiry job; a spend only they could cover is 410 vouchers-expired"
        },
    )


class EntitlementsSchema(Schema):
    """What a card may spend at the calling outlet, by scheme."""

    card_number = fields.String()
    outlet_id = fields.String()
    at = fields.String()
    schemes = fields.List(fields.Nested(SchemeEntitlementSchema))
