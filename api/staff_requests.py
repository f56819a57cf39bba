"""What a staff request carries besides its body: who is acting, from where, and an Idempotency-Key."""

from __future__ import annotations

from flask import request

from api.auth import current_principal, idempotency_key
from ledger.actors import Actor, RequestOrigin


def current_actor() -> Actor:
    """The authenticated caller with the key it used and its address (`request.remote_addr`: the
    client's own address once a trusted proxy's forwarded headers are applied, else the peer's)."""
    principal = current_principal()
    return Actor(principal.actor, RequestOrigin(key_id=principal.key_id, remote_address=request.remote_addr))


def optional_idempotency_key() -> str | None:
    """The Idempotency-Key when one was sent (staff writes honour it but do not require it)."""
    return idempotency_key() if request.headers.get("Idempotency-Key", "").strip() else None
