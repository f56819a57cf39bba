"""Expiry as scheme managers watch it: what expires soon per scheme and holds past their timeout (an
expiry run is a job: ledger.usecases.expiry_job)."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping
from typing import Any

from ledger.ports import UnitOfWork

OUTLOOK_DAYS = 30
MAX_HOLDS_LISTED = 200


@dataclasses.dataclass(frozen=True)
class SchemeExpiry:
    """One scheme's value about to expire: already past expiry (the next run returns it) and due within
    the outlook, each as lots and value; the first expiry to come."""

    slug: str
    name: str
    unit: str
    due_lots: int
    due_minor: int
    soon_lots: int
    soon_minor: int
    next_expires_at: dt.datetime | None


@dataclasses.dataclass(frozen=True)
class TimedOutHold:
    """A hold whose timeout passed: still pending (the next run releases it) or released by timing out."""

    id: str
    scheme: str
    outlet: str
    unit: str
    amount_minor: int
    status: str
    placed_at: dt.datetime
    timed_out_at: dt.datetime


@dataclasses.dataclass(frozen=True)
class ExpiryRun:
    """What an expiry run did: holds released, lots expired, value returned to each scheme's budget."""

    holds_released: int
    lots_expired: int
    returned: tuple[tuple[str, str, int], ...]  # (scheme slug, unit, value returned in minor units)


def _schemes_by_id(uow: UnitOfWork, scheme_ids: set[str]) -> dict[str, Mapping[str, Any]]:
    found = {scheme_id: uow.schemes.get(id=scheme_id) for scheme_id in scheme_ids}
    return {scheme_id: scheme for scheme_id, scheme in found.items() if scheme is not None}


def expiry_outlook(uow: UnitOfWork, *, now: dt.datetime, days: int = OUTLOOK_DAYS) -> list[SchemeExpiry]:
    """Per scheme with value expiring: what is past expiry now and what expires in the next `days`."""
    due = {row["scheme_id"]: row for row in uow.oversight.expiring_value(None, now)}
    soon = {row["scheme_id"]: row for row in uow.oversight.expiring_value(now, now + dt.timedelta(days=days))}
    schemes = _schemes_by_id(uow, set(due) | set(soon))
    outlook = []
    for scheme_id, scheme in schemes.items():
        past, coming = due.get(scheme_id, {}), soon.get(scheme_id, {})
        outlook.append(
            SchemeExpiry(
                slug=scheme["slug"],
                name=scheme["name"],
                unit=scheme["unit"],
                due_lots=past.get("lots", 0),
                due_minor=past.get("value_minor", 0),
                soon_lots=coming.get("lots", 0),
                soon_minor=coming.get("value_minor", 0),
                next_expires_at=coming.get("first_expires_at"),
            )
        )
    return sorted(outlook, key=lambda item: item.slug)


def holds_past_timeout(
    uow: UnitOfWork, *, now: dt.datetime, limit: int = MAX_HOLDS_LISTED
) -> list[TimedOutHold]:
    """Holds past their timeout, still pending ones first, then those their timeout released."""
    rows = uow.oversight.holds_past_timeout(now, limit)
    schemes = _schemes_by_id(uow, {row["scheme_id"] for row in rows})
    outlets: dict[str, str] = {}
    for outlet_id in {row["outlet_id"] for row in rows if row["outlet_id"]}:
        outlet = uow.registry.outlet(outlet_id)
        outlets[outlet_id] = outlet["name"] if outlet else outlet_id
    return [
        TimedOutHold(
            id=row["id"],
            scheme=schemes[row["scheme_id"]]["slug"] if row["scheme_id"] in schemes else row["scheme_id"],
            outlet=outlets.get(row["outlet_id"] or "", "No outlet"),
            unit=row["unit"],
            amount_minor=int(row["amount_minor"]),
            status=row["status"],
            placed_at=row["created_at"],
            timed_out_at=row["expires_at"],
        )
        for row in rows
    ]


@dataclasses.dataclass(frozen=True)
class ExpiryPage:
    """What the expiry page shows: the outlook per scheme and the holds past their timeout."""

    outlook: tuple[SchemeExpiry, ...]
    holds: tuple[TimedOutHold, ...]


def expiry_page(uow: UnitOfWork, *, now: dt.datetime) -> ExpiryPage:
    """The outlook for the next 30 days and the holds past their timeout, read together."""
    return ExpiryPage(tuple(expiry_outlook(uow, now=now)), tuple(holds_past_timeout(uow, now=now)))
