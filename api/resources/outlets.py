"""Partner outlets: their categories, approved schemes and kiosk (device) credentials."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from api.auth import STAFF, requires
from api.blueprint import Blueprint
from api.context import ctx
from api.pagination import PageQuery, page, page_schema
from api.resources.people_schemas import text
from api.resources.scheme_schemas import StrictSchema
from api.staff_requests import current_actor, optional_idempotency_key
from ledger.usecases.outlets import (
    add_device,
    create_outlet,
    get_outlet,
    list_devices,
    list_outlets,
    revoke_device,
    update_outlet,
)

blueprint = Blueprint("outlets", __name__, description="Partner outlets and their kiosk credentials")
SLUG = validate.Regexp(r"^[a-z0-9][a-z0-9-]{1,62}$", error="not a scheme slug")


CATEGORIES = "outlet categories that schemes' spending rules refer to"
SCHEMES = "slugs of the schemes this outlet may take (each must exist)"


def _categories(**kwargs: Any) -> fields.List:
    return fields.List(
        fields.String(validate=text(1, 64)),
        validate=validate.Length(max=100),
        metadata={"description": CATEGORIES},
        **kwargs,
    )


def _schemes(**kwargs: Any) -> fields.List:
    return fields.List(
        fields.String(validate=SLUG),
        validate=validate.Length(max=500),
        metadata={"description": SCHEMES},
        **kwargs,
    )


class OutletCreateSchema(StrictSchema):
    """A new partner outlet."""

    name = fields.String(required=True, validate=text(1, 200))
    categories = _categories(load_default=list)
    schemes = _schemes(load_default=list)


class OutletUpdateSchema(StrictSchema):
    """Changes to an outlet: any of name, categories and schemes; a list given replaces the old one."""

    name = fields.String(validate=text(1, 200))
    categories = _categories()
    schemes = _schemes()

    @validates_schema
    def changes_something(self, data: dict[str, Any], **kwargs: Any) -> None:
        """An empty change is a mistake, not a no-op."""
        if not data:
            raise ValidationError("give at least one of name, categories and schemes")


class OutletSchema(Schema):
    """An outlet."""

    id = fields.String()
    name = fields.String()
    categories = fields.List(fields.String())
    schemes = fields.List(fields.String())
    created_at = fields.DateTime()


class DeviceCreateSchema(StrictSchema):
    """A new kiosk credential."""

    label = fields.String(
        required=True, validate=text(1, 200), metadata={"description": "where the kiosk is, e.g. front desk"}
    )


class DeviceSchema(Schema):
    """A kiosk credential (never its secret)."""

    id = fields.String()
    outlet_id = fields.String()
    prefix = fields.String(metadata={"description": "the first characters of the key, to recognise it"})
    label = fields.String()
    created_at = fields.DateTime()
    revoked_at = fields.DateTime(allow_none=True)
    revoked = fields.Boolean()


class NewDeviceSchema(DeviceSchema):
    """A new kiosk credential: `key` is shown this once and only its hash is stored."""

    key = fields.String(metadata={"description": "the bearer secret; store it on the kiosk now"})


def _device(row: dict[str, Any]) -> dict[str, Any]:
    return {**row, "revoked": row.get("revoked_at") is not None}


@blueprint.route("/outlets")
class Outlets(MethodView):
    """Partner outlets."""

    @requires(*STAFF)
    @blueprint.arguments(PageQuery, location="query")
    @blueprint.response(200, page_schema(OutletSchema, "OutletPage"))
    def get(self, query: dict[str, Any]) -> dict[str, Any]:
        """List outlets by id."""
        return ctx().read(
            lambda uow: page(lambda limit, after: list_outlets(uow, limit=limit, after=after), query)
        )

    @requires("admin")
    @blueprint.arguments(OutletCreateSchema)
    @blueprint.response(201, OutletSchema)
    def post(self, body: dict[str, Any]) -> dict[str, Any]:
        """Register an outlet with its categories and approved schemes (unknown scheme → 422); with an
        Idempotency-Key a retry gets the outlet first made, never a second one."""
        actor, key = current_actor(), optional_idempotency_key()
        return ctx().write(
            lambda uow: create_outlet(uow, **body, now=ctx().clock.now(), actor=actor, idempotency_key=key)
        )


@blueprint.route("/outlets/<id>")
class OutletItem(MethodView):
    """One outlet."""

    @requires(*STAFF)
    @blueprint.response(200, OutletSchema)
    def get(self, id: str) -> dict[str, Any]:
        """Read an outlet with its categories and approved schemes."""
        return ctx().read(lambda uow: get_outlet(uow, id))

    @requires("admin")
    @blueprint.arguments(OutletUpdateSchema)
    @blueprint.response(200, OutletSchema)
    def patch(self, body: dict[str, Any], id: str) -> dict[str, Any]:
        """Change the name, categories or approved schemes (a list replaces the old one; unknown scheme →
        422); the staff log keeps the old values. With an Idempotency-Key, once."""
        actor, key = current_actor(), optional_idempotency_key()
        return ctx().write(
            lambda uow: update_outlet(
                uow, outlet_id=id, **body, now=ctx().clock.now(), actor=actor, idempotency_key=key
            )
        )


@blueprint.route("/outlets/<id>/devices")
class OutletDevices(MethodView):
    """Kiosk credentials of an outlet."""

    @requires("admin")
    @blueprint.response(200, DeviceSchema(many=True))
    def get(self, id: str) -> list[dict[str, Any]]:
        """List the outlet's kiosk credentials, without secrets."""
        return [_device(row) for row in ctx().read(lambda uow: list_devices(uow, id))]

    @requires("admin")
    @blueprint.arguments(DeviceCreateSchema)
    @blueprint.response(201, NewDeviceSchema)
    def post(self, body: dict[str, Any], id: str) -> dict[str, Any]:
        """Create a kiosk credential bound to this outlet; the key is shown once. Its secret is never
        stored, not even for an Idempotency-Key: a retry with the same key makes no second credential but
        is refused (409 conflict, naming the device made); revoke that one and create another."""
        actor, key, now = current_actor(), optional_idempotency_key(), ctx().clock.now()
        created = ctx().write(
            lambda uow: add_device(
                uow, outlet_id=id, label=body["label"], now=now, actor=actor, idempotency_key=key
            )
        )
        return {
            "id": created.principal.key_id,
            "outlet_id": id,
            "prefix": created.secret[:10],
            "label": created.principal.label,
            "created_at": now,
            "revoked_at": None,
            "revoked": False,
            "key": created.secret,
        }


@blueprint.route("/outlets/<id>/devices/<device_id>/revoke")
class DeviceRevoke(MethodView):
    """Revoking a kiosk credential."""

    @requires("admin")
    @blueprint.response(200, DeviceSchema)
    def post(self, id: str, device_id: str) -> dict[str, Any]:
        """Revoke a kiosk credential; it stops working at once (401). Again → 409, changing nothing."""
        actor = current_actor()
        revoked = ctx().write(
            lambda uow: revoke_device(
                uow, outlet_id=id, device_id=device_id, now=ctx().clock.now(), actor=actor
            )
        )
        return _device(revoked)
