"""The staff action log: every staff action recorded with who, what, when and from where; read by
auditors and admins, newest first, filtered and paged."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping
from typing import Any

from ledger.actors import Actor, as_actor
from ledger.errors import ValidationFailed
from ledger.ports import UnitOfWork
from ledger.usecases.common import new_id

MAX_FILTER_LENGTH = 200  # the longest target stored


@dataclasses.dataclass(frozen=True)
class StaffAction:
    """One entry of the staff log."""

    id: str
    at: dt.datetime
    actor: str
    action: str
    target: str
    detail: Mapping[str, Any]
    key_id: str | None
    remote_address: str | None


@dataclasses.dataclass(frozen=True)
class StaffLogFilter:
    """Which entries to list: exact actor, action and target; recorded after `after` up to and
    including `up_to` (None: unbounded)."""

    actor: str | None = None
    action: str | None = None
    target: str | None = None
    after: dt.datetime | None = None
    up_to: dt.datetime | None = None

    def __post_init__(self) -> None:
        if self.after is not None and self.up_to is not None and self.after > self.up_to:
            raise ValidationFailed("from must not be later than to")
        for name in ("actor", "action", "target"):
            value = getattr(self, name)
            if value is not None and not (0 < len(value) <= MAX_FILTER_LENGTH and value.isprintable()):
                raise ValidationFailed(f"{name}: 1 to {MAX_FILTER_LENGTH} printable characters")

    def exact(self) -> dict[str, str]:
        """The exact-match filters that were given."""
        given = {"actor": self.actor, "action": self.action, "target": self.target}
        return {name: value for name, value in given.items() if value is not None}


def record_action(
    uow: UnitOfWork,
    *,
    actor: Actor | str,
    action: str,
    target: str,
    detail: Mapping[str, Any],
    now: dt.datetime,
) -> None:
    """Append a staff action to the log with the actor's key id and address (and whom they acted for and
    why, when on someone's behalf), in the caller's transaction."""
    who = as_actor(actor)
    entry = dict(detail)
    if who.on_behalf is not None:
        entry["on_behalf"] = who.on_behalf.as_detail()
    uow.registry.log_action(
        id=new_id(),
        actor=who.name,
        action=action,
        target=target,
        detail=entry,
        now=now,
        key_id=who.origin.key_id,
        remote_address=who.origin.remote_address,
    )


def staff_log_page(
    uow: UnitOfWork, *, where: StaffLogFilter, limit: int, starting_after: str
) -> list[StaffAction]:
    """Up to `limit` entries newest first; `starting_after` is the id of the last entry of the previous
    page (ValidationFailed when it names no entry)."""
    before = None
    if starting_after:
        cursor = uow.registry.staff_action(starting_after) if starting_after.isprintable() else None
        if cursor is None:
            raise ValidationFailed("starting_after is not the id of a staff log entry")
        before = (cursor["at"], cursor["id"])
    rows = uow.registry.staff_actions(
        filters=where.exact(), after=where.after, up_to=where.up_to, before=before, limit=limit
    )
    return [StaffAction(**row) for row in rows]
