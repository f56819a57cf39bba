"""The street pot: staff open a voting round on a street's pot and add proposals, households vote (one vote
per household per round, changeable until it closes), and closing the round pays the winner's outlet from the
pot through the ordinary spend path, once, with a reversal for staff when it must be undone."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

from ledger.actors import Actor, as_actor
from ledger.clock import rfc3339
from ledger.errors import Conflict, Forbidden, LedgerError, NotAllowedHere, NotFound, ValidationFailed
from ledger.places import Outlet, Scheme
from ledger.ports import UnitOfWork
from ledger.records import LotRecord
from ledger.rules import Rules, parse_rules
from ledger.street_pot import (
    MAX_PROPOSALS_PER_ROUND,
    Proposal,
    Result,
    VotingRound,
    check_closing_time,
    check_title,
    count,
)
from ledger.units import MAX_AMOUNT_MINOR, Unit
from ledger.usecases import flows
from ledger.usecases.common import idempotent, new_id
from ledger.usecases.holds import locked_wallet
from ledger.usecases.redemptions import payable_account
from ledger.usecases.replays import once_per_key
from ledger.usecases.requests import outlet_for, require_member
from ledger.usecases.schemes import get_scheme
from ledger.usecases.spending import plan_under_rules
from ledger.usecases.staff_log import record_action

MAX_REASON_LENGTH = 200
PAYMENT_SCOPE = "street-pot"  # one scope whoever closes: the round's key pays once across every actor
SYSTEM_ACTOR = "system:street-pot"  # closes a round whose time has passed, on the next visit


@dataclasses.dataclass(frozen=True)
class ClosedRound:
    """A closed round: what the count came to and the payment's transaction (None when nothing was bought)."""

    round_id: str
    outcome: str
    winner_proposal_id: str | None
    payment_transaction_id: str | None


