"""Partner outlets: their categories, the schemes they may take, and their kiosk credentials."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from ledger.errors import Conflict, NotFound, ValidationFailed
from ledger.ports import UnitOfWork
from ledger.usecases.api_keys import NewKey, create_key, revoke_key
from ledger.usecases.common import new_id
from ledger.usecases.residents import plausible_id


def create_outlet(
    uow: UnitOfWork,
    *,
    name: str,
    categories: Sequence[str],
    schemes: Sequence[str],
    now: dt.datetime,
    actor: str,
) -> dict[str, Any]:
    """Register an outlet; every approved scheme must exist."""
    name = name.strip()
    if not name:
        raise ValidationFailed("name: an outlet needs a name")
    clean_categories = sorted({c.strip().lower() for c in categories if c.strip()})
    slugs = sorted(set(schemes))
    for slug in slugs:
        if uow.schemes.get(slug=slug) is None:
            raise ValidationFailed(f"schemes: no scheme {slug}")
    outlet_id = new_id()
    uow.registry.add_outlet(id=outlet_id, name=name, categories=clean_categories, schemes=slugs, now=now)
    uow.registry.log_action(
        id=new_id(),
        actor=actor,
        action="outlet.create",
        target=outlet_id,
        detail={"categories": clean_categories, "schemes": slugs},
        now=now,
    )
    return get_outlet(uow, outlet_id)


def get_outlet(uow: UnitOfWork, outlet_id: str) -> dict[str, Any]:
    """An outlet, or NotFound."""
    outlet: dict[str, Any] | None = uow.registry.outlet(outlet_id) if plausible_id(outlet_id) else None
    if outlet is None:
        raise NotFound(f"no outlet {outlet_id}")
    return outlet


def list_outlets(uow: UnitOfWork, *, limit: int, after: str) -> list[dict[str, Any]]:
    """A page of outlets by id."""
    if after and not plausible_id(after, 200):
        raise ValidationFailed("starting_after: not a cursor")
    found: list[dict[str, Any]] = uow.registry.outlets(limit=limit, after=after)
    return found


def add_device(uow: UnitOfWork, *, outlet_id: str, label: str | None, now: dt.datetime, actor: str) -> NewKey:
    """A kiosk credential bound to this outlet; its secret is returned once and stored hashed."""
    outlet = get_outlet(uow, outlet_id)
    label = (label or "").strip() or f"kiosk at {outlet['name']}"
    created = create_key(uow, role="device", outlet_id=outlet_id, label=label, now=now)
    uow.registry.log_action(
        id=new_id(),
        actor=actor,
        action="device.create",
        target=created.principal.key_id,
        detail={"outlet_id": outlet_id},
        now=now,
    )
    return created


def list_devices(uow: UnitOfWork, outlet_id: str) -> list[dict[str, Any]]:
    """An outlet's kiosk credentials, without secrets."""
    get_outlet(uow, outlet_id)
    devices: list[dict[str, Any]] = uow.registry.devices(outlet_id)
    return devices


def revoke_device(
    uow: UnitOfWork, *, outlet_id: str, device_id: str, now: dt.datetime, actor: str
) -> dict[str, Any]:
    """Revoke one of this outlet's kiosk credentials; it stops working at once."""
    get_outlet(uow, outlet_id)
    device = uow.registry.api_key(device_id) if plausible_id(device_id) else None
    if device is None or device["role"] != "device" or device["outlet_id"] != outlet_id:
        raise NotFound(f"outlet {outlet_id} has no device {device_id}")
    if device["revoked_at"] is not None:
        raise Conflict("this device key is already revoked")
    revoke_key(uow, device_id, now)
    uow.registry.log_action(
        id=new_id(),
        actor=actor,
        action="device.revoke",
        target=device_id,
        detail={"outlet_id": outlet_id},
        now=now,
    )
    revoked: dict[str, Any] = uow.registry.api_key(device_id)
    return revoked
