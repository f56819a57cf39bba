"""Spending at an outlet: entitlements of a scanned card, redemptions, refunds and two-phase holds."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView

from api.auth import current_principal, idempotency_key, requires
from api.blueprint import Blueprint
from api.context import ctx
from api.limits import card_lookup
from api.resources.value_schemas import (
    CaptureSchema,
    EntitlementsSchema,
    HoldResolutionSchema,
    HoldSchema,
    RefundSchema,
    ResolutionSchema,
    SpendReceiptSchema,
    SpendSchema,
)
from api.spend_writes import spend_write
from ledger.usecases.api_keys import Principal
from ledger.usecases.entitlements import entitlements
from ledger.usecases.redemption_batch import BatchedRedemption
from ledger.usecases.redemptions import SpendRequest, place_hold, redeem, refund, resolve

blueprint = Blueprint("redemptions", __name__, description="Spending at outlets: redemptions, refunds, holds")


def _outlet(principal: Principal) -> str:
    assert principal.outlet_id is not None, "device keys are always bound to an outlet"
    return principal.outlet_id


def _spend_request(body: dict[str, Any], principal: Principal) -> SpendRequest:
    return SpendRequest(
        card_token=body["card_token"],
        amount_minor=body["amount_minor"],
        outlet_id=_outlet(principal),
        scheme=body.get("scheme"),
        unit=body.get("unit"),
    )


@blueprint.route("/cards/<token>/entitlements")
class Entitlements(MethodView):
    """What a card may spend here."""

    @card_lookup()
    @requires("device")
    @blueprint.response(200, EntitlementsSchema)
    def get(self, token: str) -> dict[str, Any]:
        """Per scheme this outlet accepts: available here, limits and what is left today, lots."""
        principal, context = current_principal(), ctx()
        now = context.clock.now()
        return context.read(
            lambda uow: entitlements(
                uow,
                keyring=context.keyring,
                token=token,
                outlet_id=_outlet(principal),
                now=now,
                zone=context.clock.zone,
            )
        )


@blueprint.route("/redemptions")
class Redemptions(MethodView):
    """Spending at the calling outlet."""

    @card_lookup()
    @requires("device")
    @blueprint.arguments(SpendSchema)
    @blueprint.response(201, SpendReceiptSchema)
    def post(self, body: dict[str, Any]) -> dict[str, Any]:
        """Redeem (not-allowed-here, limit-exceeded, card-blocked, invalid-token); needs Idempotency-Key.

        410 vouchers-expired when only value past its expiry (not yet swept) could cover it: the detail
        says on which day it expired, and expired_at and expired_minor say it for machines."""
        principal, key, context = current_principal(), idempotency_key(), ctx()
        now = context.clock.now()
        request = _spend_request(body, principal)
        batched = BatchedRedemption(request, context.keyring, now, context.clock.zone, principal.actor, key)
        return spend_write(
            lambda uow: redeem(
                uow,
                request=request,
                keyring=context.keyring,
                now=now,
                zone=context.clock.zone,
                actor=principal.actor,
                key=key,
            ),
            batched,
        )


@blueprint.route("/redemptions/<id>/refund")
class Refund(MethodView):
    """Reversing a redemption."""

    @requires("device", "finance")
    @blueprint.arguments(RefundSchema)
    @blueprint.response(201, ResolutionSchema)
    def post(self, body: dict[str, Any], id: str) -> dict[str, Any]:
        """Refund within the scheme's window (expired after it; 409 when already refunded)."""
        principal, key, context = current_principal(), idempotency_key(), ctx()
        now = context.clock.now()
        outlet_id = principal.outlet_id if principal.role == "device" else None
        return context.write(
            lambda uow: refund(
                uow,
                transaction_id=id,
                outlet_id=outlet_id,
                reason=body["reason"],
                now=now,
                zone=context.clock.zone,
                actor=principal.actor,
                key=key,
            )
        )


@blueprint.route("/holds")
class Holds(MethodView):
    """Two-phase spends."""

    @card_lookup()
    @requires("device")
    @blueprint.arguments(HoldSchema)
    @blueprint.response(201, SpendReceiptSchema)
    def post(self, body: dict[str, Any]) -> dict[str, Any]:
        """Reserve a spend under the same rules as a redemption; it times out after timeout_seconds, and
        from that instant its funds are the card's again (capture is then 410 expired)."""
        principal, key, context = current_principal(), idempotency_key(), ctx()
        now = context.clock.now()
        request = _spend_request(body, principal)
        return spend_write(
            lambda uow: place_hold(
                uow,
                request=request,
                timeout_seconds=body["timeout_seconds"],
                keyring=context.keyring,
                now=now,
                zone=context.clock.zone,
                actor=principal.actor,
                key=key,
            )
        )


def _resolve(hold_id: str, capture_minor: int) -> dict[str, Any]:
    principal, key, context = current_principal(), idempotency_key(), ctx()
    now = context.clock.now()
    return context.write(
        lambda uow: resolve(
            uow,
            hold_id=hold_id,
            capture_minor=capture_minor,
            outlet_id=_outlet(principal),
            now=now,
            actor=principal.actor,
            key=key,
        )
    )


@blueprint.route("/holds/<id>/capture")
class Capture(MethodView):
    """Taking a hold."""

    @requires("device")
    @blueprint.arguments(CaptureSchema)
    @blueprint.response(201, HoldResolutionSchema)
    def post(self, body: dict[str, Any], id: str) -> dict[str, Any]:
        """Capture up to the held amount at the outlet that placed it; the rest returns to the wallet."""
        return _resolve(id, body["amount_minor"])


@blueprint.route("/holds/<id>/void")
class Void(MethodView):
    """Releasing a hold."""

    @requires("device")
    @blueprint.response(201, HoldResolutionSchema)
    def post(self, id: str) -> dict[str, Any]:
        """Release the whole hold back to the wallet."""
        return _resolve(id, 0)
