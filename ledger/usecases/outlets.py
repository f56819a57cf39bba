"""Partner outlets: their categories, the schemes they may take, and their kiosk credentials."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from ledger.actors import Actor
from ledger.errors import Conflict, NotFound, ValidationFailed
from ledger.ports import UnitOfWork
from ledger.usecases.api_keys import NewKey, create_key, revoke_key
from ledger.usecases.common import new_id
from ledger.usecases.replays import once_per_key
from ledger.usecases.residents import plausible_id
from ledger.usecases.staff_log import record_action


def _clean_name(name: str) -> str:
    name = name.strip()
    if not name:
        raise ValidationFailed("name: an outlet needs a name")
    return name


def _clean_categories(categories: Sequence[str]) -> list[str]:
    return sorted({c.strip().lower() for c in categories if c.strip()})


def _known_schemes(uow: UnitOfWork, schemes: Sequence[str]) -> list[str]:
    slugs = sorted(set(schemes))
    for slug in slugs:
        if uow.schemes.get(slug=slug) is None:
            raise ValidationFailed(f"schemes: no scheme {slug}")
    return slugs


def create_outlet(
    uow: UnitOfWork,
    *,
    name: str,
    categories: Sequence[str],
    schemes: Sequence[str],
    now: dt.datetime,
    actor: Actor | str,
    idempotency_key: str | None = None,
) -> dict[str, Any]:
    """Register an outlet; every approved scheme must exist. With an idempotency key, once."""
    clean_name, clean_categories = _clean_name(name), _clean_categories(categories)

    def operation() -> dict[str, Any]:
        slugs = _known_schemes(uow, schemes)
        outlet_id = new_id()
        uow.registry.add_outlet(
            id=outlet_id, name=clean_name, categories=clean_categories, schemes=slugs, now=now
        )
        record_action(
            uow,
            actor=actor,
            action="outlet.create",
            target=outlet_id,
            detail={"categories": clean_categories, "schemes": slugs},
            now=now,
        )
        return get_outlet(uow, outlet_id)

    request = {
        "op": "outlet.create",
        "name": clean_name,
        "categories": clean_categories,
        "schemes": sorted(set(schemes)),
    }
    return once_per_key(uow, actor=actor, key=idempotency_key, request=request, now=now, operation=operation)


def update_outlet(
    uow: UnitOfWork,
    *,
    outlet_id: str,
    name: str | None = None,
    categories: Sequence[str] | None = None,
    schemes: Sequence[str] | None = None,
    now: dt.datetime,
    actor: Actor | str,
    idempotency_key: str | None = None,
) -> dict[str, Any]:
    """Change an outlet's name, categories or approved schemes (each given list replaces the old one;
    every scheme must exist); the staff log keeps what each was before. With an idempotency key, once."""
    if name is None and categories is None and schemes is None:
        raise ValidationFailed("give at least one of name, categories and schemes")
    changes: dict[str, Any] = {}
    if name is not None:
        changes["name"] = _clean_name(name)
    if categories is not None:
        changes["categories"] = _clean_categories(categories)
    if schemes is not None:
        changes["schemes"] = sorted(set(schemes))

    def operation() -> dict[str, Any]:
        before = get_outlet(uow, outlet_id)
        _known_schemes(uow, changes.get("schemes", ()))
        uow.registry.update_outlet(outlet_id, **changes)
        record_action(
            uow,
            actor=actor,
            action="outlet.update",
            target=outlet_id,
            detail={"before": {field: before[field] for field in changes}, "after": changes},
            now=now,
        )
        return get_outlet(uow, outlet_id)

    request = {"op": "outlet.update", "outlet_id": outlet_id, **changes}
    return once_per_key(uow, actor=actor, key=idempotency_key, request=request, now=now, operation=operation)


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


def add_device(
    uow: UnitOfWork,
    *,
    outlet_id: str,
    label: str | None,
    now: dt.datetime,
    actor: Actor | str,
    idempotency_key: str | None = None,
) -> NewKey:
    """A kiosk credential bound to this outlet; its secret is returned once and stored hashed.

    With an idempotency key a retry never makes a second credential, but the secret is never stored
    (not even in the idempotency record), so a replay is refused with Conflict naming the device made."""
    made: dict[str, NewKey] = {}

    def operation() -> dict[str, Any]:
        outlet = get_outlet(uow, outlet_id)
        clean_label = (label or "").strip() or f"kiosk at {outlet['name']}"
        made["key"] = create_key(uow, role="device", outlet_id=outlet_id, label=clean_label, now=now)
        record_action(
            uow,
            actor=actor,
            action="device.create",
            target=made["key"].principal.key_id,
            detail={"outlet_id": outlet_id},
            now=now,
        )
        return {"device_id": made["key"].principal.key_id}

    request = {"op": "device.create", "outlet_id": outlet_id, "label": label}
    stored = once_per_key(
        uow, actor=actor, key=idempotency_key, request=request, now=now, operation=operation
    )
    if "key" not in made:
        raise Conflict(
            f"this Idempotency-Key already created device key {stored['device_id']}; its secret was shown "
            "once and is not kept, so it cannot be shown again: revoke that key and create another"
        )
    return made["key"]


def list_devices(uow: UnitOfWork, outlet_id: str) -> list[dict[str, Any]]:
    """An outlet's kiosk credentials, without secrets."""
    get_outlet(uow, outlet_id)
    devices: list[dict[str, Any]] = uow.registry.devices(outlet_id)
    return devices


def revoke_device(
    uow: UnitOfWork, *, outlet_id: str, device_id: str, now: dt.datetime, actor: Actor | str
) -> dict[str, Any]:
    """Revoke one of this outlet's kiosk credentials; it stops working at once."""
    get_outlet(uow, outlet_id)
    device = uow.registry.api_key(device_id) if plausible_id(device_id) else None
    if device is None or device["role"] != "device" or device["outlet_id"] != outlet_id:
        raise NotFound(f"outlet {outlet_id} has no device {device_id}")
    if device["revoked_at"] is not None:
        raise Conflict("this device key is already revoked")
    revoke_key(uow, device_id, now)
    record_action(
        uow, actor=actor, action="device.revoke", target=device_id, detail={"outlet_id": outlet_id}, now=now
    )
    revoked = uow.registry.api_key(device_id)
    assert revoked is not None, "a key just revoked in this transaction is still there"
    return revoked
