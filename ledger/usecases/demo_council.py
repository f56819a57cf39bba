"""The demo council's residents, written as they are for the demo (the seeder's data, not a caseworker's)."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

from ledger.cards.token import CardSigningKey
from ledger.ports import UnitOfWork
from ledger.usecases.cards import issue_card
from ledger.usecases.common import new_id
from ledger.usecases.schemes import list_schemes

SEED_ACTOR = "system:seed"
DEMO_REFERRAL = "demo referral"


@dataclasses.dataclass(frozen=True)
class SeededResident:
    """A demo resident: their pseudonymous id and the card they were given."""

    resident_id: str
    card_number: str
    card_token: str


def any_scheme_exists(uow: UnitOfWork) -> bool:
    """True once any scheme exists (the council is set up, seeded or not)."""
    return bool(list_schemes(uow, limit=1, after=""))


def seed_resident(
    uow: UnitOfWork,
    *,
    kind: str,
    details: Mapping[str, Any],
    scheme_ids: Sequence[str],
    collective_id: str | None,
    card_key: CardSigningKey,
    now: dt.datetime,
) -> SeededResident:
    """Add a demo resident, their memberships and a card in one transaction.

    The eligibility check is skipped on purpose: the demo's birth dates are drawn at random, and a demo
    teenager who turns 13 next month is still a useful demo (enrol_member checks every real enrolment)."""
    resident_id = new_id()
    uow.people.add_resident(id=resident_id, kind=kind, details=dict(details), now=now)
    for scheme_id in scheme_ids:
        uow.people.add_membership(
            resident_id=resident_id,
            scheme_id=scheme_id,
            collective_id=collective_id,
            referral=DEMO_REFERRAL,
            actor=SEED_ACTOR,
            now=now,
        )
    issued = issue_card(uow, resident_id=resident_id, key=card_key, now=now)
    return SeededResident(resident_id, issued.number, issued.token)
