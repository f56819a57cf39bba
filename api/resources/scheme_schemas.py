"""Marshmallow schemas for schemes and their rules (documented in the OpenAPI)."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from api.fields import StrictInteger, amount_field
from api.resources.common_schemas import ONE_LINE
from ledger.rules import PERIODS

SHORT = [validate.Length(min=1, max=64), ONE_LINE]


class StrictSchema(Schema):
    """Unknown fields are errors, not silently dropped."""

    class Meta:
        """Refuse unknown fields."""

        unknown = "raise"


class EligibilitySchema(StrictSchema):
    """Who may join."""

    min_age = StrictInteger(validate=validate.Range(min=0, max=130), allow_none=True)
    max_age = StrictInteger(validate=validate.Range(min=0, max=130), allow_none=True)
    wards = fields.List(fields.String(validate=SHORT), validate=validate.Length(max=500))
    postcode_prefixes = fields.List(
        fields.String(validate=validate.Length(min=1, max=8)), validate=validate.Length(max=2000)
    )
    referral_required = fields.Boolean()
    resident_kinds = fields.List(
        fields.String(validate=validate.OneOf(["person", "household", "collective"]))
    )


class IssuingSchema(StrictSchema):
    """How value is issued."""

    mode = fields.String(validate=validate.OneOf(["one_off", "recurring", "series", "earned"]))
    amount_minor = amount_field(allow_none=True)
    period = fields.String(validate=validate.OneOf(PERIODS), allow_none=True)
    purposes = fields.Dict(keys=fields.String(validate=SHORT), values=amount_field())


class EarningRuleSchema(StrictSchema):
    """Credits for one event type, with caps."""

    amount_minor = amount_field(required=True)
    per_quantity = fields.Boolean()
    cap_per_day_minor = amount_field(allow_none=True)
    cap_per_week_minor = amount_field(allow_none=True)
    cap_per_period_minor = amount_field(allow_none=True)
    period = fields.String(validate=validate.OneOf(PERIODS))
    collective = fields.Boolean()
    datum_minor = amount_field(allow_none=True)
    requires_role = fields.List(fields.String(validate=SHORT))


class SpendingSchema(StrictSchema):
    """Where and how value may be spent."""

    outlet_categories = fields.List(fields.String(validate=SHORT), validate=validate.Length(max=100))
    purpose_categories = fields.Dict(keys=fields.String(validate=SHORT), values=fields.List(fields.String()))
    per_transaction_limit_minor = amount_field(allow_none=True)
    per_day_limit_minor = amount_field(allow_none=True)
    partial_spend = fields.Boolean()
    transferable = fields.Boolean()
    overdraft_floor_minor = StrictInteger(validate=validate.Range(min=-(10**9), max=0))
    refund_window_days = StrictInteger(validate=validate.Range(min=0, max=365))
    offline_floor_limit_minor = StrictInteger(validate=validate.Range(min=0, max=10**7))


class ExpirySchema(StrictSchema):
    """When issued value expires."""

    fixed_date = fields.Date(allow_none=True)
    days_after_issue = StrictInteger(validate=validate.Range(min=1, max=3650), allow_none=True)


class TopUpsSchema(StrictSchema):
    """Whether money may be added to a card through Stripe Checkout (pounds schemes only): the smallest and
    largest top-up in pence (defaults 100 and 10000) and the most added to one card in a council month,
    pending or paid (none: no cap)."""

    accepted = fields.Boolean()
    min_minor = amount_field()
    max_minor = amount_field()
    cap_per_month_minor = amount_field(allow_none=True)


class RulesSchema(StrictSchema):
    """A scheme's rules."""

    eligibility = fields.Nested(EligibilitySchema)
    issuing = fields.Nested(IssuingSchema)
    earning = fields.Dict(
        keys=fields.String(validate=SHORT),
        values=fields.Nested(EarningRuleSchema),
        validate=validate.Length(max=50),
    )
    spending = fields.Nested(SpendingSchema)
    expiry = fields.Nested(ExpirySchema)
    topups = fields.Nested(TopUpsSchema)


class SchemeCreateSchema(StrictSchema):
    """A new scheme."""

    slug = fields.String(required=True, validate=validate.Regexp(r"\A[a-z0-9][a-z0-9-]{1,62}\Z"))
    name = fields.String(required=True, validate=[validate.Length(min=1, max=200), ONE_LINE])
    unit = fields.String(required=True, validate=validate.OneOf(["GBP", "HOUR", "POINT"]))
    rules = fields.Nested(RulesSchema, load_default=dict)


class SchemeUpdateSchema(StrictSchema):
    """A new rule version (and optionally a new name)."""

    name = fields.String(validate=[validate.Length(min=1, max=200), ONE_LINE])
    rules = fields.Nested(RulesSchema, required=True)


class SchemeSchema(Schema):
    """A scheme as read."""

    id = fields.String()
    slug = fields.String()
    name = fields.String()
    unit = fields.String()
    version = fields.Integer()
    rules = fields.Dict()
    budget_account_id = fields.String()
    budget_balance_minor = fields.Integer()
    created_at = fields.DateTime()


class UnitSchema(Schema):
    """A unit of value."""

    code = fields.String()
    decimals = fields.Integer()
    minor_unit = fields.String()
    minor_per_major = fields.Integer()


class FundingSchema(StrictSchema):
    """Money (or hours, points) added to a scheme budget."""

    amount_minor = amount_field(required=True)
    unit = fields.String(validate=validate.OneOf(["GBP", "HOUR", "POINT"]))
    reference = fields.String(validate=validate.Length(max=200))
