"""What a resident sees on their own page: balances in their units, what expires when, where they spent it,
where they can spend it, and the time bank's figures. Never a name, an address or a date of birth."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

from ledger.errors import NotFound
from ledger.kinds import TransactionKind
from ledger.places import Outlet, Scheme
from ledger.ports import UnitOfWork
from ledger.records import LotRecord
from ledger.units import Unit
from ledger.usecases.holds import as_released
from ledger.wallets import available_to_spend, overdraft_minor, spend_order, spendable

HISTORY_LINES = 25
MAX_OUTLETS = 500  # a council's outlets fit on one page; a limit on everything
MAX_SCHEMES = 100

# What each kind of transaction means to the resident, in their words (a transfer depends on its sign).
KIND_WORDS: dict[str, str] = {
    TransactionKind.ISSUE: "Added to your card",
    TransactionKind.EARN: "Earned",
    TransactionKind.REDEEM: "Spent",
    TransactionKind.HOLD: "Spent",
    TransactionKind.CAPTURE: "Given back (not all used)",
    TransactionKind.VOID: "Given back (spend cancelled)",
    TransactionKind.HOLD_EXPIRY: "Given back (spend not finished)",
    TransactionKind.REFUND: "Refunded",
    TransactionKind.EXPIRE: "Expired",
    TransactionKind.REVERSAL: "Corrected by the council",
    TransactionKind.TOPUP: "Topped up",
}


@dataclasses.dataclass(frozen=True)
class ExpiringValue:
    """Some of a balance that expires at a given time."""

    amount_minor: int
    expires_at: dt.datetime


@dataclasses.dataclass(frozen=True)
class TimeBankFigures:
    """A time bank member's hours (stored in minutes): earned, given, received, and overdraft left."""

    earned_minor: int
    given_minor: int
    received_minor: int
    overdraft_minor: int
    overdraft_left_minor: int


@dataclasses.dataclass(frozen=True)
class MyScheme:
    """One of the resident's schemes: the balance, what expires when, and where it can be spent."""

    slug: str
    name: str
    unit: Unit
    balance_minor: int
    available_minor: int
    expiring: tuple[ExpiringValue, ...]
    outlets: tuple[str, ...]
    time_bank: TimeBankFigures | None


@dataclasses.dataclass(frozen=True)
class MyHistoryLine:
    """One movement of value on the resident's card: what, where (an outlet's name), when, how much."""

    recorded_at: dt.datetime
    what: str
    scheme_name: str
    unit: Unit
    amount_minor: int
    outlet_name: str | None


@dataclasses.dataclass(frozen=True)
class MyPage:
    """Everything the resident's page shows."""

    card_number: str
    schemes: tuple[MyScheme, ...]
    history: tuple[MyHistoryLine, ...]


def my_page(uow: UnitOfWork, *, resident_id: str, card_number: str, now: dt.datetime) -> MyPage:
    """The signed-in resident's page (their card number is the only identifying thing on it)."""
    if uow.people.resident(resident_id) is None:
        raise NotFound("no such resident")
    schemes = _schemes_of(uow, resident_id)
    outlets = uow.registry.outlets(limit=MAX_OUTLETS)
    lines = tuple(
        _scheme_line(uow, resident_id, scheme, outlets, now)
        for scheme in sorted(schemes.values(), key=lambda scheme: scheme["name"])
    )
    return MyPage(card_number, lines, _history(uow, resident_id, schemes))


def _schemes_of(uow: UnitOfWork, resident_id: str) -> dict[str, Mapping[str, Any]]:
    """The schemes the resident belongs to or holds value in, by id."""
    ids = {membership["scheme_id"] for membership in uow.people.memberships_of(resident_id)}
    ids |= {lot.scheme_id for lot in uow.lots.wallet(resident_id)}
    found = {}
    for scheme_id in sorted(ids)[:MAX_SCHEMES]:
        scheme = uow.schemes.get(id=scheme_id)
        if scheme is not None:
            found[scheme_id] = scheme
    return found


