"""Residents: a pseudonymous id in the ledger, personal details kept apart; read, export and erase."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

from ledger.actors import Actor, as_actor
from ledger.cards.token import normalize_card_number
from ledger.errors import NotFound, ValidationFailed
from ledger.ports import UnitOfWork
from ledger.usecases.common import idempotent, new_id
from ledger.usecases.staff_log import record_action

RESIDENT_KINDS = ("person", "household", "collective")
DETAIL_FIELDS = ("name", "date_of_birth", "postcode", "ward", "contact")
MAX_EXPORTED_TRANSACTIONS = 100_000
OLDEST_BIRTH_DATE = dt.date(1900, 1, 1)
ENROLMENT_SCOPE_PREFIX = "resident-enrol:"
MAX_LOOKUP_MATCHES = 20  # exact matches only: more than a handful means the search was not specific


def enrol_resident(
    uow: UnitOfWork,
    *,
    kind: str,
    details: Mapping[str, Any],
    now: dt.datetime,
    actor: Actor | str,
    idempotency_key: str | None = None,
) -> dict[str, Any]:
    """Create a pseudonymous resident (a random UUID) and store their personal details apart; with an
    idempotency key, once (a replay reads the resident back: personal details never go into the key's
    stored result)."""
    if kind not in RESIDENT_KINDS:
        raise ValidationFailed(f"kind is one of {', '.join(RESIDENT_KINDS)}")
    clean = _clean_details(kind, details, now.date())

    def operation() -> dict[str, Any]:
        resident_id = new_id()
        uow.people.add_resident(id=resident_id, kind=kind, details=clean, now=now)
        record_action(
            uow, actor=actor, action="resident.enrol", target=resident_id, detail={"kind": kind}, now=now
        )
        return {"resident_id": resident_id}

    if idempotency_key is None:
        created = operation()
    else:
        created = idempotent(
            uow,
            scope=ENROLMENT_SCOPE_PREFIX + as_actor(actor).name,
            key=idempotency_key,
            request={"op": "enrol-resident", "kind": kind, "details": clean},
            now=now,
            operation=operation,
        )
    return get_resident(uow, created["resident_id"])


def _clean_details(kind: str, details: Mapping[str, Any], today: dt.date) -> dict[str, Any]:
    unknown = set(details) - set(DETAIL_FIELDS)
    if unknown:
        raise ValidationFailed(f"unknown personal detail {sorted(unknown)[0]}")
    name = str(details.get("name") or "").strip()
    if not name:
        raise ValidationFailed("a resident needs a name")
    born = details.get("date_of_birth")
    if born is None and kind == "person":
        raise ValidationFailed("a person needs a date of birth")
    if born is not None and not OLDEST_BIRTH_DATE <= born <= today:
        raise ValidationFailed("date_of_birth must be a real date in the past")
    postcode = details.get("postcode")
    return {
        "name": name,
        "date_of_birth": None if born is None else born.isoformat(),
        "postcode": None if not postcode else " ".join(str(postcode).upper().split()),
        "ward": (str(details.get("ward") or "").strip() or None),
        "contact": (str(details.get("contact") or "").strip() or None),
    }


def plausible_id(text: str, max_length: int = 36) -> bool:
    """True when text could be a stored id or cursor (printable, short): anything else matches nothing."""
    return 0 < len(text) <= max_length and text.isprintable()


def get_resident(uow: UnitOfWork, resident_id: str) -> dict[str, Any]:
    """A resident with their details (None once erased), or NotFound."""
    if not plausible_id(resident_id):
        raise NotFound("no such resident")
    resident: dict[str, Any] | None = uow.people.resident(resident_id)
    if resident is None:
        raise NotFound(f"no resident {resident_id}")
    return resident


def card_status(card: Mapping[str, Any]) -> str:
    """active, blocked (lost, not yet replaced) or replaced."""
    if card["replaced_by"] is not None:
        return "replaced"
    return "active" if card["blocked_at"] is None else "blocked"


def card_view(card: Mapping[str, Any]) -> dict[str, Any]:
    """A card as staff see it (never its token)."""
    return {
        "number": card["number"],
        "status": card_status(card),
        "resident_id": card["resident_id"],
        "key_id": card["key_id"],
        "issued_at": card["issued_at"],
        "blocked": card["blocked_at"] is not None,
        "blocked_at": card["blocked_at"],
        "replaced_by": card["replaced_by"],
    }


def resident_view(uow: UnitOfWork, resident_id: str, *, personal: bool) -> dict[str, Any]:
    """Memberships, cards and wallet balances; without `personal` only pseudonymous facts."""
    resident = get_resident(uow, resident_id)
    schemes = _SchemeNames(uow)
    memberships = [_membership(m, schemes, personal) for m in uow.people.memberships_of(resident_id)]
    scheme_ids = {m["scheme_id"] for m in memberships} | {
        lot.scheme_id for lot in uow.lots.wallet(resident_id)
    }
    wallets = [
        {**schemes.summary(scheme_id), "balance_minor": uow.lots.owners_total(resident_id, scheme_id)}
        for scheme_id in sorted(scheme_ids)
    ]
    view = {
        "id": resident["id"],
        "kind": resident["kind"],
        "created_at": resident["created_at"],
        "erased_at": resident["erased_at"],
        "details": resident["details"] if personal else None,
        "memberships": memberships,
        "wallets": wallets,
    }
    if personal:
        view["cards"] = [card_view(card) for card in uow.people.cards_of(resident_id)]
    return view


def export_resident(
    uow: UnitOfWork, resident_id: str, *, now: dt.datetime, actor: Actor | str
) -> dict[str, Any]:
    """A subject access export: details, memberships, cards, wallets with lots, every movement on them."""
    view = resident_view(uow, resident_id, personal=True)
    schemes = _SchemeNames(uow)
    lots_by_scheme: dict[str, list[dict[str, Any]]] = {}
    for lot in uow.lots.wallet(resident_id):
        lots_by_scheme.setdefault(lot.scheme_id, []).append(
            {
                "account_id": lot.account_id,
                "category": lot.category,
                "expires_at": lot.expires_at,
                "created_at": lot.created_at,
                "balance_minor": lot.balance_minor,
            }
        )
    for wallet in view["wallets"]:
        wallet["lots"] = lots_by_scheme.get(wallet["scheme_id"], [])
    movements = uow.people.lot_movements(resident_id, limit=MAX_EXPORTED_TRANSACTIONS + 1)
    record_action(uow, actor=actor, action="resident.export", target=resident_id, detail={}, now=now)
    return {
        **view,
        "exported_at": now,
        "transactions": [
            {**movement, "scheme": schemes.summary(movement["scheme_id"])["scheme"]}
            for movement in movements[:MAX_EXPORTED_TRANSACTIONS]
        ],
        "transactions_truncated": len(movements) > MAX_EXPORTED_TRANSACTIONS,
    }


def erase_personal_data(uow: UnitOfWork, resident_id: str, *, now: dt.datetime, actor: Actor | str) -> None:
    """Delete a resident's personal details; the pseudonymous ledger (and its proofs) stay untouched."""
    if not plausible_id(resident_id) or not uow.people.lock_resident(resident_id):
        raise NotFound(f"no resident {resident_id}")
    resident = get_resident(uow, resident_id)
    if resident["erased_at"] is not None:
        raise NotFound(f"the personal data of resident {resident_id} was already erased")
    uow.people.erase(resident_id, as_actor(actor).name, now)
    # A stored enrolment fingerprint is a hash of the personal details: it goes with them.
    uow.people.forget_idempotent_result(ENROLMENT_SCOPE_PREFIX, {"resident_id": resident_id})
    record_action(uow, actor=actor, action="resident.erase", target=resident_id, detail={}, now=now)


