"""Schemes are data: creating one opens its budget; changing its rules appends a version."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from typing import Any

from ledger.errors import Conflict, NotFound, ValidationFailed
from ledger.ports import UnitOfWork
from ledger.rules import parse_rules
from ledger.units import AccountKind, Unit
from ledger.usecases.common import ensure_account, new_id

SLUG_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]{1,62}$")


def create_scheme(
    uow: UnitOfWork,
    *,
    slug: str,
    name: str,
    unit: Unit,
    rules: Mapping[str, Any],
    now: dt.datetime,
    actor: str,
) -> dict[str, Any]:
    """Create a scheme and its budget account (never below zero); rules start at version 1."""
    if not SLUG_PATTERN.fullmatch(slug):
        raise ValidationFailed("a slug is 2-63 lowercase letters, digits and hyphens")
    parse_rules(rules)
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
        actor=actor,
    )
    created: dict[str, Any] = uow.schemes.get(id=scheme_id)
    return created


def get_scheme(uow: UnitOfWork, slug: str) -> dict[str, Any]:
    """The scheme with this slug, with its current rules, or NotFound."""
    scheme: dict[str, Any] | None = uow.schemes.get(slug=slug)
    if scheme is None:
        raise NotFound(f"no scheme {slug}")
    return scheme


def update_rules(
    uow: UnitOfWork, *, slug: str, rules: Mapping[str, Any], name: str | None, now: dt.datetime, actor: str
) -> dict[str, Any]:
    """Append a rule version and make it current; earlier transactions keep the version they recorded."""
    parse_rules(rules)
    scheme = get_scheme(uow, slug)
    uow.schemes.add_version(scheme["id"], dict(rules), now, actor, name=name)
    updated: dict[str, Any] = uow.schemes.get(id=scheme["id"])
    return updated
