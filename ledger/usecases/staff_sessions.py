"""Server-side staff sessions: a random token in the cookie, its hash in the database, an idle timeout."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import secrets

from ledger.ports import UnitOfWork
from ledger.usecases.common import new_id
from ledger.usecases.staff_accounts import StaffUser, staff_user

SESSION_TOKEN_BYTES = 32
DEFAULT_IDLE_TIMEOUT_SECONDS = 30 * 60
ABSOLUTE_LIFETIME_SECONDS = 12 * 60 * 60  # a working day: sign in again tomorrow
TOUCH_INTERVAL_SECONDS = 60  # move the idle clock at most once a minute: one write, not one per page


@dataclasses.dataclass(frozen=True)
class StaffSession:
    """A signed-in member of staff."""

    token_hash: str
    user: StaffUser
    created_at: dt.datetime


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def start_session(
    uow: UnitOfWork, user_id: str, *, remote_address: str, user_agent: str, now: dt.datetime
) -> str:
    """Open a session after both factors passed; returns the cookie token (shown once)."""
    user = staff_user(uow, user_id)
    assert not user.disabled, "a disabled user never reaches a session"
    token = secrets.token_urlsafe(SESSION_TOKEN_BYTES)
    uow.staff.add_session(
        token_hash=_hash(token),
        user_id=user_id,
        created_at=now,
        last_seen_at=now,
        revoked_at=None,
        remote_address=remote_address[:64],
        user_agent=user_agent[:200],
    )
    uow.registry.log_action(
        id=new_id(),
        actor=user.actor,
        action="staff.sign-in",
        target=f"staff-user:{user.username}",
        detail={},
        now=now,
        remote_address=remote_address[:64],
    )
    return token


def current_session(
    uow: UnitOfWork, token: str, *, now: dt.datetime, idle_timeout_seconds: int = DEFAULT_IDLE_TIMEOUT_SECONDS
) -> StaffSession | None:
    """The live session for a cookie token, or None (unknown, revoked, idle too long, user disabled)."""
    if not token or len(token) > 128:
        return None
    token_hash = _hash(token)
    row = uow.staff.session(token_hash)
    if row is None or row["revoked_at"] is not None or row["disabled_at"] is not None:
        return None
    idle = (now - row["last_seen_at"]).total_seconds()
    age = (now - row["created_at"]).total_seconds()
    if idle > idle_timeout_seconds or age > ABSOLUTE_LIFETIME_SECONDS:
        uow.staff.revoke_session(token_hash, now)
        return None
    if idle > TOUCH_INTERVAL_SECONDS:
        uow.staff.touch_session(token_hash, now)
    return StaffSession(token_hash, staff_user(uow, str(row["user_id"])), row["created_at"])


def end_session(uow: UnitOfWork, token: str, now: dt.datetime) -> None:
    """Sign out this browser."""
    uow.staff.revoke_session(_hash(token), now)


def end_every_session(uow: UnitOfWork, user_id: str, *, actor: str, now: dt.datetime) -> int:
    """Sign a user out everywhere (their own choice, or an admin's); how many sessions ended."""
    user = staff_user(uow, user_id)
    ended = uow.staff.revoke_sessions_of(user_id, now)
    uow.registry.log_action(
        id=new_id(),
        actor=actor,
        action="staff.sign-out-everywhere",
        target=f"staff-user:{user.username}",
        detail={"sessions_ended": ended},
        now=now,
    )
    return int(ended)
