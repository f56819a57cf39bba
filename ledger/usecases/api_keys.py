"""API keys: ≥ 128 random bits, shown once, stored as a SHA-256 hash, bound to a role (and an outlet)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import secrets

from ledger.errors import NotFound, ValidationFailed
from ledger.ports import UnitOfWork
from ledger.usecases.common import new_id

ROLES = ("admin", "scheme_manager", "caseworker", "finance", "auditor", "device")
KEY_RANDOM_BYTES = 24  # 192 bits: hashing with SHA-256 is enough for a key this random (no need for argon2)


@dataclasses.dataclass(frozen=True)
class Principal:
    """Who is calling: a key's id, role and (for a device) its outlet."""

    key_id: str
    role: str
    outlet_id: str | None
    label: str

    @property
    def actor(self) -> str:
        """How the ledger records this caller."""
        return f"{self.role}:{self.key_id}"


@dataclasses.dataclass(frozen=True)
class NewKey:
    """A freshly created key: the secret is shown once and never stored."""

    principal: Principal
    secret: str


def hash_secret(secret: str) -> str:
    """The stored form of a key."""
    return hashlib.sha256(secret.encode()).hexdigest()


def create_key(uow: UnitOfWork, *, role: str, outlet_id: str | None, label: str, now: dt.datetime) -> NewKey:
    """Create a key for a role; a device key must name its outlet, other roles must not."""
    if role not in ROLES:
        raise ValidationFailed(f"role is one of {', '.join(ROLES)}")
    if (role == "device") != (outlet_id is not None):
        raise ValidationFailed("a device key is bound to exactly one outlet; staff keys to none")
    if outlet_id is not None and uow.registry.outlet(outlet_id) is None:
        raise NotFound(f"no outlet {outlet_id}")
    secret = f"cc_{role[:3]}_{secrets.token_urlsafe(KEY_RANDOM_BYTES)}"
    key_id = new_id()
    uow.registry.add_api_key(
        id=key_id,
        key_hash=hash_secret(secret),
        prefix=secret[:10],
        role=role,
        outlet_id=outlet_id,
        label=label[:200],
        now=now,
    )
    return NewKey(Principal(key_id, role, outlet_id, label), secret)


def authenticate(uow: UnitOfWork, secret: str) -> Principal | None:
    """The principal of a presented key, or None when unknown or revoked."""
    row = uow.registry.api_key_by_hash(hash_secret(secret))
    if row is None or row["revoked_at"] is not None:
        return None
    return Principal(row["id"], row["role"], row["outlet_id"], row["label"])


def revoke_key(uow: UnitOfWork, key_id: str, now: dt.datetime) -> None:
    """Revoke a key; it stops working at once."""
    if not uow.registry.revoke_api_key(key_id, now):
        raise NotFound(f"no active key {key_id}")
