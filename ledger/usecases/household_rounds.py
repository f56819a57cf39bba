"""A household's street rounds closed on time: a round past its closing time closes on the next visit."""

from __future__ import annotations

import datetime as dt

from ledger.ports import UnitOfWork
from ledger.usecases.street_pot import close_due


def close_rounds_due_for_household(
    uow: UnitOfWork, *, household_id: str, now: dt.datetime, zone: dt.tzinfo
) -> None:
    """Close every round past its closing time on the streets this household belongs to."""
    for membership in uow.people.memberships_of(household_id):
        if membership["collective_id"] is not None:
            close_due(
                uow,
                street_id=membership["collective_id"],
                scheme_id=membership["scheme_id"],
                now=now,
                zone=zone,
            )
