"""Offline redemptions synced by kiosks, the shortfalls they found, and what a kiosk caches offline."""

from __future__ import annotations

import dataclasses
from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from api.auth import current_principal, idempotency_key, requires
from api.context import ctx
from api.fields import amount_field
from api.pagination import PageQuery, page, page_schema
from api.problems import PROBLEM_BASE, status_of
from api.resources.scheme_schemas import SHORT, StrictSchema
from api.resources.value_schemas import TOKEN
from api.staff_requests import current_actor, optional_idempotency_key
from ledger.usecases import offline_sync
from ledger.usecases.offline_sync import (
    OfflineRedemption,
    offline_profile,
    sync_offline_redemption,
)
from ledger.usecases.shortfall_resolutions import (
    MAX_NOTE_LENGTH,
    resolve_shortfall,
    shortfalls_with_resolutions,
)

blueprint = Blueprint(
    "offline", __name__, description="Kiosks working offline: synced redemptions and shortfalls"
)
SHORTFALL_READERS = ("finance", "admin", "scheme_manager")


class OfflineRedemptionSchema(StrictSchema):
    """A spend the kiosk accepted while it could not reach the API."""

    card_token = fields.String(required=True, validate=TOKEN)
    scheme = fields.String(required=True, validate=SHORT)
    amount_minor = amount_field(required=True)
    occurred_at = fields.AwareDateTime(
        required=True, metadata={"description": "RFC 3339: when the kiosk accepted the spend"}
    )


class OfflineSyncResultSchema(Schema):
    """What syncing one offline redemption did."""

    outcome = fields.String(
        metadata={
            "description": "posted (the wallet covered it), posted-with-shortfall (the offline-risk "
            "account paid the difference), or applied-online (this key's online redemption already "
            "reached the ledger; nothing more was taken)"
        }
    )
    scheme = fields.String()
    unit = fields.String()
    card_number = fields.String()
    outlet_id = fields.String()
    amount_minor = fields.Integer(metadata={"description": "what the kiosk accepted; the outlet is paid it"})
    covered_minor = fields.Integer(metadata={"description": "what the wallet paid"})
    shortfall_minor = fields.Integer(metadata={"description": "what the offline-risk account paid"})
    occurred_at = fields.String()
    recorded_at = fields.String()
    redemption_transaction_id = fields.String(allow_none=True)
    shortfall_transaction_id = fields.String(allow_none=True)
    shortfall_id = fields.String(allow_none=True)
    shortfall_reason = fields.String(
        allow_none=True, metadata={"description": "insufficient-funds, or card-blocked (lost before use)"}
    )


class ShortfallResolutionSchema(Schema):
    """How a member of staff resolved a shortfall."""

    note = fields.String()
    resolved_by = fields.String()
    resolved_at = fields.String()


class ShortfallResolveSchema(StrictSchema):
    """A note saying how the shortfall was resolved (recovered, written off, the kiosk fixed)."""

    note = fields.String(required=True, validate=validate.Length(min=1, max=MAX_NOTE_LENGTH))


class ShortfallResolvedSchema(Schema):
    """A shortfall just resolved."""

    id = fields.String()
    shortfall = fields.String(metadata={"description": "the shortfall as people read it, e.g. £2.50"})
    resolution = fields.Nested(ShortfallResolutionSchema)


class ShortfallSchema(Schema):
    """A shortfall found when a kiosk synced an offline redemption."""

    id = fields.String()
    scheme = fields.String()
    unit = fields.String()
    outlet_id = fields.String()
    actor = fields.String(metadata={"description": "the device key that synced it"})
    card_number = fields.String()
    amount_minor = fields.Integer()
    covered_minor = fields.Integer()
    shortfall_minor = fields.Integer()
    shortfall = fields.String(metadata={"description": "the shortfall as people read it, e.g. £2.50"})
    reason = fields.String()
    redemption_transaction_id = fields.String(allow_none=True)
    shortfall_transaction_id = fields.String()
    occurred_at = fields.String()
    recorded_at = fields.String()
    resolution = fields.Nested(
        ShortfallResolutionSchema, allow_none=True, metadata={"description": "null until resolved"}
    )


class OfflineSchemeSchema(Schema):
    """One scheme the outlet accepts, as a kiosk needs it offline."""

    scheme = fields.String()
    name = fields.String()
    unit = fields.String()
    offline_floor_limit_minor = fields.Integer(metadata={"description": "most per card per day offline"})
    refund_window_days = fields.Integer()


class OfflineProfileSchema(Schema):
    """The calling device's outlet and the schemes it accepts."""

    outlet_id = fields.String()
    outlet_name = fields.String()
    schemes = fields.List(fields.Nested(OfflineSchemeSchema))


@blueprint.route("/offline-redemptions")
class OfflineRedemptions(MethodView):
    """Syncing spends a kiosk accepted offline."""

    @requires("device")
    @blueprint.arguments(OfflineRedemptionSchema)
    @blueprint.response(201, OfflineSyncResultSchema)
    def post(self, body: dict[str, Any]) -> dict[str, Any]:
        """Post one offline redemption under the kiosk's own Idempotency-Key: the wallet pays what it
        covers, the scheme's offline-risk account the rest (recorded as a shortfall). Refused over the
        scheme's offline floor limit (limit-exceeded) or for a scheme not accepted here."""
        principal, key, context = current_principal(), idempotency_key(), ctx()
        assert principal.outlet_id is not None, "device keys are always bound to an outlet"
        request = OfflineRedemption(outlet_id=principal.outlet_id, **body)
        now = context.clock.now()
        result = context.write(
            lambda uow: sync_offline_redemption(
                uow, request=request, keyring=context.keyring, now=now, actor=principal.actor, key=key
            )
        )
        return dataclasses.asdict(result)


