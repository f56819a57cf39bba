"""What the staff UI shows about one resident: details, cards, schemes with balances, recent history."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping
from typing import Any

from ledger.errors import NotFound, RuleViolation
from ledger.ports import UnitOfWork
from ledger.rules import parse_rules
from ledger.usecases.residents import resident_view
from ledger.usecases.schemes import SLUG_PATTERN, get_scheme, list_schemes

HISTORY_LINES = 20  # the page shows recent movements; the subject access export has them all
MAX_SCHEMES_OFFERED = 200


@dataclasses.dataclass(frozen=True)
class SchemeLine:
    """One scheme a resident belongs to (or holds value in), with the balance of their wallet."""

    slug: str
    name: str
    unit: str
    balance_minor: int
    member: bool
    enrolled_at: dt.datetime | None
    issues_series: bool  # a caseworker issues vouchers of this scheme in a series


@dataclasses.dataclass(frozen=True)
class HistoryLine:
    """One ledger transaction that moved value in or out of the resident's wallets."""

    transaction_id: str
    kind: str
    recorded_at: dt.datetime
    scheme_name: str
    unit: str
    amount_minor: int  # what it did to the resident: positive in, negative out
    reverses_id: str | None


@dataclasses.dataclass(frozen=True)
class SchemeChoice:
    """A scheme the resident could be enrolled in."""

    slug: str
    name: str


@dataclasses.dataclass(frozen=True)
class ResidentPage:
    """Everything the resident page shows."""

    resident: Mapping[str, Any]  # resident_view(personal=True): id, kind, details, cards, erased_at
    schemes: tuple[SchemeLine, ...]
    history: tuple[HistoryLine, ...]
    joinable: tuple[SchemeChoice, ...]


@dataclasses.dataclass(frozen=True)
class SeriesScheme:
    """A scheme that issues vouchers in a series: its purposes with their standard amounts."""

    slug: str
    name: str
    unit: str
    purposes: tuple[tuple[str, int | None], ...]
    expiry_days: int | None
    expiry_date: dt.date | None


def resident_page(uow: UnitOfWork, resident_id: str) -> ResidentPage:
    """The resident page: their view, schemes with balances, the latest movements, schemes to join."""
    view = resident_view(uow, resident_id, personal=True)
    schemes = {scheme["id"]: scheme for scheme in list_schemes(uow, limit=MAX_SCHEMES_OFFERED, after="")}
    lines = _scheme_lines(uow, view, schemes)
    joined = {line.slug for line in lines if line.member}
    joinable = tuple(
        SchemeChoice(scheme["slug"], scheme["name"])
        for scheme in schemes.values()
        if scheme["slug"] not in joined
    )
    return ResidentPage(view, lines, recent_history(uow, resident_id, schemes), joinable)


def _scheme_lines(
    uow: UnitOfWork, view: Mapping[str, Any], schemes: Mapping[str, Mapping[str, Any]]
) -> tuple[SchemeLine, ...]:
    enrolled = {membership["scheme_id"]: membership for membership in view["memberships"]}
    balances = {wallet["scheme_id"]: wallet["balance_minor"] for wallet in view["wallets"]}
    lines = []
    for scheme_id in sorted(set(enrolled) | set(balances)):
        scheme = schemes.get(scheme_id) or uow.schemes.get(id=scheme_id)
        if scheme is None:
            continue
        membership = enrolled.get(scheme_id)
        lines.append(
            SchemeLine(
                slug=scheme["slug"],
                name=scheme["name"],
                unit=scheme["unit"],
                balance_minor=int(balances.get(scheme_id, 0)),
                member=membership is not None,
                enrolled_at=None if membership is None else membership["enrolled_at"],
                issues_series=parse_rules(scheme["rules"]).issuing.mode == "series",
            )
        )
    return tuple(sorted(lines, key=lambda line: line.name))


def recent_history(
    uow: UnitOfWork, resident_id: str, schemes: Mapping[str, Mapping[str, Any]]
) -> tuple[HistoryLine, ...]:
    """The latest movements on the resident's lots, newest first: each transaction once per scheme, its
    amount netted over the lots it touched (one query, however long their history)."""
    movements = uow.people.lot_movements(resident_id, limit=HISTORY_LINES, newest_first=True)
    return tuple(
        HistoryLine(
            transaction_id=movement["id"],
            kind=movement["kind"],
            recorded_at=movement["recorded_at"],
            scheme_name=(schemes.get(movement["scheme_id"]) or {}).get("name") or "",
            unit=movement["unit"],
            amount_minor=movement["amount_minor"],
            reverses_id=movement["reverses_id"],
        )
        for movement in movements
    )


def series_scheme(uow: UnitOfWork, slug: str) -> SeriesScheme:
    """A scheme that issues voucher series, with its purposes; RuleViolation for any other scheme."""
    if not SLUG_PATTERN.fullmatch(slug):
        raise NotFound("no such scheme")
    scheme = get_scheme(uow, slug)
    rules = parse_rules(scheme["rules"])
    if rules.issuing.mode != "series":
        raise RuleViolation(f"{scheme['name']} does not issue vouchers in a series")
    purposes = tuple(sorted(rules.issuing.purposes.items()))
    return SeriesScheme(
        slug=scheme["slug"],
        name=scheme["name"],
        unit=scheme["unit"],
        purposes=purposes,
        expiry_days=rules.expiry.days_after_issue,
        expiry_date=rules.expiry.fixed_date,
    )
