"""What the resident's own pages read and keep: their PIN, their short sessions, their history by outlet."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Connection, case, delete, func, insert, select, update

from ledger.db.tables import lots, outlets, postings, resident_pins, resident_sessions, transactions


class ResidentAccessRepository:
    """Rows of resident_pins and resident_sessions, and reads of a resident's own movements."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    def pin_hash(self, resident_id: str) -> str | None:
        """The argon2id hash of a resident's PIN, or None before they set one."""
        query = select(resident_pins.c.pin_hash).where(resident_pins.c.resident_id == resident_id)
        found: str | None = self.connection.execute(query).scalar()
        return found

    def set_pin(self, resident_id: str, pin_hash: str, now: dt.datetime) -> None:
        """Set (or replace) a resident's PIN hash."""
        self.connection.execute(delete(resident_pins).where(resident_pins.c.resident_id == resident_id))
        self.connection.execute(
            insert(resident_pins).values(resident_id=resident_id, pin_hash=pin_hash, set_at=now)
        )

    def add_session(self, **values: Any) -> None:
        """Insert a resident session."""
        self.connection.execute(insert(resident_sessions).values(**values))

    def session(self, token_hash: str) -> dict[str, Any] | None:
        """One resident session by the hash of its token."""
        query = select(resident_sessions).where(resident_sessions.c.token_hash == token_hash)
        row = self.connection.execute(query).first()
        return None if row is None else dict(row._mapping)

    def touch_session(self, token_hash: str, now: dt.datetime) -> None:
        """Move a session's idle clock forward."""
        self.connection.execute(
            update(resident_sessions)
            .where(resident_sessions.c.token_hash == token_hash)
            .values(last_seen_at=now)
        )

    def revoke_session(self, token_hash: str, now: dt.datetime) -> None:
        """End one session."""
        self.connection.execute(
            update(resident_sessions)
            .where(resident_sessions.c.token_hash == token_hash, resident_sessions.c.revoked_at.is_(None))
            .values(revoked_at=now)
        )

    def revoke_sessions_of(self, resident_id: str, now: dt.datetime) -> int:
        """End every session of a resident; how many ended."""
        result = self.connection.execute(
            update(resident_sessions)
            .where(resident_sessions.c.resident_id == resident_id, resident_sessions.c.revoked_at.is_(None))
            .values(revoked_at=now)
        )
        return int(result.rowcount)

    def movements(self, owner_id: str, *, limit: int) -> list[dict[str, Any]]:
        """The latest transactions on an owner's lots, newest first: net amount per scheme, and the name of
        the outlet where it happened (None away from an outlet)."""
        order = (transactions.c.recorded_at, transactions.c.seal_key, transactions.c.id)
        grouped = (
            transactions.c.id,
            transactions.c.kind,
            transactions.c.occurred_at,
            transactions.c.recorded_at,
            transactions.c.seal_key,
            transactions.c.reverses_id,
            outlets.c.name,
            lots.c.scheme_id,
            postings.c.unit,
        )
        query = (
            select(*grouped, func.sum(postings.c.amount_minor).label("amount_minor"))
            .select_from(
                postings.join(lots, lots.c.account_id == postings.c.account_id)
                .join(transactions, transactions.c.id == postings.c.transaction_id)
                .outerjoin(outlets, outlets.c.id == transactions.c.outlet_id)
            )
            .where(lots.c.owner_id == owner_id)
            .group_by(*grouped)
            .order_by(*(column.desc() for column in order))
            .limit(limit)
        )
        return [
            {**row._mapping, "outlet_name": row.name, "amount_minor": int(row.amount_minor)}
            for row in self.connection.execute(query)
        ]

    def totals_by_kind(self, owner_id: str, scheme_id: str) -> list[dict[str, Any]]:
        """Per transaction kind, what came into and went out of an owner's lots in one scheme (one query)."""
        amount = postings.c.amount_minor
        query = (
            select(
                transactions.c.kind,
                func.coalesce(func.sum(case((amount > 0, amount), else_=0)), 0).label("in_minor"),
                func.coalesce(func.sum(case((amount < 0, -amount), else_=0)), 0).label("out_minor"),
            )
            .select_from(
                postings.join(lots, lots.c.account_id == postings.c.account_id).join(
                    transactions, transactions.c.id == postings.c.transaction_id
                )
            )
            .where(lots.c.owner_id == owner_id, lots.c.scheme_id == scheme_id)
            .group_by(transactions.c.kind)
        )
        return [
            {"kind": row.kind, "in_minor": int(row.in_minor), "out_minor": int(row.out_minor)}
            for row in self.connection.execute(query)
        ]
