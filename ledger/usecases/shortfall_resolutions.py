"""Offline shortfalls closed by staff with a note (recovered, written off, the kiosk fixed...): once each,
never edited, recorded in the staff log. The shortfall's ledger postings stay exactly as they were."""

from __future__ import annotations

import datetime as dt
from typing import Any

from ledger.actors import Actor, as_actor
from ledger.clock import rfc3339
from ledger.errors import Conflict, NotFound, ValidationFailed
from ledger.ports import UnitOfWork
from ledger.units import format_amount
from ledger.usecases.offline_sync import offline_shortfalls
from ledger.usecases.replays import once_per_key
from ledger.usecases.staff_log import record_action

MAX_NOTE_LENGTH = 1_000
MAX_ID_LENGTH = 36


def _resolution_data(row: dict[str, Any] | None) -> dict[str, Any] | None:
    if row is None:
        return None
    return {
        "note": row["note"],
        "resolved_by": row["resolved_by"],
        "resolved_at": rfc3339(row["resolved_at"]),
    }


def shortfalls_with_resolutions(uow: UnitOfWork, *, limit: int, after: str) -> list[dict[str, Any]]:
    """Shortfalls newest first (as offline_shortfalls lists them), each with its resolution or None."""
    rows = offline_shortfalls(uow, limit=limit, after=after)
    resolutions = uow.oversight.shortfall_resolutions([row["id"] for row in rows])
    return [{**row, "resolution": _resolution_data(resolutions.get(row["id"]))} for row in rows]


def shortfall_detail(uow: UnitOfWork, shortfall_id: str) -> dict[str, Any]:
    """One shortfall as the list shows it, with its scheme's slug and its resolution (NotFound if none)."""
    row = uow.oversight.shortfall(shortfall_id) if len(shortfall_id) <= MAX_ID_LENGTH else None
    if row is None:
        raise NotFound(f"no offline shortfall {shortfall_id}")
    scheme = uow.schemes.get(id=row["scheme_id"])
    resolution = uow.oversight.shortfall_resolutions([shortfall_id]).get(shortfall_id)
    return {
        **row,
        "scheme": scheme["slug"] if scheme else row["scheme_id"],
        "occurred_at": rfc3339(row["occurred_at"]),
        "recorded_at": rfc3339(row["recorded_at"]),
        "shortfall": format_amount(row["shortfall_minor"], row["unit"]),
        "resolution": _resolution_data(resolution),
    }


def _checked_note(note: str) -> str:
    cleaned = note.strip()
    if not cleaned:
        raise ValidationFailed("a note saying how the shortfall was resolved is required")
    if len(cleaned) > MAX_NOTE_LENGTH:
        raise ValidationFailed(f"a note is {MAX_NOTE_LENGTH} characters or fewer")
    if "\x00" in cleaned:
        raise ValidationFailed("text may not contain NUL characters")
    return cleaned


def resolve_shortfall(
    uow: UnitOfWork,
    *,
    shortfall_id: str,
    note: str,
    now: dt.datetime,
    actor: Actor | str,
    idempotency_key: str | None = None,
) -> dict[str, Any]:
    """Close a shortfall with a note; a second resolution is a Conflict, an unknown id NotFound. With an
    idempotency key, once: a retry gets the first answer back."""
    cleaned = _checked_note(note)

    def operation() -> dict[str, Any]:
        shortfall = uow.oversight.shortfall(shortfall_id) if len(shortfall_id) <= MAX_ID_LENGTH else None
        if shortfall is None:
            raise NotFound(f"no offline shortfall {shortfall_id}")
        if uow.oversight.shortfall_resolutions([shortfall_id]):
            raise Conflict("this shortfall was already resolved")
        uow.oversight.resolve_shortfall(shortfall_id, cleaned, as_actor(actor).name, now)
        amount = format_amount(shortfall["shortfall_minor"], shortfall["unit"])
        detail = {"note": cleaned, "shortfall": amount, "card_number": shortfall["card_number"]}
        record_action(
            uow, actor=actor, action="shortfall.resolve", target=shortfall_id, detail=detail, now=now
        )
        return {
            "id": shortfall_id,
            "shortfall": amount,
            "resolution": {"note": cleaned, "resolved_by": as_actor(actor).name, "resolved_at": rfc3339(now)},
        }

    request = {"op": "shortfall.resolve", "id": shortfall_id, "note": cleaned}
    return once_per_key(uow, actor=actor, key=idempotency_key, request=request, now=now, operation=operation)
