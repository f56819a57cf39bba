"""Top-ups: a sponsor adds money to a card through Stripe Checkout (credited only by Stripe's webhook)."""

from __future__ import annotations

import dataclasses
from typing import Any

from flask import url_for
from flask.views import MethodView

from api.auth import idempotency_key, requires
from api.blueprint import Blueprint
from api.context import ctx
from api.resources.topup_schemas import TopUpCreateSchema, TopUpSchema
from api.staff_requests import current_actor
from clubcard.stripe_checkout import checkout_gateway
from ledger.usecases.topups import ReturnPages, TopUpRequest, read_topup, start_topup

blueprint = Blueprint("topups", __name__, description="Adding money to a card through Stripe Checkout")
SPONSORS = ("admin", "scheme_manager", "caseworker", "finance")  # staff who may act; auditors only read


@blueprint.route("/topups")
class TopUps(MethodView):
    """Starting a top-up."""

    @requires(*SPONSORS)
    @blueprint.arguments(TopUpCreateSchema)
    @blueprint.response(201, TopUpSchema)
    @blueprint.alt_response(503, description="stripe-not-configured: STRIPE_API_KEY is not set")
    @blueprint.alt_response(502, description="payment-provider-error: Stripe could not start the payment")
    def post(self, body: dict[str, Any]) -> dict[str, Any]:
        """A Checkout Session for the amount (topups-not-accepted, limit-exceeded, stripe-not-configured 503);
        nothing is credited until Stripe's verified checkout.session.completed webhook; needs Idempotency-Key.
        """
        actor, key, context = current_actor(), idempotency_key(), ctx()
        pages = ReturnPages(
            success_url=body.get("success_url") or url_for("resident.topup_confirming", _external=True),
            cancel_url=body.get("cancel_url") or url_for("resident.topup_cancelled", _external=True),
        )
        request = TopUpRequest(body["card_number"], body["scheme"], body["amount_minor"])
        started = start_topup(
            context,
            checkout_gateway(context.settings),
            request=request,
            pages=pages,
            now=context.clock.now(),
            zone=context.clock.zone,
            actor=actor,
            key=key,
        )
        return dataclasses.asdict(started)


@blueprint.route("/topups/<id>")
class TopUp(MethodView):
    """One top-up."""

    @requires(*SPONSORS, "auditor")
    @blueprint.response(200, TopUpSchema)
    def get(self, id: str) -> dict[str, Any]:
        """The top-up now: pending, completed (credited) or expired (nothing credited)."""
        return dataclasses.asdict(ctx().read(lambda uow: read_topup(uow, id)))
