"""Staff writes run once per Idempotency-Key: a retry gets the first answer back, not a second change.

The first result is stored in the write's own database transaction (ledger.usecases.common.idempotent)
and comes back on a replay exactly as it was first returned: timestamps and dates are stored tagged, so
the replayed body is the original body, byte for byte once dumped.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from typing import Any

from ledger.actors import Actor, as_actor
from ledger.ports import UnitOfWork
from ledger.usecases.common import idempotent

# Per caller, apart from the ledger flows' own records; the fingerprint names the operation.
STAFF_SCOPE_SUFFIX = "#staff"
_DATETIME_TAG = "$datetime"
_DATE_TAG = "$date"


def once_per_key(
    uow: UnitOfWork,
    *,
    actor: Actor | str,
    key: str | None,
    request: Mapping[str, Any],
    now: dt.datetime,
    operation: Callable[[], dict[str, Any]],
) -> dict[str, Any]:
    """Run `operation`; with a key, only once: same key and request → the stored result, a different
    request → IdempotencyMismatch, the key still in flight → IdempotencyInFlight."""
    if key is None:
        return operation()
    stored = idempotent(
        uow,
        scope=as_actor(actor).name + STAFF_SCOPE_SUFFIX,
        key=key,
        request=storable(dict(request)),
        now=now,
        operation=lambda: storable(operation()),
    )
    restored: dict[str, Any] = restored_from(stored)
    return restored


def storable(value: Any) -> Any:
    """JSON-ready data: datetimes and dates tagged, tuples as lists."""
    if isinstance(value, dt.datetime):
        return {_DATETIME_TAG: value.isoformat()}
    if isinstance(value, dt.date):
        return {_DATE_TAG: value.isoformat()}
    if isinstance(value, Mapping):
        return {str(name): storable(item) for name, item in value.items()}
    if isinstance(value, list | tuple):
        return [storable(item) for item in value]
    assert value is None or isinstance(value, str | int | float | bool), f"cannot store {type(value)}"
    return value


def restored_from(value: Any) -> Any:
    """The inverse of `storable`."""
    if isinstance(value, dict):
        if set(value) == {_DATETIME_TAG}:
            return dt.datetime.fromisoformat(value[_DATETIME_TAG])
        if set(value) == {_DATE_TAG}:
            return dt.date.fromisoformat(value[_DATE_TAG])
        return {name: restored_from(item) for name, item in value.items()}
    if isinstance(value, list):
        return [restored_from(item) for item in value]
    return value
