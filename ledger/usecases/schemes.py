"""Schemes are data: creating one opens its budget; changing its rules appends a version."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from typing import Any

from ledger.actors import Actor, as_actor
from ledger.errors import Conflict, NotFound, ValidationFailed
from ledger.ports import UnitOfWork
from ledger.rules import parse_rules
from ledger.units import AccountKind, Unit
from ledger.usecases.common import ensure_account, new_id
from ledger.usecases.replays import once_per_key
from ledger.usecases.staff_log import record_action

SLUG_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]{1,62}$")


def create_scheme(
    uow: UnitOfWork,
    *,
    slug: str,
    name: str,
    unit: Unit,
    rules: Mapping[str, Any],
    now: dt.datetime,
    actor: Actor | str,
    idempotency_key: str | None = None,
) -> dict[str, Any]:
    """Create a scheme and its budget account (never below zero); rules start at version 1. With an
    idempotency key, once: a retry gets the scheme as first created, not 409 already exists."""
    if not SLUG_PATTERN.fullmatch(slug):
        raise ValidationFailed("a slug is 2-63 lowercase letters, digits and hyphens")
    parse_rules(rules, unit)

    def operation() -> dict[str, Any]:
        if uow.schemes.get(slug=slug) is not None:
            raise Conflict(f"a scheme called {slug} already exists")
        budget = ensure_account(
            uow, name=f"scheme:{slug}:budget", unit=unit, kind=AccountKind.BUDGET, floor_minor=0, now=now
        )
        scheme_id = new_id()
        uow.schemes.create(
            id=scheme_id,
            slug=slug,
            name=name,
            unit=unit.value,
            budget_account_id=budget.id,
            rules=dict(rules),
            now=now,
            actor=as_actor(actor).name,
        )
        record_action(
            uow, actor=actor, action="scheme.create", target=slug, detail={"unit": unit.value}, now=now
        )
        return scheme_view(uow, uow.schemes.get(id=scheme_id))

    request = {"op": "scheme.create", "slug": slug, "name": name, "unit": unit.value, "rules": dict(rules)}
    return once_per_key(uow, actor=actor, key=idempotency_key, request=request, now=now, operation=operation)


def scheme_view(uow: UnitOfWork, scheme: Mapping[str, Any]) -> dict[str, Any]:
    """A scheme with its current rules and its budget's balance."""
    return {**scheme, "budget_balance_minor": uow.accounts.balance(scheme["budget_account_id"])}


def list_schemes(uow: UnitOfWork, *, limit: int, after: str) -> list[dict[str, Any]]:
    """A page of schemes in slug order, each with its budget's balance."""
    return [scheme_view(uow, scheme) for scheme in uow.schemes.list(limit=limit, after_slug=after)]


def get_scheme(uow: UnitOfWork, slug: str) -> dict[str, Any]:
    """The scheme with this slug, with its current rules, or NotFound."""
    scheme: dict[str, Any] | None = uow.schemes.get(slug=slug)
    if scheme is None:
        raise NotFound(f"no scheme {slug}")
    return scheme


def update_rules(
    uow: UnitOfWork,
    *,
    slug: str,
    rules: Mapping[str, Any],
    name: str | None,
    now: dt.datetime,
    actor: Actor | str,
    idempotency_key: str | None = None,
) -> dict[str, Any]:
    """Append a rule version and make it current; earlier transactions keep the version they recorded.
    With an idempotency key, once: a retry gets the version it made, not one more."""
    parse_rules(rules)

    def operation() -> dict[str, Any]:
        scheme = get_scheme(uow, slug)
        parse_rules(rules, Unit(scheme["unit"]))  # what the scheme's unit allows (top-ups are pounds)
        version = uow.schemes.add_version(scheme["id"], dict(rules), now, as_actor(actor).name, name=name)
        detail: dict[str, Any] = {"version": version} | ({} if name is None else {"name": name})
        record_action(uow, actor=actor, action="scheme.update", target=slug, detail=detail, now=now)
        return scheme_view(uow, uow.schemes.get(id=scheme["id"]))

    request = {"op": "scheme.update", "slug": slug, "rules": dict(rules), "name": name}
    return once_per_key(uow, actor=actor, key=idempotency_key, request=request, now=now, operation=operation)
