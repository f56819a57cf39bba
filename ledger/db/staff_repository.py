"""Staff accounts and their server-side sessions (bookkeeping rows, not ledger facts: they may change)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Connection, insert, select, update

from ledger.db.tables import staff_sessions, staff_users


class StaffRepository:
    """Rows of staff_users and staff_sessions."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    def add_user(self, **values: Any) -> None:
        """Insert a staff user."""
        self.connection.execute(insert(staff_users).values(**values))

    def user_by_username(self, username: str) -> dict[str, Any] | None:
        """One staff user by login name."""
        row = self.connection.execute(select(staff_users).where(staff_users.c.username == username)).first()
        return None if row is None else dict(row._mapping)

    def user(self, user_id: str) -> dict[str, Any] | None:
        """One staff user by id."""
        row = self.connection.execute(select(staff_users).where(staff_users.c.id == user_id)).first()
        return None if row is None else dict(row._mapping)

    def users(self, limit: int) -> list[dict[str, Any]]:
        """Staff users by login name, at most `limit`."""
        query = select(staff_users).order_by(staff_users.c.username).limit(limit)
        return [dict(row._mapping) for row in self.connection.execute(query)]

    def update_user(self, user_id: str, **values: Any) -> bool:
        """Change a staff user's row; False when there is no such user."""
        result = self.connection.execute(
            update(staff_users).where(staff_users.c.id == user_id).values(**values)
        )
        return result.rowcount == 1

    def accept_totp_step(self, user_id: str, step: int) -> bool:
        """Record a TOTP step as used, only if it is newer than the last one (so a code works once)."""
        last = staff_users.c.last_totp_step
        result = self.connection.execute(
            update(staff_users)
            .where(staff_users.c.id == user_id, (last.is_(None)) | (last < step))
            .values(last_totp_step=step)
        )
        return result.rowcount == 1

    def add_session(self, **values: Any) -> None:
        """Insert a session."""
        self.connection.execute(insert(staff_sessions).values(**values))

    def session(self, token_hash: str) -> dict[str, Any] | None:
        """A session with its user's role, name and status."""
        query = (
            select(
                staff_sessions,
                staff_users.c.username,
                staff_users.c.display_name,
                staff_users.c.role,
                staff_users.c.disabled_at,
            )
            .join(staff_users, staff_users.c.id == staff_sessions.c.user_id)
            .where(staff_sessions.c.token_hash == token_hash)
        )
        row = self.connection.execute(query).first()
        return None if row is None else dict(row._mapping)

    def touch_session(self, token_hash: str, now: dt.datetime) -> None:
        """Move a session's idle clock forward."""
        self.connection.execute(
            update(staff_sessions).where(staff_sessions.c.token_hash == token_hash).values(last_seen_at=now)
        )

    def revoke_session(self, token_hash: str, now: dt.datetime) -> None:
        """End one session."""
        self.connection.execute(
            update(staff_sessions)
            .where(staff_sessions.c.token_hash == token_hash, staff_sessions.c.revoked_at.is_(None))
            .values(revoked_at=now)
        )

    def revoke_sessions_of(self, user_id: str, now: dt.datetime) -> int:
        """End every open session of a user; how many were open."""
        result = self.connection.execute(
            update(staff_sessions)
            .where(staff_sessions.c.user_id == user_id, staff_sessions.c.revoked_at.is_(None))
            .values(revoked_at=now)
        )
        return int(result.rowcount)
