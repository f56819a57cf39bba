"""Settlement batches: finance makes one for a period, a second finance user approves it, then payout."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView

from api.auth import idempotency_key, requires
from api.blueprint import Blueprint
from api.context import ctx
from api.pagination import PageQuery, page
from api.resources.settlement_schemas import (
    SettlementBatchSchema,
    SettlementPageSchema,
    SettlementRequestSchema,
)
from api.staff_requests import current_actor
from clubcard import settlement_runs
from ledger.usecases.settlements import SettlementBatch, list_settlements

blueprint = Blueprint("settlements", __name__, description="Paying outlets what they redeemed")


@blueprint.route("/settlements")
class Settlements(MethodView):
    """Settlement batches."""

    @requires("finance")
    @blueprint.arguments(SettlementRequestSchema)
    @blueprint.response(201, SettlementBatchSchema)
    def post(self, body: dict[str, Any]) -> SettlementBatch:
        """Make a batch of every outlet's payable up to period_end (negative lines are carried)."""
        return settlement_runs.create(ctx(), body["period_end"], current_actor(), idempotency_key())

    @requires("finance", "admin", "auditor")
    @blueprint.arguments(PageQuery, location="query")
    @blueprint.response(200, SettlementPageSchema)
    def get(self, query: dict[str, Any]) -> dict[str, Any]:
        """Batches newest first; `starting_after` is the last batch id of the previous page."""
        return page(
            lambda limit, after: ctx().read(
                lambda uow: list_settlements(uow, limit=limit, starting_after=after)
            ),
            query,
        )


@blueprint.route("/settlements/<id>")
class Settlement(MethodView):
    """One batch."""

    @requires("finance", "admin", "auditor")
    @blueprint.response(200, SettlementBatchSchema)
    def get(self, id: str) -> SettlementBatch:
        """The batch and its lines."""
        return settlement_runs.read(ctx(), id)


@blueprint.route("/settlements/<id>/approve")
class SettlementApproval(MethodView):
    """The second person's approval."""

    @requires("finance")
    @blueprint.response(200, SettlementBatchSchema)
    def post(self, id: str) -> SettlementBatch:
        """Approve (not the creator: 403 two-person-rule), then pay out by Stripe when it is set up."""
        return settlement_runs.approve(ctx(), id, current_actor(), idempotency_key())


@blueprint.route("/settlements/<id>/paid")
class SettlementPaid(MethodView):
    """Payment-file batches: the bank paid the file."""

    @requires("finance")
    @blueprint.response(200, SettlementBatchSchema)
    def post(self, id: str) -> SettlementBatch:
        """Confirm the payment file was paid: clearing → bank."""
        return settlement_runs.confirm_paid(ctx(), id, current_actor(), idempotency_key())