@dataclasses.dataclass(frozen=True)
class Matches:
    """The residents a look-up found (exact matches only), each with details, memberships, cards and
    wallets."""

    data: tuple[dict[str, Any], ...]
    has_more: bool


def look_up_residents(
    uow: UnitOfWork,
    *,
    card_number: str | None = None,
    name: str | None = None,
    date_of_birth: dt.date | None = None,
    now: dt.datetime,
    actor: Actor | str,
) -> Matches:
    """Find residents by card number, or by name and date of birth together: exact matches only."""
    if card_number is not None and name is None and date_of_birth is None:
        return find_by_card_number(uow, card_number=card_number, now=now, actor=actor)
    if card_number is None and name is not None and date_of_birth is not None:
        return find_by_name_and_birth_date(uow, name=name, date_of_birth=date_of_birth, now=now, actor=actor)
    raise ValidationFailed("look residents up by card_number, or by name and date_of_birth together")


def find_by_card_number(
    uow: UnitOfWork, *, card_number: str, now: dt.datetime, actor: Actor | str
) -> Matches:
    """The resident holding this card (active, blocked or replaced), recorded in the staff log."""
    try:
        number = normalize_card_number(card_number)
    except ValueError as error:
        raise ValidationFailed("card_number: not a valid card number (check it for a typo)") from error
    card = uow.people.card(number)
    found = [] if card is None else [str(card["resident_id"])]
    record_action(
        uow,
        actor=actor,
        action="resident.lookup",
        target=number,
        detail={"by": "card number", "found": found},
        now=now,
    )
    return _matches(uow, found)


