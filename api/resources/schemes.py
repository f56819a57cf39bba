"""Units and schemes: create from data, read, new rule versions, fund the budget."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView

from api.auth import STAFF, idempotency_key, requires
from api.blueprint import Blueprint
from api.context import ctx
from api.pagination import PageQuery, page, page_schema
from api.resources.common_schemas import ReceiptSchema
from api.resources.scheme_schemas import (
    FundingSchema,
    RulesSchema,
    SchemeCreateSchema,
    SchemeSchema,
    SchemeUpdateSchema,
    UnitSchema,
)
from api.staff_requests import current_actor, optional_idempotency_key
from ledger.kinds import TransactionKind
from ledger.ports import UnitOfWork
from ledger.receipts import Receipt
from ledger.rules import parse_rules
from ledger.units import Unit
from ledger.usecases.requests import receipt_data
from ledger.usecases.scheme_overview import fund_scheme
from ledger.usecases.schemes import create_scheme, get_scheme, list_schemes, scheme_view, update_rules

blueprint = Blueprint("schemes", __name__, description="Units, schemes, rules and budgets")


@blueprint.route("/units")
class Units(MethodView):
    """The units of value."""

    @requires("admin", "scheme_manager", "caseworker", "finance", "auditor", "device")
    @blueprint.response(200, UnitSchema(many=True))
    def get(self) -> list[dict[str, Any]]:
        """List the units (GBP, HOUR, POINT) with their decimals."""
        return [
            {
                "code": u.value,
                "decimals": u.decimals,
                "minor_unit": u.minor_name,
                "minor_per_major": u.minor_per_major,
            }
            for u in Unit
        ]


def _rules_data(rules: dict[str, Any]) -> dict[str, Any]:
    data: dict[str, Any] = RulesSchema().dump(rules)
    parse_rules(data)  # semantic checks (contradictions) beyond the schema
    return data


@blueprint.route("/schemes")
class Schemes(MethodView):
    """Schemes are data: staff create them, never code."""

    @requires(*STAFF)
    @blueprint.arguments(PageQuery, location="query")
    @blueprint.response(200, page_schema(SchemeSchema, "SchemePage"))
    def get(self, query: dict[str, Any]) -> dict[str, Any]:
        """List schemes with their current rule version and budget balance."""
        return ctx().read(
            lambda uow: page(lambda limit, after: list_schemes(uow, limit=limit, after=after), query)
        )

    @requires("admin", "scheme_manager")
    @blueprint.arguments(SchemeCreateSchema)
    @blueprint.response(201, SchemeSchema)
    def post(self, body: dict[str, Any]) -> dict[str, Any]:
        """Create a scheme from data: unit and rules (eligibility, issuing, earning, spending, expiry).
        The slug taken → 409, unless it is a retry with the same Idempotency-Key (then the first answer)."""
        actor, key = current_actor(), optional_idempotency_key()
        rules = _rules_data(body["rules"])
        return ctx().write(
            lambda uow: create_scheme(
                uow,
                slug=body["slug"],
                name=body["name"],
                unit=Unit(body["unit"]),
                rules=rules,
                now=ctx().clock.now(),
                actor=actor,
                idempotency_key=key,
            )
        )


@blueprint.route("/schemes/<slug>")
class SchemeItem(MethodView):
    """One scheme."""

    @requires(*STAFF)
    @blueprint.response(200, SchemeSchema)
    def get(self, slug: str) -> dict[str, Any]:
        """Read a scheme with its current rules and budget balance."""
        return ctx().read(lambda uow: scheme_view(uow, get_scheme(uow, slug)))

    @requires("admin", "scheme_manager")
    @blueprint.arguments(SchemeUpdateSchema)
    @blueprint.response(200, SchemeSchema)
    def patch(self, body: dict[str, Any], slug: str) -> dict[str, Any]:
        """Make a new rule version current; past transactions keep the version they were checked against.
        With an Idempotency-Key a retry gets the version it made, never one more."""
        actor, key = current_actor(), optional_idempotency_key()
        rules = _rules_data(body["rules"])
        return ctx().write(
            lambda uow: update_rules(
                uow,
                slug=slug,
                rules=rules,
                name=body.get("name"),
                now=ctx().clock.now(),
                actor=actor,
                idempotency_key=key,
            )
        )


@blueprint.route("/schemes/<slug>/funding")
class Funding(MethodView):
    """Adding to a scheme budget."""

    @requires("finance")
    @blueprint.arguments(FundingSchema)
    @blueprint.response(201, ReceiptSchema)
    def post(self, body: dict[str, Any], slug: str) -> dict[str, Any]:
        """Add to the scheme budget (bank → budget), in the staff log as the staff UI's funding is."""
        actor, key = current_actor(), idempotency_key()

        def operation(uow: UnitOfWork) -> dict[str, Any]:
            funded = fund_scheme(
                uow,
                slug=slug,
                amount_minor=body["amount_minor"],
                reference=body.get("reference") or None,
                now=ctx().clock.now(),
                actor=actor,
                key=key,
                unit=body.get("unit"),
            )
            receipt = Receipt(
                funded.transaction_id,
                TransactionKind.FUND,
                funded.unit,
                funded.amount_minor,
                funded.recorded_at,
            )
            return receipt_data(receipt)

        return ctx().write(operation)
