"""The OpenAPI document: errors are documented as problem+json, as they are served."""

from __future__ import annotations

import http
import re

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


# Which writes honour an Idempotency-Key, by method and path (path parameters as {}). A write in none of
# these sets is not documented with the header; tests/integration/test_idempotent_staff_writes.py makes
# every write of the API appear in exactly one, so a new write cannot slip by undecided.
KEY_REQUIRED = frozenset(
    {
        ("post", "/api/v1/schemes/{}/funding"),
        ("post", "/api/v1/issuances"),
        ("post", "/api/v1/issuances/bulk"),
        ("post", "/api/v1/earnings"),
        ("post", "/api/v1/transfers"),
        ("post", "/api/v1/redemptions"),
        ("post", "/api/v1/redemptions/{}/refund"),
        ("post", "/api/v1/holds"),
        ("post", "/api/v1/holds/{}/capture"),
        ("post", "/api/v1/holds/{}/void"),
        ("post", "/api/v1/offline-redemptions"),
        ("post", "/api/v1/offline-redemptions/batch"),
        ("post", "/api/v1/topups"),
        ("post", "/api/v1/settlements"),
        ("post", "/api/v1/settlements/{}/approve"),
        ("post", "/api/v1/settlements/{}/paid"),
    }
)
KEY_OPTIONAL = frozenset(
    {
        ("post", "/api/v1/schemes"),
        ("patch", "/api/v1/schemes/{}"),
        ("post", "/api/v1/schemes/{}/members"),
        ("post", "/api/v1/residents"),
        ("post", "/api/v1/residents/{}/cards"),
        ("post", "/api/v1/cards/{}/block"),
        ("post", "/api/v1/cards/{}/replace"),
        ("post", "/api/v1/outlets"),
        ("patch", "/api/v1/outlets/{}"),
        ("post", "/api/v1/audit/checkpoints"),
        ("post", "/api/v1/offline-shortfalls/{}/resolve"),
    }
)
# The result holds a secret that is never stored: a retry makes nothing new and is refused.
KEY_REFUSES_REPLAY = frozenset({("post", "/api/v1/outlets/{}/devices")})
# Repeating these changes nothing and says so (409 already revoked, 404 already erased): no key taken.
KEY_NOT_TAKEN = frozenset(
    {
        ("post", "/api/v1/outlets/{}/devices/{}/revoke"),
        ("delete", "/api/v1/residents/{}/personal-data"),
    }
)
WRITE_METHODS = frozenset({"post", "put", "patch", "delete"})

_KEY_SCHEMA = {"type": "string", "maxLength": 257}
_REPLAYS = (
    "The same key and body replays the original status and body; the same key with a different body is "
    "422 idempotency-mismatch; a key still in flight is 409 idempotency-conflict. Keys are per API key."
)
KEY_DESCRIPTIONS = {
    "required": "Required (≤ 255 characters, quoted or bare; missing → 400). " + _REPLAYS,
    "optional": "Optional (≤ 255 characters, quoted or bare); when sent, this write happens once. "
    + _REPLAYS,
    "refuses-replay": (
        "Optional (≤ 255 characters, quoted or bare). The new key's secret is shown once and never "
        "stored, so a retry with the same key and body creates nothing and is refused with 409 conflict "
        "naming the device key made (revoke it and create another); a different body is 422 "
        "idempotency-mismatch."
    ),
}


def path_shape(path: str) -> str:
    """A path with its parameters as {}: the shape the tables above are written in."""
    return re.sub(r"\{[^}]+\}", "{}", path)


def idempotency_treatment(method: str, path: str) -> str | None:
    """How a write treats an Idempotency-Key: required, optional, refuses-replay, not-taken, or None
    when undecided (a read, or a write nobody has classified yet)."""
    operation = (method.lower(), path_shape(path))
    for treatment, operations in (
        ("required", KEY_REQUIRED),
        ("optional", KEY_OPTIONAL),
        ("refuses-replay", KEY_REFUSES_REPLAY),
        ("not-taken", KEY_NOT_TAKEN),
    ):
        if operation in operations:
            return treatment
    return None


def document_idempotency_keys(api: Api) -> None:
    """Add the Idempotency-Key header, described as each write treats it, to exactly the writes that
    honour it in the OpenAPI document."""
    for path, operations in api.spec._paths.items():
        for method, operation in operations.items():
            treatment = idempotency_treatment(method, path) if method in WRITE_METHODS else None
            if treatment not in KEY_DESCRIPTIONS or not isinstance(operation, dict):
                continue
            parameters = operation.setdefault("parameters", [])
            if not any(p.get("name") == "Idempotency-Key" for p in parameters if isinstance(p, dict)):
                parameters.append(
                    {
                        "name": "Idempotency-Key",
                        "in": "header",
                        "required": treatment == "required",
                        "description": KEY_DESCRIPTIONS[str(treatment)],
                        "schema": dict(_KEY_SCHEMA),
                    }
                )
