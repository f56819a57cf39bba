"""Top-ups: a sponsor or a resident adds money to a card's wallet through Stripe Checkout.

Starting one creates a Checkout Session and records a pending top-up; nothing is credited then, nor when
the browser comes back. Only Stripe's verified `checkout.session.completed` event credits the wallet
(ledger.usecases.topup_webhooks, through ledger.usecases.stripe_events, which applies each event once)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid
from collections.abc import Callable, Mapping
from typing import Any, Protocol, TypeVar

from ledger.actors import Actor, as_actor
from ledger.errors import (
    CardBlocked,
    IdempotencyMismatch,
    LimitExceeded,
    NotFound,
    TopUpsNotAccepted,
    ValidationFailed,
)
from ledger.ports import UnitOfWork
from ledger.rules import parse_rules, period_start
from ledger.units import Unit, format_amount
from ledger.usecases.common import (
    check_idempotency_key,
    fingerprint_of,
)
from ledger.usecases.requests import REQUEST_SCOPE_SUFFIX, once, require_member
from ledger.usecases.staff_log import record_action

T = TypeVar("T")
RESIDENT_ACTOR_PREFIX = "resident:"
# Our top-up id follows from the caller and their Idempotency-Key: a retry asks Stripe for the same session.
TOPUP_NAMESPACE = uuid.UUID("6f1d3c8e-5b0a-4c1e-9a57-2f4b8d9e7c10")


@dataclasses.dataclass(frozen=True)
class TopUpRequest:
    """Add `amount_minor` pence to the wallet of the card's resident in a scheme."""

    card_number: str
    scheme: str
    amount_minor: int

    def __post_init__(self) -> None:
        if type(self.amount_minor) is not int or self.amount_minor <= 0:
            raise ValidationFailed("amount_minor is a positive whole number of pence")


@dataclasses.dataclass(frozen=True)
class ReturnPages:
    """Where Stripe sends the payer's browser afterwards; these pages only say what happens next."""

    success_url: str
    cancel_url: str


@dataclasses.dataclass(frozen=True)
class CheckoutRequest:
    """What we ask Stripe for: a one-off payment in pounds for one top-up."""

    topup_id: str
    amount_minor: int
    description: str
    pages: ReturnPages
    idempotency_key: str
    metadata: Mapping[str, str]


@dataclasses.dataclass(frozen=True)
class CheckoutSession:
    """The session Stripe made: its id and the page the payer goes to."""

    id: str
    url: str


class CheckoutGateway(Protocol):
    """Stripe Checkout, as the use cases need it (clubcard/stripe_checkout.py implements it)."""

    def create_session(self, request: CheckoutRequest) -> CheckoutSession:
        """Create a Checkout Session; PaymentProviderFailed when Stripe cannot."""
        ...


class Transactions(Protocol):
    """Running work in units of work (clubcard.context.LedgerContext)."""

    def read(self, operation: Callable[[Any], T]) -> T:
        """Run a read on one consistent snapshot."""
        ...

    def write(self, operation: Callable[[Any], T]) -> T:
        """Run a write in one transaction."""
        ...


@dataclasses.dataclass(frozen=True)
class TopUpStarted:
    """A pending top-up and the Checkout page to pay it on."""

    topup_id: str
    status: str
    card_number: str
    scheme: str
    amount_minor: int
    unit: str
    checkout_session_id: str
    checkout_url: str
    created_at: str


@dataclasses.dataclass(frozen=True)
class TopUpPlan:
    """A top-up the scheme's rules allow, for whom, at which rule version."""

    resident_id: str
    scheme_id: str
    scheme_name: str
    rule_version: int


def plan_topup(uow: UnitOfWork, request: TopUpRequest, now: dt.datetime, zone: dt.tzinfo) -> TopUpPlan:
    """Check the card, the membership and the scheme's top-up rule (limits, this month's cap)."""
    card = uow.people.card(request.card_number)
    if card is None:
        raise NotFound(f"no card {request.card_number}: check the number on the card")
    if card["blocked_at"] is not None:
        raise CardBlocked("this card is blocked: add money to the resident's replacement card")
    scheme = uow.schemes.get(slug=request.scheme)
    if scheme is None:
        raise NotFound(f"no scheme {request.scheme}")
    rules = parse_rules(scheme["rules"])
    if scheme["unit"] != Unit.GBP.value or not rules.topups.accepted:
        raise TopUpsNotAccepted(
            f"{scheme['name']} does not accept top-ups: money can only be added to "
            "schemes in pounds whose rules allow it"
        )
    require_member(uow, card["resident_id"], scheme)
    since = period_start("month", now, zone)  # the council's calendar month
    added = uow.topups.added_since(card["resident_id"], scheme["id"], since)
    refusal = rules.topups.check_amount(request.amount_minor, added)
    if refusal is not None:
        raise LimitExceeded(f"{format_amount(request.amount_minor, Unit.GBP)} cannot be added: {refusal}")
    return TopUpPlan(card["resident_id"], scheme["id"], scheme["name"], int(scheme["version"]))


