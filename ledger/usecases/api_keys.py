"""API keys: ≥ 128 random bits, shown once, stored as a SHA-256 hash, bound to a role (and an outlet)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import secrets

from ledger.errors import Conflict, NotFound, ValidationFailed
from ledger.ports import UnitOfWork
from ledger.usecases.common import new_id
from ledger.usecases.residents import plausible_id

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
    if role == "device" and outlet_id is None:
        raise ValidationFailed("a device key is bound to one outlet: name the outlet its kiosk stands in")
    if role != "device" and outlet_id is not None:
        raise ValidationFailed(f"only a device key is bound to an outlet; {with_article(role)} key is not")
    if outlet_id is not None and (not plausible_id(outlet_id) or uow.registry.outlet(outlet_id) is None):
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
    """Revoke a key; it stops working at once. NotFound if there is no such key, Conflict if revoked."""
    key = uow.registry.api_key(key_id) if plausible_id(key_id) else None
    if key is None:
        raise NotFound(f"no API key {key_id} (`clubcard keys list` shows every key id)")
    if key["revoked_at"] is not None:
        raise Conflict(f"API key {key_id} was already revoked at {key['revoked_at']:%Y-%m-%d %H:%M} UTC")
    if not uow.registry.revoke_api_key(key_id, now):
        raise Conflict(f"API key {key_id} was revoked by someone else just now")


@dataclasses.dataclass(frozen=True)
class KeySummary:
    """An API key as staff may see it: never its secret or its hash."""

    key_id: str
    role: str
    outlet_id: str | None
    label: str
    created_at: dt.datetime
    revoked_at: dt.datetime | None


def list_keys(uow: UnitOfWork) -> list[KeySummary]:
    """Every API key, oldest first, revoked ones included."""
    return [
        KeySummary(
            row["id"], row["role"], row["outlet_id"], row["label"], row["created_at"], row["revoked_at"]
        )
        for row in uow.keys.api_keys()
    ]


def outlet_choices(uow: UnitOfWork, limit: int = 5) -> tuple[list[tuple[str, str]], bool]:
    """Up to ``limit`` outlets as (id, name), and whether there are more: a hint for a missing outlet."""
    outlets = uow.registry.outlets(limit=limit + 1)
    return [(outlet["id"], outlet["name"]) for outlet in outlets[:limit]], len(outlets) > limit


def with_article(role: str) -> str:
    """A role with its indefinite article, as a sentence reads it: "an admin", "a device"."""
    return f"{'an' if role[0] in 'aeiou' else 'a'} {role}"