@blueprint.route("/offline-shortfalls")
class OfflineShortfalls(MethodView):
    """Shortfalls flagged for staff."""

    @requires(*SHORTFALL_READERS)
    @blueprint.arguments(PageQuery, location="query")
    @blueprint.response(200, page_schema(ShortfallSchema, "ShortfallPage"))
    def get(self, query: dict[str, Any]) -> dict[str, Any]:
        """Newest first, each with its resolution (null until resolved); `starting_after` is the last
        shortfall id of the previous page."""
        return ctx().read(
            lambda uow: page(
                lambda limit, after: shortfalls_with_resolutions(uow, limit=limit, after=after), query
            )
        )


@blueprint.route("/offline-shortfalls/<shortfall_id>/resolve")
class OfflineShortfallResolve(MethodView):
    """Closing a shortfall with a note."""

    @requires(*SHORTFALL_READERS)
    @blueprint.arguments(ShortfallResolveSchema)
    @blueprint.response(200, ShortfallResolvedSchema)
    def post(self, body: dict[str, Any], shortfall_id: str) -> dict[str, Any]:
        """Resolve a shortfall with a note, once (already resolved → 409 conflict), recorded in the staff
        log; the ledger postings stay as they are. With an Idempotency-Key a retry gets the first answer."""
        actor, key, context = current_actor(), optional_idempotency_key(), ctx()
        return context.write(
            lambda uow: resolve_shortfall(
                uow,
                shortfall_id=shortfall_id,
                note=body["note"],
                now=context.clock.now(),
                actor=actor,
                idempotency_key=key,
            )
        )


@blueprint.route("/offline-profile")
class OfflineProfileView(MethodView):
    """What a kiosk caches to keep serving offline."""

    @requires("device")
    @blueprint.response(200, OfflineProfileSchema)
    def get(self) -> dict[str, Any]:
        """The calling device's outlet and the schemes it accepts, each with its offline floor limit."""
        principal = current_principal()
        assert principal.outlet_id is not None, "device keys are always bound to an outlet"
        outlet_id = principal.outlet_id
        profile = ctx().read(lambda uow: offline_profile(uow, outlet_id=outlet_id))
        return dataclasses.asdict(profile)


class OfflineBatchItemSchema(OfflineRedemptionSchema):
    """One offline redemption of a batch, under the idempotency key it was queued with."""

    idempotency_key = fields.String(required=True, validate=validate.Length(min=1, max=255))


class OfflineBatchSchema(StrictSchema):
    """Offline redemptions to sync together."""

    redemptions = fields.List(
        fields.Nested(OfflineBatchItemSchema),
        required=True,
        validate=validate.Length(min=1, max=offline_sync.MAX_BATCH_SIZE),
    )


class OfflineBatchResultSchema(Schema):
    """What one item of the batch did: 201 with its result, or the problem that refused it."""

    idempotency_key = fields.String()
    status = fields.Integer(metadata={"description": "201, or the status of the problem"})
    result = fields.Nested(OfflineSyncResultSchema, allow_none=True)
    problem = fields.Dict(allow_none=True, metadata={"description": "an RFC 9457 problem, as if sent alone"})


class OfflineBatchResultsSchema(Schema):
    """The batch's results, in the order sent."""

    results = fields.List(fields.Nested(OfflineBatchResultSchema))


def _batch_item(item: offline_sync.BatchItemResult) -> dict[str, Any]:
    if item.refusal is None:
        assert item.result is not None
        return {
            "idempotency_key": item.idempotency_key,
            "status": 201,
            "result": dataclasses.asdict(item.result),
            "problem": None,
        }
    refusal = item.refusal
    problem = {
        "type": PROBLEM_BASE + refusal.problem,
        "title": refusal.problem.replace("-", " ").capitalize(),
        "status": status_of(refusal),
        "detail": refusal.detail,
    }
    return {
        "idempotency_key": item.idempotency_key,
        "status": status_of(refusal),
        "result": None,
        "problem": problem,
    }


@blueprint.route("/offline-redemptions/batch")
class OfflineRedemptionBatch(MethodView):
    """Syncing many offline spends at once."""

    @requires("device")
    @blueprint.arguments(OfflineBatchSchema)
    @blueprint.response(200, OfflineBatchResultsSchema)
    def post(self, body: dict[str, Any]) -> dict[str, Any]:
        """Up to 100 offline redemptions in one request, each exactly as POST /offline-redemptions
        under its own `idempotency_key` (a resend replays it); one item's refusal leaves the others be.
        The request's Idempotency-Key names the batch; the replay guarantee is per item."""
        principal, _, context = current_principal(), idempotency_key(), ctx()
        assert principal.outlet_id is not None, "device keys are always bound to an outlet"
        outlet_id = principal.outlet_id
        items = [
            (item.pop("idempotency_key"), OfflineRedemption(outlet_id=outlet_id, **item))
            for item in body["redemptions"]
        ]
        now = context.clock.now()
        results = offline_sync.sync_offline_batch(
            context.write, items=items, keyring=context.keyring, now=now, actor=principal.actor
        )
        return {"results": [_batch_item(item) for item in results]}
