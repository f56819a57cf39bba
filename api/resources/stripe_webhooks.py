"""POST /webhooks/stripe: Stripe's events, verified on the raw body and applied once each by event id."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import stripe
from flask import request
from flask.views import MethodView

from api.blueprint import Blueprint
from api.context import ctx
from api.problems import ApiProblem
from api.resources.topup_schemas import WebhookReceiptSchema
from clubcard.stripe_gateway import NOT_CONFIGURED, WEBHOOK_TOLERANCE_SECONDS
from ledger.errors import StripeNotConfigured
from ledger.usecases.stripe_events import StripeEvent, apply_stripe_event

blueprint = Blueprint(
    "stripe_webhooks", __name__, description="Stripe's signed webhook events (no bearer key: the signature)"
)


def verified_event() -> StripeEvent:
    """The event in the raw body if its Stripe-Signature is ours and fresh; 400 problem otherwise."""
    secret = ctx().settings.stripe_webhook_secret
    if not secret:
        raise StripeNotConfigured(NOT_CONFIGURED)
    raw = request.get_data(cache=True)  # the bytes Stripe signed, before anything parses them
    header = request.headers.get("Stripe-Signature", "")
    try:
        event = stripe.Webhook.construct_event(raw, header, secret, tolerance=WEBHOOK_TOLERANCE_SECONDS)
    except stripe.SignatureVerificationError as error:
        raise ApiProblem(
            400,
            "invalid-signature",
            "the Stripe-Signature does not match this body, or is older than "
            f"{WEBHOOK_TOLERANCE_SECONDS} seconds: nothing was changed",
        ) from error
    except ValueError as error:
        raise ApiProblem(400, "bad-request", "the body is not a Stripe event: nothing was changed") from error
    del event  # verified: read the same bytes as plain JSON (the library's objects are not dicts)
    payload = json.loads(raw)
    data = payload.get("data") if isinstance(payload, dict) else None
    data_object = data.get("object") if isinstance(data, dict) else None
    if not isinstance(payload.get("id"), str) or not isinstance(payload.get("type"), str):
        raise ApiProblem(400, "bad-request", "the event has no id or type: nothing was changed")
    if not isinstance(data_object, dict):
        raise ApiProblem(400, "bad-request", "the event has no data.object: nothing was changed")
    account = payload.get("account")
    return StripeEvent(
        id=payload["id"],
        type=payload["type"],
        data_object=data_object,
        account=account if isinstance(account, str) else None,
    )


@blueprint.route("/webhooks/stripe")
class StripeWebhook(MethodView):
    """Stripe's events."""

    @blueprint.response(200, WebhookReceiptSchema)
    @blueprint.alt_response(400, description="invalid-signature (or not a Stripe event): nothing changed")
    @blueprint.alt_response(503, description="stripe-not-configured: STRIPE_WEBHOOK_SECRET is not set")
    def post(self) -> dict[str, Any]:
        """Verified with STRIPE_WEBHOOK_SECRET (300 s tolerance); a replayed event id changes nothing; an
        event type we do not use is recorded and ignored (200)."""
        event = verified_event()
        context = ctx()
        now = context.clock.now()
        outcome = context.write(lambda uow: apply_stripe_event(uow, event, now))
        return {"received": True, **dataclasses.asdict(outcome)}
