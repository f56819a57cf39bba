"""Residents (pseudonymous), their personal details (kept apart, erasable), memberships and cards."""

from __future__ import annotations

import datetime as dt
import hashlib
import unicodedata
from typing import Any

from sqlalchemy import Connection, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from ledger.db.tables import (
    cards,
    idempotency_keys,
    lots,
    memberships,
    personal_details,
    postings,
    resident_erasures,
    residents,
    transactions,
)
from ledger.errors import Conflict
from ledger.journal import canonical_json

MAX_MEMBERS_LISTED = 100_000
DETAIL_COLUMNS = ("name", "date_of_birth", "postcode", "ward", "contact")


def name_lookup_hash(name: str) -> str:
    """How a name is matched: Unicode-normalised, case-folded, runs of spaces as one, then SHA-256."""
    normalised = " ".join(unicodedata.normalize("NFKC", name).casefold().split())
    return hashlib.sha256(normalised.encode()).hexdigest()


class PeopleRepository:
    """Reads and writes residents, details, memberships and cards on one connection."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    def add_resident(self, *, id: str, kind: str, details: dict[str, Any] | None, now: dt.datetime) -> None:
        """Insert a resident and, apart, their personal details (findable by exact name and birth date)."""
        self.connection.execute(insert(residents).values(id=id, kind=kind, created_at=now))
        if details is not None:
            self.connection.execute(
                insert(personal_details).values(
                    resident_id=id, name_lookup_hash=name_lookup_hash(details["name"]), **details
                )
            )

    def residents_named(self, name: str, date_of_birth: str, *, limit: int) -> list[str]:
        """Ids of residents with exactly this name (case and spacing aside) and birth date; an erased
        resident's details are gone, so they are never found."""
        query = (
            select(personal_details.c.resident_id)
            .where(
                personal_details.c.name_lookup_hash == name_lookup_hash(name),
                personal_details.c.date_of_birth == date_of_birth,
            )
            .order_by(personal_details.c.resident_id)
            .limit(limit)
        )
        return list(self.connection.execute(query).scalars())

    def resident(self, resident_id: str) -> dict[str, Any] | None:
        """A resident with their personal details (None where erased) and erasure time."""
        query = (
            select(residents, personal_details, resident_erasures.c.erased_at)
            .select_from(
                residents.outerjoin(
                    personal_details, personal_details.c.resident_id == residents.c.id
                ).outerjoin(resident_erasures, resident_erasures.c.resident_id == residents.c.id)
            )
            .where(residents.c.id == resident_id)
        )
        row = self.connection.execute(query).first()
        if row is None:
            return None
        data = dict(row._mapping)
        details = {k: data.get(k) for k in DETAIL_COLUMNS}
        return {
            "id": data["id"],
            "kind": data["kind"],
            "created_at": data["created_at"],
            "details": None if data.get("resident_id") is None else details,
            "erased_at": data.get("erased_at"),
        }

    def lock_resident(self, resident_id: str) -> bool:
        """Hold the resident's row until commit (serialises card issuing); False if there is none."""
        query = select(residents.c.id).where(residents.c.id == resident_id).with_for_update()
        return self.connection.execute(query).first() is not None

    def erase(self, resident_id: str, actor: str, now: dt.datetime) -> None:
        """Delete personal details (and free-text referrals); the pseudonymous ledger stays as it was."""
        self.connection.execute(delete(personal_details).where(personal_details.c.resident_id == resident_id))
        self.connection.execute(
            update(memberships).where(memberships.c.resident_id == resident_id).values(referral=None)
        )
        self.connection.execute(
            insert(resident_erasures).values(resident_id=resident_id, erased_at=now, erased_by=actor)
        )

    def forget_idempotent_result(self, scope_prefix: str, result: dict[str, Any]) -> None:
        """Delete stored idempotent requests with this result (their fingerprint hashed personal data)."""
        self.connection.execute(
            delete(idempotency_keys).where(
                idempotency_keys.c.scope.startswith(scope_prefix, autoescape=True),
                idempotency_keys.c.result_json == canonical_json(result).decode(),
            )
        )

    def add_membership(
        self,
        *,
        resident_id: str,
        scheme_id: str,
        collective_id: str | None,
        referral: str | None,
        actor: str,
        now: dt.datetime,
    ) -> None:
        """Enrol a resident in a scheme; Conflict if a concurrent request enrolled them first."""
        statement = insert(memberships).values(
            resident_id=resident_id,
            scheme_id=scheme_id,
            collective_id=collective_id,
            referral=referral,
            enrolled_at=now,
            enrolled_by=actor,
        )
        try:
            self.connection.execute(statement)
        except IntegrityError as error:
            raise Conflict("this resident is already a member of this scheme") from error

    def membership(self, resident_id: str, scheme_id: str) -> dict[str, Any] | None:
        """A resident's membership of a scheme."""
        row = self.connection.execute(
            select(memberships).where(
                memberships.c.resident_id == resident_id, memberships.c.scheme_id == scheme_id
            )
        ).first()
        return None if row is None else dict(row._mapping)

    def memberships_of(self, resident_id: str) -> list[dict[str, Any]]:
        """Every scheme a resident belongs to."""
        query = select(memberships).where(memberships.c.resident_id == resident_id)
        return [dict(row._mapping) for row in self.connection.execute(query)]

    def members(self, scheme_id: str, *, collective_id: str | None = None) -> list[str]:
        """Resident ids enrolled in a scheme (optionally only one collective's members)."""
        query = select(memberships.c.resident_id).where(memberships.c.scheme_id == scheme_id)
        if collective_id is not None:
            query = query.where(memberships.c.collective_id == collective_id)
        query = query.order_by(memberships.c.resident_id).limit(MAX_MEMBERS_LISTED)
        return list(self.connection.execute(query).scalars())

    def members_page(self, scheme_id: str, *, limit: int, after: str = "") -> list[dict[str, Any]]:
        """Memberships of a scheme by resident id after a cursor."""
        query = (
            select(memberships)
            .where(memberships.c.scheme_id == scheme_id, memberships.c.resident_id > after)
            .order_by(memberships.c.resident_id)
            .limit(limit)
        )
        return [dict(row._mapping) for row in self.connection.execute(query)]

    def lot_movements(self, owner_id: str, *, limit: int, newest_first: bool = False) -> list[dict[str, Any]]:
        """Every transaction touching an owner's lots, oldest first (or newest first), with its net amount
        per scheme."""
        order = (transactions.c.recorded_at, transactions.c.seal_key, transactions.c.id)
        query = (
            select(
                transactions.c.id,
                transactions.c.kind,
                transactions.c.occurred_at,
                transactions.c.recorded_at,
                transactions.c.reverses_id,
                lots.c.scheme_id,
                postings.c.unit,
                func.sum(postings.c.amount_minor).label("amount_minor"),
            )
            .select_from(
                postings.join(lots, lots.c.account_id == postings.c.account_id).join(
                    transactions, transactions.c.id == postings.c.transaction_id
                )
            )
            .where(lots.c.owner_id == owner_id)
            .group_by(
                transactions.c.id,
                transactions.c.kind,
                transactions.c.occurred_at,
                transactions.c.recorded_at,
                transactions.c.reverses_id,
                transactions.c.seal_key,
                lots.c.scheme_id,
                postings.c.unit,
            )
            .order_by(*(column.desc() for column in order) if newest_first else order)
            .limit(limit)
        )
        return [
            {**row._mapping, "amount_minor": int(row.amount_minor)} for row in self.connection.execute(query)
        ]

    def add_card(self, *, number: str, resident_id: str, key_id: str, now: dt.datetime) -> None:
        """Record a newly issued card."""
        self.connection.execute(
            insert(cards).values(number=number, resident_id=resident_id, key_id=key_id, issued_at=now)
        )

    def card(self, number: str) -> dict[str, Any] | None:
        """One card."""
        row = self.connection.execute(select(cards).where(cards.c.number == number)).first()
        return None if row is None else dict(row._mapping)

    def cards_of(self, resident_id: str) -> list[dict[str, Any]]:
        """A resident's cards, oldest first."""
        query = select(cards).where(cards.c.resident_id == resident_id).order_by(cards.c.issued_at)
        return [dict(row._mapping) for row in self.connection.execute(query)]

    def block_card(self, number: str, now: dt.datetime, replaced_by: str | None = None) -> bool:
        """Block an active card; False if it was already blocked."""
        values: dict[str, Any] = {"blocked_at": now}
        if replaced_by is not None:
            values["replaced_by"] = replaced_by
        result = self.connection.execute(
            update(cards).where(cards.c.number == number, cards.c.blocked_at.is_(None)).values(**values)
        )
        return result.rowcount == 1

    def mark_replaced(self, number: str, replaced_by: str) -> None:
        """Record the replacement of an already blocked card."""
        self.connection.execute(update(cards).where(cards.c.number == number).values(replaced_by=replaced_by))

    def blocked_cards(self, limit: int = 100_000) -> list[str]:
        """Numbers of every blocked card (the revocation list)."""
        query = select(cards.c.number).where(cards.c.blocked_at.is_not(None)).order_by(cards.c.number)
        return list(self.connection.execute(query.limit(limit)).scalars())
