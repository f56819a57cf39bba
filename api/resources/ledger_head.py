"""The latest signed tree head and the ledger public key, published so auditors keep copies elsewhere."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from marshmallow import Schema, fields

from api.blueprint import Blueprint
from api.context import ctx
from ledger.errors import NotFound
from ledger.usecases.trusted_heads import ALGORITHM, published_head

blueprint = Blueprint(
    "ledger_head",
    __name__,
    description="The latest signed tree head, for auditors to keep outside the database",
)
MAX_AGE_SECONDS = 60


class LedgerHeadSchema(Schema):
    """A signed tree head (RFC 9162 style) over the sealed log, with the key that signed it."""

    tree_size = fields.Integer(metadata={"description": "transactions in the sealed log under this head"})
    root_hash = fields.String(metadata={"description": "Merkle tree head (RFC 9162), 64 hex characters"})
    signed_at = fields.String(metadata={"description": "RFC 3339 instant, exactly the text that was signed"})
    key_id = fields.String(metadata={"description": "first 16 hex characters of SHA-256 of the public key"})
    signature = fields.String(metadata={"description": "Ed25519 signature, 128 hex characters"})
    public_key = fields.String(metadata={"description": "the raw 32-byte ledger public key, hex"})
    algorithm = fields.String(metadata={"description": f"always {ALGORITHM}"})


@blueprint.route("/.well-known/clubcard-ledger")
class LedgerHead(MethodView):
    """The latest signed tree head."""

    @blueprint.response(200, LedgerHeadSchema)
    @blueprint.alt_response(404, description="nothing has been sealed yet")
    @blueprint.doc(
        security=[],
        description=(
            "Public, no authentication, cacheable for a minute. Save a copy outside Clubcard (or run "
            "`clubcard audit head > head.json`); later, `clubcard audit verify --trusted-head head.json` "
            "proves the log still extends it with an RFC 9162 consistency proof, so a log cut short or "
            "rewritten by someone with the database is caught.\n\n"
            "The signature is Ed25519 over the UTF-8 bytes `clubcard-tree-head:v1\\n` followed by "
            "`tree_size`, `root_hash` (hex), `signed_at` and `key_id`, each on its own line (no final "
            "newline). Leaves are SHA-256(0x00 || content hash) of each sealed transaction, in order; "
            "interior nodes SHA-256(0x01 || left || right). 404 until the first transaction is sealed."
        ),
    )
    def get(self) -> tuple[dict[str, Any], int, dict[str, str]]:
        """The latest signed tree head and the ledger public key."""
        context = ctx()
        head = context.read(lambda uow: published_head(uow, context.ledger_key))
        if head is None:
            raise NotFound("nothing has been sealed yet, so there is no signed tree head to publish")
        return head.document(), 200, {"Cache-Control": f"public, max-age={MAX_AGE_SECONDS}"}
