"""Schemes as scheme managers and finance see them: budget, uptake and rule versions; funding a budget."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping
from typing import Any

from ledger.actors import Actor, as_actor
from ledger.errors import ValidationFailed
from ledger.ports import UnitOfWork
from ledger.units import MAX_AMOUNT_MINOR, format_amount
from ledger.usecases import flows
from ledger.usecases.replays import once_per_key
from ledger.usecases.schemes import get_scheme, list_schemes, scheme_view
from ledger.usecases.staff_log import record_action

ACTIVE_DAYS = 30  # a member is active who used value in the last 30 days
MAX_SCHEMES_LISTED = 1_000  # a council runs a handful; the list page stops here whatever happens
MAX_REFERENCE_LENGTH = 200
_PAGE = 200


@dataclasses.dataclass(frozen=True)
class SchemeSummary:
    """One scheme on the list: its budget, its uptake and its current rule version."""

    slug: str
    name: str
    unit: str
    version: int
    budget_balance_minor: int
    members: int
    active_members: int


@dataclasses.dataclass(frozen=True)
class RuleVersion:
    """One version of a scheme's rules: who saved it and when."""

    version: int
    rules: Mapping[str, Any]
    created_at: dt.datetime
    created_by: str


@dataclasses.dataclass(frozen=True)
class SchemeDetails:
    """A scheme's page: the summary, its current rules and every earlier version, newest first."""

    summary: SchemeSummary
    rules: Mapping[str, Any]
    created_at: dt.datetime
    versions: tuple[RuleVersion, ...]


@dataclasses.dataclass(frozen=True)
class Funding:
    """What funding a budget did: the transaction, the amount and the budget after it."""

    transaction_id: str
    slug: str
    unit: str
    amount_minor: int
    budget_balance_minor: int
    recorded_at: str


def _summary(scheme: Mapping[str, Any], uptake: tuple[int, int]) -> SchemeSummary:
    return SchemeSummary(
        slug=scheme["slug"],
        name=scheme["name"],
        unit=scheme["unit"],
        version=int(scheme["version"]),
        budget_balance_minor=int(scheme["budget_balance_minor"]),
        members=uptake[0],
        active_members=uptake[1],
    )


def scheme_summaries(uow: UnitOfWork, *, now: dt.datetime) -> list[SchemeSummary]:
    """Every scheme in slug order with budget balance, members and members active in the last 30 days."""
    schemes: list[dict[str, Any]] = []
    after = ""
    while len(schemes) < MAX_SCHEMES_LISTED:
        page = list_schemes(uow, limit=_PAGE, after=after)
        schemes.extend(page)
        if len(page) < _PAGE:
            break
        after = page[-1]["slug"]
    since = now - dt.timedelta(days=ACTIVE_DAYS)
    uptake = uow.oversight.uptake([scheme["id"] for scheme in schemes], since)
    return [_summary(scheme, uptake[scheme["id"]]) for scheme in schemes]


def scheme_details(uow: UnitOfWork, slug: str, *, now: dt.datetime) -> SchemeDetails:
    """A scheme with its current rules, uptake and rule history (NotFound when there is no such scheme)."""
    scheme = scheme_view(uow, get_scheme(uow, slug))
    since = now - dt.timedelta(days=ACTIVE_DAYS)
    uptake = uow.oversight.uptake([scheme["id"]], since)[scheme["id"]]
    versions = tuple(RuleVersion(**row) for row in uow.oversight.rule_versions(scheme["id"]))
    assert versions and versions[0].version == scheme["version"], "the current version is the newest"
    return SchemeDetails(_summary(scheme, uptake), scheme["rules"], scheme["created_at"], versions)


def fund_scheme(
    uow: UnitOfWork,
    *,
    slug: str,
    amount_minor: int,
    reference: str | None,
    now: dt.datetime,
    actor: Actor | str,
    key: str,
    unit: str | None = None,
) -> Funding:
    """Add to a scheme's budget (bank → budget) once per key, recorded in the staff log; the staff UI and
    POST /schemes/{slug}/funding both fund through here (a unit, when given, must be the scheme's)."""
    if type(amount_minor) is not int or not 0 < amount_minor <= MAX_AMOUNT_MINOR:
        raise ValidationFailed("the amount must be more than zero and within limits")
    if reference is not None and len(reference) > MAX_REFERENCE_LENGTH:
        raise ValidationFailed(f"a reference is {MAX_REFERENCE_LENGTH} characters or fewer")
    name = as_actor(actor).name

    def operation() -> dict[str, Any]:
        scheme = get_scheme(uow, slug)
        if unit is not None and unit != scheme["unit"]:
            raise ValidationFailed(f"this scheme is in {scheme['unit']}")
        metadata = {"reference": reference} if reference else {}
        receipt = flows.fund(
            uow, scheme=scheme, amount_minor=amount_minor, now=now, actor=name, key=key, metadata=metadata
        )
        balance = int(uow.accounts.balance(scheme["budget_account_id"]))
        detail = {
            "amount_minor": amount_minor,
            "unit": scheme["unit"],
            "amount": format_amount(amount_minor, scheme["unit"]),
            "transaction_id": receipt.transaction_id,
        } | ({"reference": reference} if reference else {})
        record_action(uow, actor=actor, action="scheme.fund", target=slug, detail=detail, now=now)
        return {
            "transaction_id": receipt.transaction_id,
            "slug": slug,
            "unit": scheme["unit"],
            "amount_minor": amount_minor,
            "budget_balance_minor": balance,
            "recorded_at": receipt.recorded_at,
        }

    request = {"op": "scheme.fund", "slug": slug, "amount_minor": amount_minor, "reference": reference}
    if unit is not None:
        request["unit"] = unit  # a replay naming another unit is a different request
    return Funding(**once_per_key(uow, actor=actor, key=key, request=request, now=now, operation=operation))