def topup_id_for(actor: str, key: str) -> str:
    """The top-up id that one caller's Idempotency-Key stands for."""
    return str(uuid.uuid5(TOPUP_NAMESPACE, f"{actor}\n{key}"))


def start_topup(
    transactions: Transactions,
    gateway: CheckoutGateway,
    *,
    request: TopUpRequest,
    pages: ReturnPages,
    now: dt.datetime,
    zone: dt.tzinfo,
    actor: Actor | str,
    key: str,
) -> TopUpStarted:
    """Check the rules, create the Checkout Session, record the pending top-up; once per key.

    Stripe is called between two short transactions, never inside one: a slow Stripe must not hold the
    database. Our id (and so Stripe's idempotency key) follows from the caller's key, so a retry after a
    crash gets the same session back, and a session whose top-up was never recorded just expires unpaid."""
    name = as_actor(actor).name
    check_idempotency_key(key)
    fingerprint = {"op": "topup", **dataclasses.asdict(request), "pages": dataclasses.asdict(pages)}
    stored = transactions.read(lambda uow: uow.idempotency.find(name + REQUEST_SCOPE_SUFFIX, key))
    if stored is not None:
        if stored[0] != fingerprint_of(fingerprint):
            raise IdempotencyMismatch("this idempotency key was used for a different request")
        return TopUpStarted(**stored[1])
    plan = transactions.read(lambda uow: plan_topup(uow, request, now, zone))
    topup_id = topup_id_for(name, key)
    session = gateway.create_session(
        CheckoutRequest(
            topup_id=topup_id,
            amount_minor=request.amount_minor,
            description=f"Add money to your {plan.scheme_name} card",
            pages=pages,
            idempotency_key=f"clubcard-topup-{topup_id}",
            metadata={"topup_id": topup_id, "scheme": request.scheme, "card_number": request.card_number},
        )
    )

    return TopUpStarted(
        **transactions.write(
            lambda uow: once(
                uow,
                actor=name,
                key=key,
                request=fingerprint,
                now=now,
                operation=lambda: _record_pending(uow, request, session, now, zone, actor, topup_id),
            )
        )
    )


def _record_pending(
    uow: UnitOfWork,
    request: TopUpRequest,
    session: CheckoutSession,
    now: dt.datetime,
    zone: dt.tzinfo,
    actor: Actor | str,
    topup_id: str,
) -> dict[str, Any]:
    """Record the pending top-up (and, for staff, the staff log entry) after checking the rules again."""
    name = as_actor(actor).name
    checked = plan_topup(uow, request, now, zone)  # again: another top-up may have used the cap meanwhile
    uow.topups.add(
        id=topup_id,
        resident_id=checked.resident_id,
        card_number=request.card_number,
        scheme_id=checked.scheme_id,
        rule_version=checked.rule_version,
        amount_minor=request.amount_minor,
        checkout_session_id=session.id,
        checkout_url=session.url,
        requested_by=name,
        created_at=now,
    )
    if not name.startswith(RESIDENT_ACTOR_PREFIX):  # a resident on their own page is not staff
        detail = {"scheme": request.scheme, "amount_minor": request.amount_minor, "topup_id": topup_id}
        record_action(
            uow, actor=actor, action="topup.start", target=request.card_number, detail=detail, now=now
        )
    started = TopUpStarted(
        topup_id=topup_id,
        status="pending",
        card_number=request.card_number,
        scheme=request.scheme,
        amount_minor=request.amount_minor,
        unit=Unit.GBP.value,
        checkout_session_id=session.id,
        checkout_url=session.url,
        created_at=now.isoformat(),
    )
    return dataclasses.asdict(started)


def read_topup(uow: UnitOfWork, topup_id: str) -> TopUpStarted:
    """A top-up as it stands now (pending, completed or expired), or NotFound."""
    topup = uow.topups.get(topup_id)
    if topup is None:
        raise NotFound(f"no top-up {topup_id}")
    scheme = uow.schemes.get(id=topup["scheme_id"])
    return TopUpStarted(
        topup_id=topup["id"],
        status=topup["status"],
        card_number=topup["card_number"],
        scheme=scheme["slug"],
        amount_minor=topup["amount_minor"],
        unit=Unit.GBP.value,
        checkout_session_id=topup["checkout_session_id"],
        checkout_url=topup["checkout_url"],
        created_at=topup["created_at"].isoformat(),
    )
