"""Public card keys and the revocation list, so kiosks can check QR tokens offline."""

from __future__ import annotations

import base64
from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields

from api.context import ctx
from ledger.usecases.cards import revocation_list

blueprint = Blueprint("well_known", __name__, description="Public keys for offline QR verification")
MAX_AGE_SECONDS = 60


class PublicKeySchema(Schema):
    """A public card key."""

    key_id = fields.String(metadata={"description": "the key id a token names"})
    algorithm = fields.String(metadata={"description": "always Ed25519"})
    public_key = fields.String(metadata={"description": "the raw 32-byte key, base64url without padding"})


class ClubcardKeysSchema(Schema):
    """What a kiosk needs to verify QR tokens offline."""

    keys = fields.List(fields.Nested(PublicKeySchema))
    revoked_cards = fields.List(fields.String(), metadata={"description": "numbers of blocked cards"})
    generated_at = fields.DateTime()


def _base64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


@blueprint.route("/.well-known/clubcard-keys")
class ClubcardKeys(MethodView):
    """The public card keys and the revocation list."""

    @blueprint.response(200, ClubcardKeysSchema)
    @blueprint.doc(security=[])
    def get(self) -> tuple[dict[str, Any], int, dict[str, str]]:
        """Public, no authentication: card public keys by key id and the numbers of blocked cards."""
        context = ctx()
        # Retired keys stay published: cards they signed are still in residents' pockets.
        body = {
            "keys": [
                {"key_id": key_id, "algorithm": "Ed25519", "public_key": _base64url(public_key)}
                for key_id, public_key in sorted(context.keyring.public_keys().items())
            ],
            "revoked_cards": context.read(revocation_list),
            "generated_at": context.clock.now(),
        }
        return body, 200, {"Cache-Control": f"public, max-age={MAX_AGE_SECONDS}"}
