"""Staff accounts for the web UI: argon2id passwords, a mandatory TOTP second factor, recovery codes."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import secrets

import pyotp
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from ledger.errors import Conflict, NotFound, ValidationFailed
from ledger.ports import UnitOfWork
from ledger.usecases.common import new_id

STAFF_ROLES = ("admin", "scheme_manager", "caseworker", "finance", "auditor")
MINIMUM_PASSWORD_LENGTH = 12
MAXIMUM_PASSWORD_LENGTH = 256  # argon2 hashes anything, but a limit on everything
RECOVERY_CODE_COUNT = 8
TOTP_ISSUER = "Clubcard"
_hasher = PasswordHasher()  # argon2id with the library's current recommended parameters
# Verifying against this keeps an unknown username as slow as a wrong password (no user enumeration).
_DUMMY_HASH = _hasher.hash("not a real password: timing equaliser")


@dataclasses.dataclass(frozen=True)
class StaffUser:
    """A member of staff as the UI sees them."""

    id: str
    username: str
    display_name: str
    role: str
    totp_confirmed: bool
    disabled: bool

    @property
    def actor(self) -> str:
        """How the ledger and the staff log record this person."""
        return f"{self.role}:{self.username}"


@dataclasses.dataclass(frozen=True)
class NewStaffCredentials:
    """What a new (or reset) account is given once: the TOTP secret and the recovery codes."""

    user: StaffUser
    totp_secret: str
    recovery_codes: tuple[str, ...]

    def provisioning_uri(self, issuer: str = TOTP_ISSUER) -> str:
        """The otpauth:// URI an authenticator app reads from a QR code."""
        return pyotp.TOTP(self.totp_secret).provisioning_uri(name=self.user.username, issuer_name=issuer)


def _user(row: dict[str, object]) -> StaffUser:
    return StaffUser(
        id=str(row["id"]),
        username=str(row["username"]),
        display_name=str(row["display_name"]),
        role=str(row["role"]),
        totp_confirmed=row["totp_confirmed_at"] is not None,
        disabled=row["disabled_at"] is not None,
    )


def _code_hash(code: str) -> str:
    return hashlib.sha256(code.replace("-", "").strip().lower().encode()).hexdigest()


def _new_recovery_codes() -> tuple[tuple[str, ...], str]:
    codes = tuple(f"{secrets.token_hex(3)}-{secrets.token_hex(3)}" for _ in range(RECOVERY_CODE_COUNT))
    return codes, json.dumps(sorted(_code_hash(code) for code in codes))


def check_new_password(password: str) -> None:
    """A password staff may choose: long enough, not absurdly long."""
    if not MINIMUM_PASSWORD_LENGTH <= len(password) <= MAXIMUM_PASSWORD_LENGTH:
        raise ValidationFailed(
            f"a password has {MINIMUM_PASSWORD_LENGTH} to {MAXIMUM_PASSWORD_LENGTH} characters"
        )


def create_staff_user(
    uow: UnitOfWork, *, username: str, display_name: str, role: str, password: str, now: dt.datetime
) -> NewStaffCredentials:
    """Create a staff account; its TOTP is enrolled at first sign-in (or from the secret shown now)."""
    username = username.strip().lower()
    if role not in STAFF_ROLES:
        raise ValidationFailed(f"a staff role is one of {', '.join(STAFF_ROLES)}")
    if not 2 <= len(username) <= 64 or not username.replace(".", "").replace("-", "").isalnum():
        raise ValidationFailed("a username has 2 to 64 letters, digits, dots or hyphens")
    check_new_password(password)
    if uow.staff.user_by_username(username) is not None:
        raise Conflict(f"there is already a user called {username}")
    secret = pyotp.random_base32()
    codes, hashes = _new_recovery_codes()
    user_id = new_id()
    uow.staff.add_user(
        id=user_id,
        username=username,
        display_name=(display_name.strip() or username)[:200],
        role=role,
        password_hash=_hasher.hash(password),
        totp_secret=secret,
        totp_confirmed_at=None,
        last_totp_step=None,
        recovery_codes_json=hashes,
        created_at=now,
        disabled_at=None,
    )
    row = uow.staff.user(user_id)
    assert row is not None
    return NewStaffCredentials(_user(row), secret, codes)