def find_by_name_and_birth_date(
    uow: UnitOfWork, *, name: str, date_of_birth: dt.date, now: dt.datetime, actor: Actor | str
) -> Matches:
    """Residents with exactly this name (case and spacing aside) and date of birth; erased residents
    are never found. The staff log records that a look-up by name was made and what it found, never
    the name itself."""
    if not name.strip():
        raise ValidationFailed("name: give the resident's full name")
    found = uow.people.residents_named(name, date_of_birth.isoformat(), limit=MAX_LOOKUP_MATCHES + 1)
    record_action(
        uow,
        actor=actor,
        action="resident.lookup",
        target="name and date of birth",
        detail={"by": "name and date of birth", "found": found[:MAX_LOOKUP_MATCHES]},
        now=now,
    )
    return _matches(uow, found)


def _matches(uow: UnitOfWork, resident_ids: Sequence[str]) -> Matches:
    views = tuple(resident_view(uow, rid, personal=True) for rid in resident_ids[:MAX_LOOKUP_MATCHES])
    return Matches(views, has_more=len(resident_ids) > MAX_LOOKUP_MATCHES)


def _membership(row: Mapping[str, Any], schemes: _SchemeNames, personal: bool) -> dict[str, Any]:
    data = {
        **schemes.summary(row["scheme_id"]),
        "resident_id": row["resident_id"],
        "collective_id": row["collective_id"],
        "has_referral": row["referral"] is not None,
        "enrolled_at": row["enrolled_at"],
        "enrolled_by": row["enrolled_by"],
    }
    if personal:
        data["referral"] = row["referral"]
    return data


class _SchemeNames:
    """Scheme slug, name and unit by id, each looked up once."""

    def __init__(self, uow: UnitOfWork) -> None:
        self.uow = uow
        self.known: dict[str, dict[str, Any]] = {}

    def summary(self, scheme_id: str) -> dict[str, Any]:
        if scheme_id not in self.known:
            scheme = self.uow.schemes.get(id=scheme_id) or {"slug": None, "name": None, "unit": None}
            self.known[scheme_id] = {
                "scheme_id": scheme_id,
                "scheme": scheme["slug"],
                "scheme_name": scheme["name"],
                "unit": scheme["unit"],
            }
        return dict(self.known[scheme_id])
