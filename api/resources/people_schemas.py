"""Marshmallow schemas for residents, their cards and scheme memberships (documented in the OpenAPI)."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from api.pagination import page_schema
from api.resources.scheme_schemas import StrictSchema
from ledger.usecases.residents import RESIDENT_KINDS

UUID_TEXT = validate.Regexp(
    r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", error="not a resident id"
)
PLAIN_TEXT = validate.Regexp(r"^[^\x00-\x1f\x7f]*$", error="control characters are not allowed")


def text(min_length: int, max_length: int) -> list[validate.Validator]:
    """Printable text of a bounded length."""
    return [validate.Length(min=min_length, max=max_length), PLAIN_TEXT]


PSEUDONYM = "the resident's pseudonymous id (a random UUID): the only id the ledger sees"


class ResidentCreateSchema(StrictSchema):
    """A resident to enrol: kind plus personal details, which are stored apart from the ledger."""

    kind = fields.String(required=True, validate=validate.OneOf(RESIDENT_KINDS))
    name = fields.String(required=True, validate=text(1, 200))
    date_of_birth = fields.Date(
        allow_none=True, metadata={"description": "YYYY-MM-DD; required for a person"}
    )
    postcode = fields.String(
        allow_none=True, validate=validate.Regexp(r"^[A-Za-z0-9 ]{2,10}$", error="not a postcode")
    )
    ward = fields.String(allow_none=True, validate=text(1, 64))
    contact = fields.String(allow_none=True, validate=text(1, 200))

    @validates_schema
    def person_needs_birth_date(self, data: dict[str, Any], **kwargs: Any) -> None:
        """A person's age decides eligibility, so their date of birth is required."""
        if data.get("kind") == "person" and data.get("date_of_birth") is None:
            raise ValidationError("a person needs a date of birth", "date_of_birth")


class DetailsSchema(Schema):
    """Personal details: shown to caseworkers and admins only, and erasable."""

    name = fields.String()
    date_of_birth = fields.String(allow_none=True)
    postcode = fields.String(allow_none=True)
    ward = fields.String(allow_none=True)
    contact = fields.String(allow_none=True)


class CardSchema(Schema):
    """A card (never its token)."""

    number = fields.String()
    status = fields.String(
        validate=validate.OneOf(("active", "blocked", "replaced")),
        metadata={"description": "active; blocked (lost, not replaced yet); or replaced (see replaced_by)"},
    )
    resident_id = fields.String()
    key_id = fields.String()
    issued_at = fields.DateTime()
    blocked = fields.Boolean()
    blocked_at = fields.DateTime(allow_none=True)
    replaced_by = fields.String(allow_none=True, metadata={"description": "the replacement card's number"})


class IssuedCardSchema(Schema):
    """A newly issued card with the signed token its QR code carries."""

    number = fields.String()
    resident_id = fields.String()
    token = fields.String(metadata={"description": "the signed QR token (verifiable offline)"})
    key_id = fields.String()
    issued_at = fields.DateTime()
    qr_png_url = fields.String()
    qr_svg_url = fields.String()
    card_pdf_url = fields.String()
    replaces = fields.String(allow_none=True, metadata={"description": "the blocked card it replaces"})


class MemberCreateSchema(StrictSchema):
    """A resident to enrol in a scheme."""

    resident_id = fields.String(required=True, validate=UUID_TEXT, metadata={"description": PSEUDONYM})
    referral = fields.String(allow_none=True, validate=text(0, 200))
    collective_id = fields.String(
        allow_none=True, validate=UUID_TEXT, metadata={"description": "the street a household belongs to"}
    )
    as_of = fields.Date(
        allow_none=True, metadata={"description": "YYYY-MM-DD the age band is checked on (default today)"}
    )


class MemberSchema(Schema):
    """A scheme membership as listed (free-text referrals are not shown in lists)."""

    resident_id = fields.String()
    scheme = fields.String()
    scheme_id = fields.String()
    collective_id = fields.String(allow_none=True)
    has_referral = fields.Boolean()
    enrolled_at = fields.DateTime()
    enrolled_by = fields.String()


class MembershipSchema(MemberSchema):
    """A scheme membership with its referral."""

    scheme_name = fields.String()
    unit = fields.String()
    referral = fields.String(allow_none=True)


class EnrolledSchema(MembershipSchema):
    """A new membership and the rule version and date its eligibility was checked against."""

    rule_version = fields.Integer()
    eligible_on = fields.Date()


class LotSchema(Schema):
    """A lot in a wallet: value with its own category and expiry."""

    account_id = fields.String()
    category = fields.String(allow_none=True)
    expires_at = fields.DateTime(allow_none=True)
    created_at = fields.DateTime()
    balance_minor = fields.Integer()


class WalletSchema(Schema):
    """A resident's balance in one scheme."""

    scheme = fields.String(allow_none=True)
    scheme_id = fields.String()
    scheme_name = fields.String(allow_none=True)
    unit = fields.String(allow_none=True)
    balance_minor = fields.Integer()


class ExportWalletSchema(WalletSchema):
    """A wallet with its lots."""

    lots = fields.List(fields.Nested(LotSchema))


class ResidentSchema(Schema):
    """A resident: auditors see pseudonymous facts only (no details, cards or referrals)."""

    id = fields.String(metadata={"description": PSEUDONYM})
    kind = fields.String()
    created_at = fields.DateTime()
    erased_at = fields.DateTime(allow_none=True, metadata={"description": "when personal data was erased"})
    details = fields.Nested(DetailsSchema, allow_none=True)
    memberships = fields.List(fields.Nested(MembershipSchema))
    cards = fields.List(fields.Nested(CardSchema))
    wallets = fields.List(fields.Nested(WalletSchema))


class MovementSchema(Schema):
    """A transaction touching the resident's lots, with its net amount on them."""

    id = fields.String()
    kind = fields.String()
    occurred_at = fields.DateTime()
    recorded_at = fields.DateTime()
    reverses_id = fields.String(allow_none=True)
    scheme = fields.String(allow_none=True)
    scheme_id = fields.String()
    unit = fields.String()
    amount_minor = fields.Integer(metadata={"description": "net amount on this resident's lots"})


class ResidentLookupQuery(StrictSchema):
    """?card_number=, or ?name=&date_of_birth= together: exact matches only, never a partial name."""

    card_number = fields.String(
        validate=validate.Length(min=1, max=64),
        metadata={"description": "a card number as printed (spaces, hyphens and the CC- prefix optional)"},
    )
    name = fields.String(
        validate=text(1, 200),
        metadata={"description": "the full name, matched exactly apart from case and spacing"},
    )
    date_of_birth = fields.Date(metadata={"description": "YYYY-MM-DD; required with name"})

    @validates_schema
    def one_way_of_looking_up(self, data: dict[str, Any], **kwargs: Any) -> None:
        """A card number alone, or a name with a date of birth: nothing looser."""
        by_card = "card_number" in data
        by_name = "name" in data or "date_of_birth" in data
        if by_card == by_name:
            raise ValidationError("give card_number, or name and date_of_birth (not both ways at once)")
        if by_name and not ("name" in data and "date_of_birth" in data):
            raise ValidationError("a look-up by name needs date_of_birth too, and the other way round")


class ExportSchema(ResidentSchema):
    """A subject access export."""

    exported_at = fields.DateTime()
    wallets = fields.List(fields.Nested(ExportWalletSchema))
    transactions = fields.List(fields.Nested(MovementSchema))
    transactions_truncated = fields.Boolean()


ResidentMatchesSchema = page_schema(ResidentSchema, "ResidentMatches")
