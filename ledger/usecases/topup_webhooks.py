"""What Stripe's Checkout events do to a top-up: a paid session credits the wallet from the Stripe clearing
account, once; an expired one marks the top-up expired and credits nothing. Registered by event type in
ledger.usecases.stripe_events, which records each event id in the same transaction."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping
from typing import Any, Protocol

from ledger.ports import UnitOfWork
from ledger.units import AccountKind, Unit, format_amount
from ledger.usecases.common import draft, ensure_account, record, transfer_lines
from ledger.usecases.flows import main_lot

log = logging.getLogger("clubcard.topups")
CLEARING_ACCOUNT = "stripe:clearing:GBP"  # money Stripe has taken for us and not yet paid out to the bank
STRIPE_ACTOR = "stripe"


def complete_topup(uow: UnitOfWork, session: Mapping[str, Any], now: dt.datetime) -> str:
    """`checkout.session.completed`: credit the wallet from the Stripe clearing account, once, if paid."""
    topup = _topup_of(uow, session)
    if topup is None:
        return "no top-up of ours: nothing credited"
    if session.get("payment_status") != "paid":
        return "not paid yet: nothing credited until Stripe says it is"
    if session.get("amount_total") != topup["amount_minor"] or session.get("currency") != "gbp":
        log.warning("top-up %s: Stripe's amount differs from ours; not credited", topup["id"])
        return "the amount paid differs from the top-up: nothing credited, finance to check"
    if not uow.topups.resolve(topup["id"], "completed", now):
        return f"already {topup['status']}: nothing credited"
    scheme = uow.schemes.get(id=topup["scheme_id"])
    wallet = main_lot(uow, scheme, topup["resident_id"], now)
    clearing = ensure_account(
        uow, name=CLEARING_ACCOUNT, unit=Unit.GBP, kind=AccountKind.EXTERNAL, floor_minor=None, now=now
    )
    lines = transfer_lines(Unit.GBP, [(clearing.id, topup["amount_minor"])], wallet)
    assert sum(line.amount_minor for line in lines) == 0, "a top-up's postings balance"
    transaction = draft(
        kind="topup",
        postings=lines,
        now=now,
        actor=STRIPE_ACTOR,
        idempotency_key=f"topup:{topup['id']}",
        scheme_id=topup["scheme_id"],
        rule_version=topup["rule_version"],
        metadata={"topup_id": topup["id"], "checkout_session_id": topup["checkout_session_id"]},
    )
    record(uow, transaction)
    uow.topups.record_credit(topup["id"], transaction.id)
    return f"credited {format_amount(topup['amount_minor'], Unit.GBP)}"


def expire_topup(uow: UnitOfWork, session: Mapping[str, Any], now: dt.datetime) -> str:
    """`checkout.session.expired`: the top-up is marked expired; nothing is credited."""
    topup = _topup_of(uow, session)
    if topup is None:
        return "no top-up of ours"
    if not uow.topups.resolve(topup["id"], "expired", now):
        return f"already {topup['status']}"
    return "expired unpaid: nothing credited"


def _topup_of(uow: UnitOfWork, session: Mapping[str, Any]) -> dict[str, Any] | None:
    session_id = session.get("id")
    if not isinstance(session_id, str):
        return None
    topup: dict[str, Any] | None = uow.topups.by_session(session_id)
    return topup


class CheckoutEvent(Protocol):
    """A verified Stripe event about a Checkout Session (ledger.usecases.stripe_events.StripeEvent)."""

    @property
    def data_object(self) -> Mapping[str, Any]:
        """The session as Stripe sent it."""
        ...


def session_completed(uow: UnitOfWork, event: CheckoutEvent, now: dt.datetime) -> str:
    """`checkout.session.completed` (and `async_payment_succeeded`): credit the top-up if it was paid."""
    return complete_topup(uow, event.data_object, now)


def session_expired(uow: UnitOfWork, event: CheckoutEvent, now: dt.datetime) -> str:
    """`checkout.session.expired`: nothing credited, ever."""
    return expire_topup(uow, event.data_object, now)
