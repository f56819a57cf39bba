"""What staff and a street's households see of its pot: the pot, the open round's proposals with household
counts (never names), and each closed round's result and payment."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

from ledger.errors import NotFound
from ledger.ports import UnitOfWork
from ledger.rules import parse_rules
from ledger.street_pot import Proposal
from ledger.usecases.street_pot import as_voting_round, delivers, proposals_of, street_and_scheme
from ledger.wallets import available_to_spend

ROUNDS_SHOWN = 10
MAX_OUTLETS_READ = 1_000


@dataclasses.dataclass(frozen=True)
class Payment:
    """What the pot paid for a round's winner, and whether staff reversed it."""

    transaction_id: str
    amount_minor: int
    outlet_name: str
    paid_at: dt.datetime
    reversal_transaction_id: str | None


@dataclasses.dataclass(frozen=True)
class RoundView:
    """A round as people see it: its proposals with household counts, and how it ended."""

    id: str
    opened_at: dt.datetime
    closes_at: dt.datetime
    closed_at: dt.datetime | None
    takes_votes: bool
    proposals: tuple[Proposal, ...]
    households_voted: int
    outcome: str | None
    winner: Proposal | None
    payment: Payment | None
    my_vote: str | None  # the proposal this household voted for (only on a household's own page)


@dataclasses.dataclass(frozen=True)
class StreetPot:
    """One street's pot in one scheme: what is in it, its open round and its past rounds."""

    street_id: str
    street_name: str
    slug: str
    scheme_name: str
    unit: str
    pot_minor: int
    households: int
    open_round: RoundView | None
    past_rounds: tuple[RoundView, ...]
    outlets: tuple[tuple[str, str], ...]  # (id, name) of the outlets a proposal may name


@dataclasses.dataclass(frozen=True)
class StreetPotSummary:
    """A line of the list of street pots."""

    street_id: str
    street_name: str
    slug: str
    scheme_name: str
    unit: str
    pot_minor: int
    open_round_closes_at: dt.datetime | None


def pot_minor(uow: UnitOfWork, street_id: str, scheme_id: str, now: dt.datetime) -> int:
    """What the street's wallet in the scheme holds to spend now (expired lots left out)."""
    return available_to_spend(uow.lots.wallet(street_id, scheme_id), now, None)


def street_pots(uow: UnitOfWork, *, now: dt.datetime) -> list[StreetPotSummary]:
    """Every street's pot in every scheme it belongs to, by street name."""
    found = []
    for row in uow.street_pot.streets():
        open_row = uow.street_pot.open_round(row["street_id"], row["scheme_id"])
        found.append(
            StreetPotSummary(
                row["street_id"],
                row["street_name"] or "A street whose details were erased",
                row["slug"],
                row["scheme_name"],
                row["unit"],
                pot_minor(uow, row["street_id"], row["scheme_id"], now),
                None if open_row is None else open_row["closes_at"],
            )
        )
    return found


def street_pot(
    uow: UnitOfWork, *, street_id: str, slug: str, now: dt.datetime, household_id: str | None = None
) -> StreetPot:
    """One street's pot in a scheme, as staff see it, or as one of its households does (with its vote)."""
    street, scheme = street_and_scheme(uow, street_id, slug)
    rows = uow.street_pot.rounds(street_id, scheme["id"], limit=ROUNDS_SHOWN)
    rounds = [_round_view(uow, row, now, household_id) for row in rows]
    rules = parse_rules(scheme["rules"])
    outlets = tuple(
        (outlet["id"], outlet["name"])
        for outlet in uow.registry.outlets(limit=MAX_OUTLETS_READ)
        if delivers(outlet, scheme, rules)
    )
    details = street["details"] or {}
    return StreetPot(
        street_id=street_id,
        street_name=details.get("name") or "A street whose details were erased",
        slug=scheme["slug"],
        scheme_name=scheme["name"],
        unit=scheme["unit"],
        pot_minor=pot_minor(uow, street_id, scheme["id"], now),
        households=uow.street_pot.households(street_id, scheme["id"]),
        open_round=next((view for view in rounds if view.closed_at is None), None),
        past_rounds=tuple(view for view in rounds if view.closed_at is not None),
        outlets=tuple(sorted(outlets, key=lambda item: item[1])),
    )


def pots_of_household(uow: UnitOfWork, *, household_id: str, now: dt.datetime) -> list[StreetPot]:
    """The pots of the streets a household belongs to (one per scheme in which it has a street)."""
    pots = []
    for membership in uow.people.memberships_of(household_id):
        street_id = membership["collective_id"]
        if street_id is None:
            continue
        scheme = uow.schemes.get(id=membership["scheme_id"])
        try:
            pots.append(
                street_pot(uow, street_id=street_id, slug=scheme["slug"], now=now, household_id=household_id)
            )
        except NotFound:
            continue  # the street left the scheme: it has no pot there any more
    return pots


def _round_view(
    uow: UnitOfWork, row: dict[str, Any], now: dt.datetime, household_id: str | None
) -> RoundView:
    proposals = tuple(proposals_of(uow, row["id"]))
    winner = next((p for p in proposals if p.id == row["winner_proposal_id"]), None)
    payment = None
    if row["payment_transaction_id"] is not None and winner is not None:
        paid = uow.journal.get(row["payment_transaction_id"])
        payment = Payment(
            transaction_id=paid.id,
            amount_minor=winner.cost_minor,
            outlet_name=winner.outlet_name,
            paid_at=paid.recorded_at,
            reversal_transaction_id=uow.journal.reversal_of(paid.id),
        )
    my_vote = None if household_id is None else uow.street_pot.vote_of(row["id"], household_id)
    voting = as_voting_round(row)
    return RoundView(
        id=row["id"],
        opened_at=row["opened_at"],
        closes_at=row["closes_at"],
        closed_at=row["closed_at"],
        takes_votes=voting.takes_votes(now),
        proposals=proposals,
        households_voted=uow.street_pot.households_voted(row["id"]),
        outcome=row["outcome"],
        winner=winner,
        payment=payment,
        my_vote=my_vote,
    )