def check_password(uow: UnitOfWork, username: str, password: str) -> StaffUser | None:
    """The user whose password this is, or None (unknown, wrong, disabled): callers say only 'wrong'."""
    row = uow.staff.user_by_username(username.strip().lower()[:64])
    stored = str(row["password_hash"]) if row is not None else _DUMMY_HASH
    try:
        _hasher.verify(stored, password[:MAXIMUM_PASSWORD_LENGTH])
    except (VerificationError, InvalidHashError):
        return None
    if row is None or row["disabled_at"] is not None:
        return None
    if _hasher.check_needs_rehash(stored):
        uow.staff.update_user(str(row["id"]), password_hash=_hasher.hash(password))
    return _user(row)


def check_second_factor(uow: UnitOfWork, user_id: str, code: str, now: dt.datetime) -> bool:
    """Accept a current TOTP code (once) or an unused recovery code (consumed); confirms enrolment."""
    row = uow.staff.user(user_id)
    if row is None or row["disabled_at"] is not None:
        return False
    code = code.strip().replace(" ", "")[:32]
    totp = pyotp.TOTP(str(row["totp_secret"]))
    if code.isdigit() and len(code) == totp.digits:
        for drift in (-1, 0, 1):  # one step either side: a phone clock a little off still works
            at = now + dt.timedelta(seconds=drift * totp.interval)
            if secrets.compare_digest(totp.at(at), code):
                step = totp.timecode(at)
                if not uow.staff.accept_totp_step(user_id, step):
                    return False  # this code (or a later one) was already used: a replay
                _confirm(uow, row, now)
                return True
        return False
    hashes = list(json.loads(str(row["recovery_codes_json"])))
    presented = _code_hash(code)
    if presented not in hashes:
        return False
    hashes.remove(presented)
    uow.staff.update_user(user_id, recovery_codes_json=json.dumps(hashes))
    _confirm(uow, row, now)
    return True


def _confirm(uow: UnitOfWork, row: dict[str, object], now: dt.datetime) -> None:
    if row["totp_confirmed_at"] is None:
        uow.staff.update_user(str(row["id"]), totp_confirmed_at=now)


@dataclasses.dataclass(frozen=True)
class PendingEnrolment:
    """A second factor not yet confirmed: what the enrolment page shows."""

    secret: str
    provisioning_uri: str


def pending_enrolment(uow: UnitOfWork, user_id: str) -> PendingEnrolment | None:
    """The TOTP secret to show while the user has never entered a code; None once enrolled."""
    row = uow.staff.user(user_id)
    if row is None or row["totp_confirmed_at"] is not None:
        return None
    secret = str(row["totp_secret"])
    uri = pyotp.TOTP(secret).provisioning_uri(name=str(row["username"]), issuer_name=TOTP_ISSUER)
    return PendingEnrolment(secret, uri)


def staff_user(uow: UnitOfWork, user_id: str) -> StaffUser:
    """One staff user by id."""
    row = uow.staff.user(user_id)
    if row is None:
        raise NotFound(f"no staff user {user_id}")
    return _user(row)


def staff_user_named(uow: UnitOfWork, username: str) -> StaffUser:
    """One staff user by login name."""
    row = uow.staff.user_by_username(username.strip().lower())
    if row is None:
        raise NotFound(f"no staff user called {username}")
    return _user(row)


def list_staff_users(uow: UnitOfWork, limit: int = 500) -> list[StaffUser]:
    """Every staff user, by login name."""
    return [_user(row) for row in uow.staff.users(limit)]


def disable_staff_user(uow: UnitOfWork, username: str, *, actor: str, now: dt.datetime) -> StaffUser:
    """Disable an account and sign it out everywhere."""
    user = staff_user_named(uow, username)
    uow.staff.update_user(user.id, disabled_at=now)
    uow.staff.revoke_sessions_of(user.id, now)
    _log(uow, actor, "staff-user.disable", user, now)
    return staff_user(uow, user.id)


def reset_second_factor(
    uow: UnitOfWork, username: str, *, actor: str, now: dt.datetime
) -> NewStaffCredentials:
    """A new TOTP secret and recovery codes (a lost phone); every session of the user ends."""
    user = staff_user_named(uow, username)
    secret = pyotp.random_base32()
    codes, hashes = _new_recovery_codes()
    uow.staff.update_user(
        user.id, totp_secret=secret, totp_confirmed_at=None, last_totp_step=None, recovery_codes_json=hashes
    )
    uow.staff.revoke_sessions_of(user.id, now)
    _log(uow, actor, "staff-user.reset-totp", user, now)
    return NewStaffCredentials(staff_user(uow, user.id), secret, codes)


def _log(uow: UnitOfWork, actor: str, action: str, user: StaffUser, now: dt.datetime) -> None:
    uow.registry.log_action(
        id=new_id(), actor=actor, action=action, target=f"staff-user:{user.username}", detail={}, now=now
    )
