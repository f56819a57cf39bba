"""A resident's way into their own pages: card number plus a PIN (or, if the council allows, date of birth),
short server-side sessions, and reporting a lost card."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import secrets
from typing import Literal

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from ledger.actors import Actor, RequestOrigin
from ledger.cards.token import normalize_card_number
from ledger.errors import ValidationFailed
from ledger.ports import UnitOfWork
from ledger.usecases.cards import block_card
from ledger.usecases.staff_log import record_action

PIN_DIGITS_MINIMUM = 4
PIN_DIGITS_MAXIMUM = 6
SESSION_TOKEN_BYTES = 32
IDLE_TIMEOUT_SECONDS = 10 * 60
ABSOLUTE_LIFETIME_SECONDS = 60 * 60  # an hour at most, however busy: sign in again after
TOUCH_INTERVAL_SECONDS = 30

_hasher = PasswordHasher()  # argon2id: a 4-digit PIN is guessable offline, so make each guess costly
_DUMMY_HASH = _hasher.hash("0000")  # checked against when there is no PIN, so timing tells nothing

Outcome = Literal["signed-in", "wrong", "blocked", "no-pin", "not-allowed"]


@dataclasses.dataclass(frozen=True)
class SignInResult:
    """What a sign-in attempt came to; `resident_id` and `card_number` only when the secret was right."""

    outcome: Outcome
    card_number: str | None = None
    resident_id: str | None = None
    has_pin: bool = False
    replaced: bool = False  # a blocked card that has a replacement


@dataclasses.dataclass(frozen=True)
class ResidentSession:
    """A resident signed in to their own pages, with the card they signed in with."""

    token_hash: str
    resident_id: str
    card_number: str
    has_pin: bool


def _hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _card(uow: UnitOfWork, typed_number: str) -> dict[str, object] | None:
    try:
        number = normalize_card_number(typed_number[:40])
    except ValueError:
        return None
    card: dict[str, object] | None = uow.people.card(number)
    return card


def _verify_pin(stored: str | None, pin: str) -> bool:
    try:
        _hasher.verify(stored or _DUMMY_HASH, pin[: PIN_DIGITS_MAXIMUM + 1])
    except (VerificationError, InvalidHashError):
        return False
    return stored is not None


def _result(uow: UnitOfWork, card: dict[str, object], has_pin: bool) -> SignInResult:
    """The right secret was given: a blocked card still does not get in."""
    if card["blocked_at"] is not None:
        return SignInResult("blocked", replaced=card["replaced_by"] is not None)
    return SignInResult("signed-in", str(card["number"]), str(card["resident_id"]), has_pin=has_pin)


def sign_in_with_pin(uow: UnitOfWork, *, card_number: str, pin: str) -> SignInResult:
    """Check a card number and PIN: signed-in, wrong (unknown card or wrong PIN alike), or blocked."""
    card = _card(uow, card_number)
    stored = None if card is None else uow.resident_access.pin_hash(str(card["resident_id"]))
    if not _verify_pin(stored, pin) or card is None:
        return SignInResult("wrong")
    return _result(uow, card, has_pin=True)


def sign_in_with_date_of_birth(
    uow: UnitOfWork, *, card_number: str, date_of_birth: dt.date, allowed: bool
) -> SignInResult:
    """Check a card number and the holder's date of birth (when the council allows it)."""
    if not allowed:
        return SignInResult("not-allowed")
    card = _card(uow, card_number)
    resident = None if card is None else uow.people.resident(str(card["resident_id"]))
    details = None if resident is None else resident["details"]
    recorded = None if details is None else details.get("date_of_birth")
    if card is None or not recorded or not secrets.compare_digest(recorded, date_of_birth.isoformat()):
        return SignInResult("wrong")
    has_pin = uow.resident_access.pin_hash(str(card["resident_id"])) is not None
    return _result(uow, card, has_pin=has_pin)


def valid_pin(pin: str) -> str:
    """The PIN if it is 4 to 6 digits, not all one digit nor a run like 1234; ValidationFailed otherwise."""
    if not (pin.isascii() and pin.isdigit() and PIN_DIGITS_MINIMUM <= len(pin) <= PIN_DIGITS_MAXIMUM):
        raise ValidationFailed(f"Your PIN must be {PIN_DIGITS_MINIMUM} to {PIN_DIGITS_MAXIMUM} digits")
    if len(set(pin)) == 1 or pin in "0123456789" or pin in "9876543210":
        raise ValidationFailed("Choose a PIN that is harder to guess than repeated or consecutive digits")
    return pin


def set_pin(
    uow: UnitOfWork, *, session: ResidentSession, pin: str, now: dt.datetime, remote_address: str | None
) -> None:
    """Set or change the signed-in resident's PIN (recorded in the staff log, done by the resident)."""
    uow.resident_access.set_pin(session.resident_id, _hasher.hash(valid_pin(pin)), now)
    record_action(
        uow,
        actor=_resident_actor(session.card_number, remote_address),
        action="resident.set-pin",
        target=session.card_number,
        detail={"resident_id": session.resident_id},
        now=now,
    )


def _resident_actor(card_number: str, remote_address: str | None) -> Actor:
    return Actor(f"resident:{card_number}", RequestOrigin(remote_address=remote_address))


def start_session(uow: UnitOfWork, *, result: SignInResult, now: dt.datetime) -> str:
    """Open a session for a successful sign-in; returns the cookie token (shown once)."""
    assert result.outcome == "signed-in" and result.resident_id and result.card_number
    token = secrets.token_urlsafe(SESSION_TOKEN_BYTES)
    uow.resident_access.add_session(
        token_hash=_hash_token(token),
        resident_id=result.resident_id,
        card_number=result.card_number,
        created_at=now,
        last_seen_at=now,
        revoked_at=None,
    )
    return token


def current_session(uow: UnitOfWork, token: str, *, now: dt.datetime) -> ResidentSession | None:
    """The live session for a cookie token, or None (unknown, ended, idle 10 minutes, card blocked)."""
    if not token or len(token) > 128:
        return None
    token_hash = _hash_token(token)
    row = uow.resident_access.session(token_hash)
    if row is None or row["revoked_at"] is not None:
        return None
    idle = (now - row["last_seen_at"]).total_seconds()
    age = (now - row["created_at"]).total_seconds()
    card = uow.people.card(row["card_number"])
    if idle > IDLE_TIMEOUT_SECONDS or age > ABSOLUTE_LIFETIME_SECONDS or card is None or card["blocked_at"]:
        uow.resident_access.revoke_session(token_hash, now)
        return None
    if idle > TOUCH_INTERVAL_SECONDS:
        uow.resident_access.touch_session(token_hash, now)
    has_pin = uow.resident_access.pin_hash(str(row["resident_id"])) is not None
    return ResidentSession(token_hash, str(row["resident_id"]), str(row["card_number"]), has_pin)


def end_session(uow: UnitOfWork, token: str, now: dt.datetime) -> None:
    """Sign out this browser."""
    uow.resident_access.revoke_session(_hash_token(token), now)


def report_lost_card(
    uow: UnitOfWork, *, session: ResidentSession, now: dt.datetime, remote_address: str | None
) -> None:
    """Block the resident's card at once (the same use case as POST /cards/{number}/block, logged as done
    by the resident) and sign them out everywhere; the balance stays with the resident."""
    block_card(
        uow, number=session.card_number, now=now, actor=_resident_actor(session.card_number, remote_address)
    )
    uow.resident_access.revoke_sessions_of(session.resident_id, now)
