"""Bearer-key authentication and role checks; object-level checks live in each view."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

from flask import g, request

from api.context import ctx
from api.problems import ApiProblem
from ledger.usecases.api_keys import Principal, authenticate

F = TypeVar("F", bound=Callable[..., Any])
STAFF = ("admin", "scheme_manager", "caseworker", "finance", "auditor")
ANY = (*STAFF, "device")


def current_principal() -> Principal:
    """The authenticated caller (401 problem when there is none)."""
    principal = getattr(g, "principal", None)
    if principal is not None:
        return principal
    header = request.headers.get("Authorization", "")
    scheme, _, secret = header.partition(" ")
    if scheme.lower() != "bearer" or not secret.strip():
        raise ApiProblem(401, "unauthenticated", "send Authorization: Bearer <key>")
    found = ctx().read(lambda uow: authenticate(uow, secret.strip()))
    if found is None:
        raise ApiProblem(401, "unauthenticated", "unknown or revoked key")
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
            return view(*args, **kwargs)

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
