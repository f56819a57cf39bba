"""Holds: pending two-phase spends and their state changes."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Connection, func, insert, select, update

from ledger.db.rows import hold_from_row
from ledger.db.tables import holds
from ledger.records import HoldRecord


class HoldsRepository:
    """Creates, reads and resolves holds on one connection."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    def create(self, hold: HoldRecord) -> None:
        """Record a new pending hold."""
        self.connection.execute(
            insert(holds).values(
                id=hold.id,
                status=hold.status,
                owner_id=hold.owner_id,
                scheme_id=hold.scheme_id,
                unit=hold.unit.value,
                amount_minor=hold.amount_minor,
                hold_account_id=hold.hold_account_id,
                payable_account_id=hold.payable_account_id,
                outlet_id=hold.outlet_id,
                hold_transaction_id=hold.hold_transaction_id,
                resolved_transaction_id=None,
                expires_at=hold.expires_at,
                created_at=hold.created_at,
            )
        )

    def get(self, hold_id: str, *, lock: bool = False) -> HoldRecord | None:
        """One hold; `lock` keeps others from resolving it until commit."""
        query = select(holds).where(holds.c.id == hold_id)
        if lock:
            query = query.with_for_update()
        row = self.connection.execute(query).first()
        return None if row is None else hold_from_row(row)

    def resolve(self, hold_id: str, status: str, transaction_id: str) -> bool:
        """Move a pending hold to its final status; False if it was no longer pending."""
        result = self.connection.execute(
            update(holds)
            .where(holds.c.id == hold_id, holds.c.status == "pending")
            .values(status=status, resolved_transaction_id=transaction_id)
        )
        return result.rowcount == 1

    def timed_out(self, now: dt.datetime, limit: int, after: str = "") -> list[str]:
        """Ids (after `after`, in order) of pending holds whose timeout has passed."""
        query = (
            select(holds.c.id)
            .where(holds.c.status == "pending", holds.c.expires_at <= now, holds.c.id > after)
            .order_by(holds.c.id)
            .limit(limit)
        )
        return list(self.connection.execute(query).scalars())

    def count_timed_out(self, now: dt.datetime) -> int:
        """How many pending holds are past their timeout."""
        query = select(func.count()).where(holds.c.status == "pending", holds.c.expires_at <= now)
        return int(self.connection.execute(query).scalar_one())

    def timed_out_of_wallet(
        self, owner_id: str, scheme_id: str, now: dt.datetime, *, lock: bool
    ) -> list[HoldRecord]:
        """One wallet's pending holds past their timeout, by id; `lock` keeps others from resolving them."""
        query = (
            select(holds)
            .where(
                holds.c.owner_id == owner_id,
                holds.c.scheme_id == scheme_id,
                holds.c.status == "pending",
                holds.c.expires_at <= now,
            )
            .order_by(holds.c.id)  # one lock order for every writer
        )
        if lock:
            # On PostgreSQL a row resolved while we waited for its lock is re-checked and left out.
            query = query.with_for_update()
        return [hold_from_row(row) for row in self.connection.execute(query)]
