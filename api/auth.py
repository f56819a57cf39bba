"""Bearer-key authentication and role checks; object-level checks live in each view."""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

from flask import current_app, g, request

from api.context import ctx
from api.problems import ApiProblem
from ledger.usecases.api_keys import Principal, authenticate, hash_secret

F = TypeVar("F", bound=Callable[..., Any])
STAFF = ("admin", "scheme_manager", "caseworker", "finance", "auditor")
ANY = (*STAFF, "device")
PRINCIPAL_CACHE_TTL_SECONDS = 1.0  # a key revoked by another process stops working within this
PRINCIPAL_CACHE_MAX_ENTRIES = 10_000  # far more keys than a council has kiosks and staff
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CACHE_EXTENSION = "clubcard.principals"


class PrincipalCache:
    """Key hash -> principal for at most `ttl_seconds`, so a kiosk's spend needs no separate auth read."""

    def __init__(
        self,
        ttl_seconds: float = PRINCIPAL_CACHE_TTL_SECONDS,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        assert 0 <= ttl_seconds <= PRINCIPAL_CACHE_TTL_SECONDS, "a revoked key must stop within a second"
        self.ttl_seconds = ttl_seconds
        self.monotonic = monotonic
        self._entries: dict[str, tuple[float, Principal]] = {}
        self._lock = threading.Lock()

    def get(self, key_hash: str) -> Principal | None:
        """The cached principal of a key hash, unless its entry is older than the TTL."""
        with self._lock:
            entry = self._entries.get(key_hash)
            if entry is None:
                return None
            stored_at, principal = entry
            if self.monotonic() - stored_at >= self.ttl_seconds:
                del self._entries[key_hash]
                return None
            return principal

    def put(self, key_hash: str, principal: Principal) -> None:
        """Remember a principal just read from the database (unknown and revoked keys are never cached)."""
        with self._lock:
            if len(self._entries) >= PRINCIPAL_CACHE_MAX_ENTRIES:
                self._entries.clear()  # bounded memory; the next requests simply read again
            self._entries[key_hash] = (self.monotonic(), principal)

    def clear(self) -> None:
        """Forget every cached principal (after a staff write, which may have revoked a key)."""
        with self._lock:
            self._entries.clear()


def principal_cache() -> PrincipalCache:
    """This app's principal cache, made on first use."""
    cache: PrincipalCache = current_app.extensions.setdefault(CACHE_EXTENSION, PrincipalCache())
    return cache


def current_principal() -> Principal:
    """The authenticated caller (401 problem when there is none)."""
    principal = getattr(g, "principal", None)
    if principal is not None:
        return principal
    header = request.headers.get("Authorization", "")
    scheme, _, secret = header.partition(" ")
    if scheme.lower() != "bearer" or not secret.strip():
        raise ApiProblem(401, "unauthenticated", "send Authorization: Bearer <key>")
    cache = principal_cache()
    key_hash = hash_secret(secret.strip())
    found = cache.get(key_hash)
    if found is None:
        found = ctx().read(lambda uow: authenticate(uow, secret.strip()))
        if found is None:
            raise ApiProblem(401, "unauthenticated", "unknown or revoked key")
        cache.put(key_hash, found)
    g.principal = found
    return found


def requires(*roles: str) -> Callable[[F], F]:
    """Allow only these roles (401 without a key, 403 with the wrong role)."""

    def decorate(view: F) -> F:
        @functools.wraps(view)
        def checked(*args: Any, **kwargs: Any) -> Any:
            principal = current_principal()
            if principal.role not in roles:
                raise ApiProblem(
                    403,
                    "forbidden",
                    forbidden_detail(principal.role, roles),
                    role=principal.role,
                    allowed_roles=list(roles),
                )
            result = view(*args, **kwargs)
            if principal.role != "device" and request.method not in READ_METHODS:
                # A staff write may have revoked a key: in this process it stops working at once
                # (elsewhere within the TTL). Kiosk spends, the hot path, keep the cache.
                principal_cache().clear()
            return result

        doc = checked.__dict__.setdefault("_apidoc", {})
        doc.setdefault("manual_doc", {}).setdefault("security", [{"bearer": []}])
        doc["manual_doc"]["description"] = (view.__doc__ or "").strip() + f"\n\nRoles: {', '.join(roles)}."
        return checked  # type: ignore[return-value]

    return decorate


def with_article(word: str) -> str:
    """The article a role name takes: "an auditor", "a device"."""
    return f"{'an' if word[:1].lower() in 'aeiou' else 'a'} {word}"


def forbidden_detail(role: str, allowed: tuple[str, ...]) -> str:
    """Why a key's role is refused, and which roles may do it."""
    roles = allowed[0] if len(allowed) == 1 else f"{', '.join(allowed[:-1])} or {allowed[-1]}"
    return f"{with_article(role)} key cannot do this; it needs {with_article(roles)} key"


def idempotency_key() -> str:
    """The Idempotency-Key header (quoted or bare); 400 when missing or too long."""
    raw = request.headers.get("Idempotency-Key", "").strip()
    if len(raw) >= 2 and raw[0] == raw[-1] == '"':
        raw = raw[1:-1]
    if not raw:
        raise ApiProblem(400, "idempotency-key-required", "this write needs an Idempotency-Key header")
    if len(raw) > 255:
        raise ApiProblem(400, "idempotency-key-required", "an Idempotency-Key is at most 255 characters")
    return raw
