"""The OpenAPI document: errors are documented as problem+json, as they are served."""

from __future__ import annotations

import http

from flask_smorest import Api
from flask_smorest.utils import prepare_response
from marshmallow import Schema, fields

from api.problems import PROBLEM_CONTENT_TYPE


class ProblemSchema(Schema):
    """An RFC 9457 problem document."""

    type = fields.String(required=True, metadata={"description": "a stable URI naming the kind of problem"})
    title = fields.String(required=True)
    status = fields.Integer(required=True)
    detail = fields.String(required=True)
    errors = fields.Dict(metadata={"description": "per-field validation messages"})


class ClubcardApi(Api):
    """flask-smorest's Api, documenting every error response as application/problem+json."""

    ERROR_SCHEMA = ProblemSchema

    def _register_responses(self) -> None:
        for status in http.HTTPStatus:
            response: dict[str, object] = {"description": status.phrase}
            if not (100 <= status < 200) and status not in (204, 304):
                response["schema"] = self.ERROR_SCHEMA
            prepare_response(response, self.spec, PROBLEM_CONTENT_TYPE)
            self.spec.components.response(status.name, response, lazy=True)
        default: dict[str, object] = {"description": "A problem (RFC 9457)", "schema": self.ERROR_SCHEMA}
        prepare_response(default, self.spec, PROBLEM_CONTENT_TYPE)
        self.spec.components.response("DEFAULT_ERROR", default, lazy=True)


IDEMPOTENCY_KEY_PARAMETER = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "description": (
        "Required on every write that changes the ledger (≤ 255 characters, quoted or bare). The same key "
        "and body replays the original response; the same key with a different body is 422; a key still "
        "in flight is 409."
    ),
    "schema": {"type": "string", "maxLength": 257},
}


def document_idempotency_keys(api: Api) -> None:
    """Add the Idempotency-Key header to every POST, PATCH and DELETE in the OpenAPI document."""
    for operations in api.spec._paths.values():
        for method, operation in operations.items():
            if method in {"post", "patch", "delete"} and isinstance(operation, dict):
                parameters = operation.setdefault("parameters", [])
                if not any(p.get("name") == "Idempotency-Key" for p in parameters if isinstance(p, dict)):
                    parameters.append(dict(IDEMPOTENCY_KEY_PARAMETER))
