"""Public card keys and the revocation list, so kiosks can check QR tokens offline."""

from __future__ import annotations

import base64
from typing import Any

from flask.views import MethodView
from marshmallow import Schema, fields

from api.blueprint import Blueprint
from api.context import ctx
from ledger.usecases.card_keys import published_card_keys

blueprint = Blueprint("well_known", __name__, description="Public keys for offline QR verification")
MAX_AGE_SECONDS = 60

OFFLINE_RULES = (
    "What a kiosk holding this document accepts offline: a token that verifies under a key in `keys` "
    "(looked up by the key id the token names), whose key id is not in `distrusted_keys`, and whose card "
    "number is not in `revoked_cards`. Replace the cached document whole on each fetch (never merge old "
    "keys in): a key that leaked leaves `keys` and joins `distrusted_keys` for good, and the cards it signed "
    "join `revoked_cards` until they are replaced. Online, the API also refuses a genuine signature whose "
    "key id or issue time is not the one recorded when that card was issued (invalid-token)."
)


class PublicKeySchema(Schema):
    """A public card key."""

    key_id = fields.String(metadata={"description": "the key id a token names"})
    algorithm = fields.String(metadata={"description": "always Ed25519"})
    public_key = fields.String(metadata={"description": "the raw 32-byte key, base64url without padding"})


class ClubcardKeysSchema(Schema):
    """What a kiosk needs to verify QR tokens offline."""

    class Meta:
        """OpenAPI description of the whole document."""

        description = OFFLINE_RULES

    keys = fields.List(
        fields.Nested(PublicKeySchema),
        metadata={
            "description": "trusted card keys: the one signing new cards and retired ones whose cards "
            "are still in use; never a distrusted key"
        },
    )
    distrusted_keys = fields.List(
        fields.String(),
        metadata={
            "description": "key ids of card keys withdrawn because they leaked: refuse every token that "
            "names one, and delete any copy of that key a kiosk cached"
        },
    )
    revoked_cards = fields.List(
        fields.String(),
        metadata={
            "description": "numbers of cards to refuse: blocked (lost or replaced) cards, and cards signed "
            "by a distrusted key that are waiting to be replaced"
        },
    )
    generated_at = fields.DateTime()


def _base64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


@blueprint.route("/.well-known/clubcard-keys")
class ClubcardKeys(MethodView):
    """The public card keys, the distrusted key ids and the revocation list."""

    @blueprint.response(200, ClubcardKeysSchema)
    @blueprint.doc(security=[])
    def get(self) -> tuple[dict[str, Any], int, dict[str, str]]:
        """Public, no authentication: card public keys by key id, distrusted key ids, cards to refuse."""
        context = ctx()
        card_keys = context.card_keys
        published = context.read(lambda uow: published_card_keys(uow, keys=card_keys))
        body = {
            "keys": [
                {"key_id": key_id, "algorithm": "Ed25519", "public_key": _base64url(public_key)}
                for key_id, public_key in sorted(published.public_keys.items())
            ],
            "distrusted_keys": list(published.distrusted_key_ids),
            "revoked_cards": list(published.revoked_cards),
            "generated_at": context.clock.now(),
        }
        return body, 200, {"Cache-Control": f"public, max-age={MAX_AGE_SECONDS}"}
