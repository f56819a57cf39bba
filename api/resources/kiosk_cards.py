"""A kiosk resolving a typed card number (for a damaged QR code): the card's entitlements and its token."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from marshmallow import fields

from api.auth import current_principal, requires
from api.blueprint import Blueprint
from api.context import ctx
from api.limits import card_lookup
from api.resources.value_schemas import EntitlementsSchema
from ledger.cards.token import normalize_card_number
from ledger.errors import ValidationFailed
from ledger.ports import UnitOfWork
from ledger.usecases.cards import card_token
from ledger.usecases.entitlements import entitlements

blueprint = Blueprint("kiosk_cards", __name__, description="Kiosks: cards by their printed number")


class NumberEntitlementsSchema(EntitlementsSchema):
    """Entitlements, plus the card's QR token so the kiosk redeems exactly as after a scan."""

    card_token = fields.String()


@blueprint.route("/cards/by-number/<number>/entitlements")
class EntitlementsByNumber(MethodView):
    """What a card, typed by its printed number, may spend here."""

    @card_lookup()
    @requires("device")
    @blueprint.response(200, NumberEntitlementsSchema)
    def get(self, number: str) -> dict[str, Any]:
        """As GET /cards/{token}/entitlements, for a typed card number (dashes and case optional; a typo
        fails its check symbol: validation). Same per-key rate limit; card-blocked for a lost card."""
        principal, context = current_principal(), ctx()
        assert principal.outlet_id is not None, "device keys are always bound to an outlet"
        outlet_id = principal.outlet_id
        try:
            canonical = normalize_card_number(number)
        except ValueError as error:
            raise ValidationFailed("that is not a card number: check it against the card") from error
        now = context.clock.now()

        def read(uow: UnitOfWork) -> dict[str, Any]:
            _card, token = card_token(uow, number=canonical, keys=context.card_keys)
            found = entitlements(
                uow,
                keyring=context.keyring,
                token=token,
                outlet_id=outlet_id,
                now=now,
                zone=context.clock.zone,
            )
            return {**found, "card_token": token}

        return context.read(read)