def _scheme_line(
    uow: UnitOfWork,
    resident_id: str,
    scheme: Mapping[str, Any],
    outlets: Sequence[Mapping[str, Any]],
    now: dt.datetime,
) -> MyScheme:
    # A read cannot post the release of a timed-out hold, so it shows the wallet as that release will.
    lots, _ = as_released(uow, uow.lots.wallet(resident_id, scheme["id"]), resident_id, scheme["id"], now)
    live = [lot for lot in lots if spendable(lot, now, None)]
    unit = Unit(scheme["unit"])
    return MyScheme(
        slug=scheme["slug"],
        name=scheme["name"],
        unit=unit,
        balance_minor=sum(lot.balance_minor for lot in live),
        available_minor=available_to_spend(lots, now, None),
        expiring=_expiring(live),
        outlets=_where_to_spend(scheme, outlets),
        time_bank=_time_bank(uow, resident_id, scheme, lots, now) if unit is Unit.HOUR else None,
    )


def _expiring(lots: Sequence[LotRecord]) -> tuple[ExpiringValue, ...]:
    """What expires when, soonest first (lots that never expire are left out)."""
    return tuple(
        ExpiringValue(lot.balance_minor, lot.expires_at)
        for lot in spend_order(lots)
        if lot.expires_at is not None and lot.balance_minor > 0
    )


def _where_to_spend(scheme: Mapping[str, Any], outlets: Sequence[Mapping[str, Any]]) -> tuple[str, ...]:
    """Outlets that accept the scheme: the rule the kiosk's entitlements apply (Scheme.may_be_spent_at)."""
    here = Scheme.from_record(scheme)
    places = (Outlet.from_record(outlet) for outlet in outlets)
    return tuple(sorted(place.name for place in places if here.may_be_spent_at(place)))


def _time_bank(
    uow: UnitOfWork, resident_id: str, scheme: Mapping[str, Any], lots: Sequence[LotRecord], now: dt.datetime
) -> TimeBankFigures:
    totals = {row["kind"]: row for row in uow.resident_access.totals_by_kind(resident_id, scheme["id"])}
    overdraft = overdraft_minor(lots, now, None)

    def total(kind: str, direction: str) -> int:
        return int(totals.get(kind, {}).get(direction, 0))

    return TimeBankFigures(
        earned_minor=total(TransactionKind.EARN, "in_minor") - total(TransactionKind.EARN, "out_minor"),
        given_minor=total(TransactionKind.TRANSFER, "out_minor"),
        received_minor=total(TransactionKind.TRANSFER, "in_minor"),
        overdraft_minor=overdraft,
        overdraft_left_minor=min(overdraft, available_to_spend(lots, now, None)),
    )


def _history(
    uow: UnitOfWork, resident_id: str, schemes: Mapping[str, Mapping[str, Any]]
) -> tuple[MyHistoryLine, ...]:
    """The latest movements, newest first, with the outlet's name only (never staff or device details)."""
    lines = []
    for movement in uow.resident_access.movements(resident_id, limit=HISTORY_LINES):
        if movement["amount_minor"] == 0:
            continue  # a movement between the resident's own lots changes nothing they hold
        kind = movement["kind"]
        if kind == TransactionKind.TRANSFER:
            what = "Received" if movement["amount_minor"] > 0 else "Given"
        else:
            what = KIND_WORDS.get(kind, kind.replace("_", " ").capitalize())
        scheme = schemes.get(movement["scheme_id"]) or {}
        lines.append(
            MyHistoryLine(
                recorded_at=movement["recorded_at"],
                what=what,
                scheme_name=str(scheme.get("name") or ""),
                unit=Unit(movement["unit"]),
                amount_minor=movement["amount_minor"],
                outlet_name=movement["outlet_name"],
            )
        )
    return tuple(lines)
