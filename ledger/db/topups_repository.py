"""Top-ups started through Stripe Checkout, and the Stripe events already accepted (each once)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Connection, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite

from ledger.db.tables import stripe_events, topups

# A top-up counts towards the monthly cap from the moment it is started until it expires unpaid.
COUNTED_STATUSES = ("pending", "completed")


class TopUpsRepository:
    """Records top-ups and moves each from pending to completed or expired, once."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    def add(self, **row: Any) -> None:
        """Record a pending top-up (columns as in tables.topups)."""
        self.connection.execute(insert(topups).values(status="pending", **row))

    def get(self, topup_id: str) -> dict[str, Any] | None:
        """One top-up by our id."""
        row = self.connection.execute(select(topups).where(topups.c.id == topup_id)).first()
        return None if row is None else _view(row._mapping)

    def by_session(self, checkout_session_id: str) -> dict[str, Any] | None:
        """The top-up a Checkout Session was made for."""
        query = select(topups).where(topups.c.checkout_session_id == checkout_session_id)
        row = self.connection.execute(query).first()
        return None if row is None else _view(row._mapping)

    def added_since(self, resident_id: str, scheme_id: str, since: dt.datetime) -> int:
        """What was started (and not expired) for a resident in a scheme since an instant, in pence."""
        query = select(func.coalesce(func.sum(topups.c.amount_minor), 0)).where(
            topups.c.resident_id == resident_id,
            topups.c.scheme_id == scheme_id,
            topups.c.created_at >= since,
            topups.c.status.in_(COUNTED_STATUSES),
        )
        return int(self.connection.execute(query).scalar_one())

    def resolve(self, topup_id: str, status: str, now: dt.datetime) -> bool:
        """Move a pending top-up to `status`; False when it was already resolved (by another delivery)."""
        result = self.connection.execute(
            update(topups)
            .where(topups.c.id == topup_id, topups.c.status == "pending")
            .values(status=status, resolved_at=now)
        )
        return bool(result.rowcount == 1)

    def record_credit(self, topup_id: str, transaction_id: str) -> None:
        """Name the transaction that credited a completed top-up."""
        self.connection.execute(
            update(topups).where(topups.c.id == topup_id).values(transaction_id=transaction_id)
        )

    def recent_for_resident(self, resident_id: str, *, limit: int) -> list[dict[str, Any]]:
        """A resident's latest top-ups, newest first."""
        query = (
            select(topups)
            .where(topups.c.resident_id == resident_id)
            .order_by(topups.c.created_at.desc(), topups.c.id)
            .limit(limit)
        )
        return [_view(row._mapping) for row in self.connection.execute(query)]


class StripeEventsRepository:
    """The Stripe events accepted so far: one row per event id, inserted with the event's postings."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self.dialect = connection.dialect.name

    def accept(self, event_id: str, event_type: str, now: dt.datetime) -> bool:
        """Record an event; False when it was already recorded (a replay, or a delivery that raced us)."""
        dialect_insert = postgresql.insert if self.dialect == "postgresql" else sqlite.insert
        statement = (
            dialect_insert(stripe_events)
            .values(id=event_id, type=event_type, received_at=now)
            .on_conflict_do_nothing()
            .returning(stripe_events.c.id)  # psycopg reports no rowcount here: a row back means it was new
        )
        return self.connection.execute(statement).first() is not None

    def get(self, event_id: str) -> dict[str, Any] | None:
        """One accepted event."""
        row = self.connection.execute(select(stripe_events).where(stripe_events.c.id == event_id)).first()
        return None if row is None else dict(row._mapping)


def _view(row: Any) -> dict[str, Any]:
    return {**row, "amount_minor": int(row["amount_minor"])}
