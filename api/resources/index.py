"""`GET /api/v1`: the API index, so the URL that `clubcard serve` prints answers in a browser."""

from __future__ import annotations

from typing import Any

from flask import current_app, request
from flask.views import MethodView
from marshmallow import Schema, fields

from api.blueprint import Blueprint

blueprint = Blueprint("index", __name__, description="What this API offers and where its documentation is")
DOCUMENTS = {
    "docs": "/api/docs",
    "openapi": "/api/openapi.json",
}
WELL_KNOWN_PREFIX = "/.well-known/"
AUTHENTICATION = (
    "send Authorization: Bearer <key>; an operator creates keys with `clubcard keys create --role ROLE`"
)


class IndexSchema(Schema):
    """The API's front page: its name, version, how to authenticate, and links."""

    name = fields.String(required=True)
    version = fields.String(required=True)
    authentication = fields.String(required=True)
    links = fields.Dict(
        keys=fields.String(),
        values=fields.String(),
        required=True,
        metadata={"description": "absolute URLs by name: the docs, the OpenAPI document, public documents"},
    )


@blueprint.route("", strict_slashes=False)
class Index(MethodView):
    """The API index."""

    @blueprint.response(200, IndexSchema)
    @blueprint.doc(security=[])
    def get(self) -> dict[str, Any]:
        """Public, no authentication: links to the documentation, the OpenAPI document and the public keys."""
        base = request.host_url.rstrip("/")
        # The public documents are read from the routes, so one added later is listed here without an edit.
        well_known = sorted(
            str(rule.rule)
            for rule in current_app.url_map.iter_rules()
            if str(rule.rule).startswith(WELL_KNOWN_PREFIX) and "<" not in str(rule.rule)
        )
        links = {"self": request.base_url, **{name: base + path for name, path in DOCUMENTS.items()}}
        links.update({path.removeprefix(WELL_KNOWN_PREFIX): base + path for path in well_known})
        return {
            "name": current_app.config["API_TITLE"],
            "version": current_app.config["API_VERSION"],
            "authentication": AUTHENTICATION,
            "links": links,
        }
