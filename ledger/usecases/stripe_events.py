"""Stripe webhook events, applied once each: the event id is recorded in the same transaction as whatever the
event changes, then a handler chosen by the event's type does the work.

Handlers are registered in EVENT_HANDLERS, one line per event type: `handler(uow, event, now) -> str`
returns what it did in words. An event type with no handler is recorded and otherwise ignored.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable, Mapping
from typing import Any

from ledger.errors import ValidationFailed
from ledger.ports import UnitOfWork
from ledger.usecases import settlement_events, topup_webhooks

MAX_EVENT_ID_LENGTH = 255
MAX_EVENT_TYPE_LENGTH = 100


@dataclasses.dataclass(frozen=True)
class StripeEvent:
    """A verified Stripe event: its id, its type and the object it is about (`data.object`)."""

    id: str
    type: str
    data_object: Mapping[str, Any]
    account: str | None = None  # the connected account a Connect event is about (the event's `account`)

    def __post_init__(self) -> None:
        if not self.id or len(self.id) > MAX_EVENT_ID_LENGTH:
            raise ValidationFailed("a Stripe event id is 1 to 255 characters")
        if not self.type or len(self.type) > MAX_EVENT_TYPE_LENGTH:
            raise ValidationFailed("a Stripe event type is 1 to 100 characters")


@dataclasses.dataclass(frozen=True)
class EventOutcome:
    """What became of one delivery: applied, duplicate (already applied) or ignored (a type we do not use)."""

    event_id: str
    type: str
    outcome: str
    detail: str


EventHandler = Callable[[UnitOfWork, StripeEvent, dt.datetime], str]

EVENT_HANDLERS: dict[str, EventHandler] = {
    "checkout.session.completed": topup_webhooks.session_completed,
    "checkout.session.async_payment_succeeded": topup_webhooks.session_completed,
    "checkout.session.expired": topup_webhooks.session_expired,
    "transfer.created": settlement_events.transfer_created,
    "transfer.reversed": settlement_events.transfer_reversed,
    "transfer.failed": settlement_events.transfer_reversed,
    "payout.paid": settlement_events.payout_paid,
}


def apply_stripe_event(uow: UnitOfWork, event: StripeEvent, now: dt.datetime) -> EventOutcome:
    """Record the event and run its handler, in the caller's one transaction; a replay changes nothing."""
    if not uow.stripe_events.accept(event.id, event.type, now):
        return EventOutcome(event.id, event.type, "duplicate", "this event was already received")
    handler = EVENT_HANDLERS.get(event.type)
    if handler is None:
        return EventOutcome(event.id, event.type, "ignored", "no handler for this event type")
    return EventOutcome(event.id, event.type, "applied", handler(uow, event, now))