def street_and_scheme(uow: UnitOfWork, street_id: str, slug: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """A street (a collective resident) and a scheme it belongs to, or NotFound."""
    street = uow.people.resident(street_id) if len(street_id) <= 36 else None
    if street is None or street["kind"] != "collective":
        raise NotFound("no such street")
    scheme = get_scheme(uow, slug)
    require_member(uow, street_id, scheme)
    return street, scheme


def voting_round(uow: UnitOfWork, round_id: str, *, lock: bool = False) -> VotingRound:
    """A round by id (NotFound otherwise); with `lock`, held until commit so votes and the close queue."""
    if lock:
        uow.activity.lock(f"street-pot-round:{round_id}")
    row = uow.street_pot.round(round_id) if len(round_id) <= 36 else None
    if row is None:
        raise NotFound("no such voting round")
    return as_voting_round(row)


def as_voting_round(row: Mapping[str, Any]) -> VotingRound:
    """A stored round as the domain's value."""
    return VotingRound(
        row["id"], row["street_id"], row["scheme_id"], row["closes_at"], row["opened_at"], row["closed_at"]
    )


def proposals_of(uow: UnitOfWork, round_id: str) -> list[Proposal]:
    """A round's proposals with their household vote counts."""
    return [
        Proposal(
            row["id"],
            row["title"],
            row["cost_minor"],
            row["outlet_id"],
            row["outlet_name"],
            row["added_at"],
            row["votes"],
        )
        for row in uow.street_pot.proposals(round_id)
    ]


def delivers(outlet: Mapping[str, Any], scheme: Mapping[str, Any], rules: Rules) -> bool:
    """True when the outlet may be paid from the scheme: approved for it, and of a kind its rules allow."""
    return Scheme.from_record(scheme, rules.spending).may_be_spent_at(Outlet.from_record(outlet))


def _lot_categories(scheme: Mapping[str, Any], rules: Rules, outlet: Mapping[str, Any]) -> frozenset[str]:
    return Scheme.from_record(scheme, rules.spending).lot_categories_at(Outlet.from_record(outlet))


def open_round(
    uow: UnitOfWork,
    *,
    street_id: str,
    slug: str,
    closes_at: dt.datetime,
    now: dt.datetime,
    zone: dt.tzinfo,
    actor: Actor | str,
    idempotency_key: str | None = None,
) -> str:
    """Open a round of voting on a street's pot until `closes_at`; one open round per street and scheme."""

    def operation() -> dict[str, Any]:
        _, scheme = street_and_scheme(uow, street_id, slug)
        uow.activity.lock(f"street-pot:{street_id}:{scheme['id']}")
        close_due(uow, street_id=street_id, scheme_id=scheme["id"], now=now, zone=zone)
        if uow.street_pot.open_round(street_id, scheme["id"]) is not None:
            raise Conflict("this street already has an open round: close it before opening another")
        problem = check_closing_time(closes_at, now)
        if problem is not None:
            raise ValidationFailed(problem)
        round_id = new_id()
        uow.street_pot.add_round(
            id=round_id,
            street_id=street_id,
            scheme_id=scheme["id"],
            closes_at=closes_at,
            opened_at=now,
            opened_by=as_actor(actor).name,
        )
        detail = {"round_id": round_id, "scheme": slug, "closes_at": rfc3339(closes_at)}
        record_action(uow, actor=actor, action="street_pot.open", target=street_id, detail=detail, now=now)
        return {"round_id": round_id}

    request = {"op": "street_pot.open", "street": street_id, "slug": slug, "closes_at": rfc3339(closes_at)}
    made = once_per_key(uow, actor=actor, key=idempotency_key, request=request, now=now, operation=operation)
    return str(made["round_id"])


def add_proposal(
    uow: UnitOfWork,
    *,
    round_id: str,
    title: str,
    cost_minor: int,
    outlet_id: str,
    now: dt.datetime,
    actor: Actor | str,
    idempotency_key: str | None = None,
) -> str:
    """Add something the pot could buy (title, cost in the scheme's unit, outlet) to an open round."""
    title = " ".join(title.split())

    def operation() -> dict[str, Any]:
        voting = voting_round(uow, round_id, lock=True)
        if not voting.takes_votes(now):
            raise Conflict("this round has closed: open a new round to add proposals")
        problem = check_title(title)
        if problem is not None:
            raise ValidationFailed(f"title: {problem}")
        if type(cost_minor) is not int or not 0 < cost_minor <= MAX_AMOUNT_MINOR:
            raise ValidationFailed("cost_minor: a positive whole number in the scheme's unit")
        scheme = uow.schemes.get(id=voting.scheme_id)
        if not delivers(outlet_for(uow, outlet_id), scheme, parse_rules(scheme["rules"])):
            raise NotAllowedHere(f"this outlet does not take {scheme['name']}: choose one that does")
        if uow.street_pot.proposal_count(round_id) >= MAX_PROPOSALS_PER_ROUND:
            raise Conflict(f"a round has at most {MAX_PROPOSALS_PER_ROUND} proposals")
        proposal_id = new_id()
        uow.street_pot.add_proposal(
            id=proposal_id,
            round_id=round_id,
            title=title,
            cost_minor=cost_minor,
            outlet_id=outlet_id,
            added_at=now,
            added_by=as_actor(actor).name,
        )
        detail = {"round_id": round_id, "title": title, "cost_minor": cost_minor, "outlet_id": outlet_id}
        target = voting.street_id
        record_action(uow, actor=actor, action="street_pot.propose", target=target, detail=detail, now=now)
        return {"proposal_id": proposal_id}

    request = {"op": "street_pot.propose", "round": round_id, "title": title, "cost": cost_minor}
    made = once_per_key(
        uow,
        actor=actor,
        key=idempotency_key,
        request={**request, "outlet": outlet_id},
        now=now,
        operation=operation,
    )
    return str(made["proposal_id"])


def cast_vote(
    uow: UnitOfWork, *, household_id: str, round_id: str, proposal_id: str, now: dt.datetime
) -> bool:
    """A household's vote in an open round of its own street: its first, or a change of mind (True when it
    replaced an earlier vote). Whichever of the household's cards is used, it is the household's one vote."""
    voting = voting_round(uow, round_id, lock=True)
    membership = uow.people.membership(household_id, voting.scheme_id)
    if membership is None or membership["collective_id"] != voting.street_id:
        raise Forbidden("only households on this street can vote on its pot")
    if not voting.takes_votes(now):
        raise Conflict("voting in this round has closed")
    if proposal_id not in {proposal.id for proposal in proposals_of(uow, round_id)}:
        raise NotFound("no such proposal in this round")
    earlier = uow.street_pot.vote_of(round_id, household_id)
    uow.street_pot.set_vote(round_id, household_id, proposal_id, now)
    return earlier is not None


def close_round(
    uow: UnitOfWork, *, round_id: str, now: dt.datetime, zone: dt.tzinfo, actor: Actor | str
) -> ClosedRound:
    """Close a round now (or report how it closed): count the votes and commission the winner, whose outlet
    the pot pays through the ledger. Closing twice, or two people at once, pays once."""
    voting = voting_round(uow, round_id, lock=True)
    row = uow.street_pot.round(round_id)
    if voting.closed_at is not None:
        return ClosedRound(round_id, row["outcome"], row["winner_proposal_id"], row["payment_transaction_id"])
    scheme = uow.schemes.get(id=voting.scheme_id)
    rules = parse_rules(scheme["rules"])
    uow.activity.lock_wallet(voting.street_id, scheme["id"])
    lots = locked_wallet(uow, voting.street_id, scheme["id"], now)
    spent_today = uow.activity.spent_on_day(voting.street_id, scheme["id"], now)

    def affordable(proposal: Proposal) -> bool:
        return _can_pay(uow, proposal, scheme, rules, lots, spent_today, now)

    result = count(proposals_of(uow, round_id), affordable)
    who = as_actor(actor)
    payment = (
        None if result.winner is None else _pay(uow, voting, scheme, rules, result, lots, now, zone, who)
    )
    closed = uow.street_pot.close(
        round_id,
        closed_at=now,
        closed_by=who.name,
        outcome=result.outcome,
        winner_proposal_id=None if result.winner is None else result.winner.id,
        payment_transaction_id=payment,
    )
    assert closed, "the round's lock is held: nobody else can have closed it"
    detail: dict[str, Any] = {
        "round_id": round_id,
        "outcome": result.outcome,
        "payment_transaction_id": payment,
    }
    if result.winner is not None:
        detail.update(proposal_id=result.winner.id, cost_minor=result.winner.cost_minor)
    record_action(uow, actor=who, action="street_pot.close", target=voting.street_id, detail=detail, now=now)
    winner_id = None if result.winner is None else result.winner.id
    return ClosedRound(round_id, result.outcome, winner_id, payment)


def close_due(uow: UnitOfWork, *, street_id: str, scheme_id: str, now: dt.datetime, zone: dt.tzinfo) -> None:
    """Close the street's round in the scheme if its closing time has passed (on the next visit)."""
    row = uow.street_pot.open_round(street_id, scheme_id)
    if row is not None and row["closes_at"] <= now:
        close_round(uow, round_id=row["id"], now=now, zone=zone, actor=SYSTEM_ACTOR)


def _can_pay(
    uow: UnitOfWork,
    proposal: Proposal,
    scheme: Mapping[str, Any],
    rules: Rules,
    lots: Sequence[LotRecord],
    spent_today_minor: int,
    now: dt.datetime,
) -> bool:
    """True when the pot could pay this proposal's outlet now under every rule a spend there meets."""
    outlet = uow.registry.outlet(proposal.outlet_id)
    if outlet is None:
        return False
    place, here = Scheme.from_record(scheme, rules.spending), Outlet.from_record(outlet)
    if not place.may_be_spent_at(here):
        return False
    try:
        plan_under_rules(
            rules.spending,
            proposal.cost_minor,
            lots,
            spent_today_minor=spent_today_minor,
            now=now,
            categories=place.lot_categories_at(here),
            unit=Unit(scheme["unit"]),
        )
    except LedgerError:
        return False
    return True


def _pay(
    uow: UnitOfWork,
    voting: VotingRound,
    scheme: Mapping[str, Any],
    rules: Rules,
    result: Result,
    lots: Sequence[LotRecord],
    now: dt.datetime,
    zone: dt.tzinfo,
    actor: Actor,
) -> str:
    """The pot pays the winner's outlet: a redemption by the street's wallet there, keyed by the round."""
    winner = result.winner
    assert winner is not None and winner.votes > 0
    outlet = outlet_for(uow, winner.outlet_id)
    key = f"street-pot-round:{voting.id}"
    metadata = {"street_pot_round_id": voting.id, "proposal_id": winner.id, "title": winner.title}

    def operation() -> dict[str, Any]:
        payable = payable_account(uow, winner.outlet_id, scheme["unit"], now)
        return flows.draw(
            uow,
            scheme,
            voting.street_id,
            winner.cost_minor,
            payable,
            _lot_categories(scheme, rules, outlet),
            now,
            kind="redeem",
            actor=actor.name,
            key=key,
            outlet_id=winner.outlet_id,
            metadata=metadata,
            zone=zone,
            lots=lots,
        )

    request = {"op": "street_pot.pay", "round": voting.id, "proposal": winner.id, "amount": winner.cost_minor}
    paid = idempotent(uow, scope=PAYMENT_SCOPE, key=key, request=request, now=now, operation=operation)
    return str(paid["transaction_id"])


def reverse_payment(
    uow: UnitOfWork,
    *,
    round_id: str,
    reason: str,
    now: dt.datetime,
    actor: Actor | str,
    idempotency_key: str | None = None,
) -> str:
    """Undo a round's payment with a reversing transaction (the original stays); the pot is refilled."""
    reason = " ".join(reason.split())

    def operation() -> dict[str, Any]:
        voting = voting_round(uow, round_id, lock=True)
        payment = uow.street_pot.round(round_id)["payment_transaction_id"]
        if payment is None:
            raise Conflict("nothing was paid in this round")
        if not 0 < len(reason) <= MAX_REASON_LENGTH or not reason.isprintable():
            raise ValidationFailed(f"reason: say why, in {MAX_REASON_LENGTH} characters or fewer")
        if uow.journal.reversal_of(payment) is not None:
            raise Conflict("this payment has already been reversed")
        receipt = flows.reverse(
            uow,
            transaction_id=payment,
            now=now,
            actor=as_actor(actor).name,
            key=f"street-pot-reversal:{round_id}",
            reason=reason,
            kind="refund",
        )
        detail = {"round_id": round_id, "payment_transaction_id": payment, "reason": reason}
        detail["reversal_transaction_id"] = receipt.transaction_id
        record_action(
            uow, actor=actor, action="street_pot.reverse", target=voting.street_id, detail=detail, now=now
        )
        return {"transaction_id": receipt.transaction_id}

    request = {"op": "street_pot.reverse", "round": round_id, "reason": reason}
    made = once_per_key(uow, actor=actor, key=idempotency_key, request=request, now=now, operation=operation)
    return str(made["transaction_id"])
