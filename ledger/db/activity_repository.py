"""Activity behind scheme rules: spend counters per council day, earned in a window, members, wallet locks."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from sqlalchemy import Connection, Select, and_, func, select, text, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from ledger.db.tables import (
    holds,
    lots,
    memberships,
    personal_details,
    postings,
    resident_erasures,
    residents,
    scheme_versions,
    spend_counters,
    transactions,
)
from ledger.kinds import HOLD_RETURN_KINDS, SPEND_KINDS, TransactionKind


class ActivityRepository:
    """Read-side sums over postings that the spending and earning rules need."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    def lock(self, name: str) -> None:
        """Hold a named lock until commit (PostgreSQL advisory lock; SQLite writers are serialised)."""
        if self.connection.dialect.name != "postgresql":
            return
        self.connection.execute(
            text("SELECT pg_advisory_xact_lock(hashtextextended(:name, 0))"), {"name": f"clubcard:{name}"}
        )

    def lock_wallet(self, owner_id: str, scheme_id: str) -> None:
        """Serialise rule checks (limits, caps) and lot creation on one wallet until commit."""
        self.lock(f"wallet:{owner_id}:{scheme_id}")

    def spent_on_day(self, owner_id: str, scheme_id: str, at: dt.datetime) -> int:
        """What the wallet's spend counter says it spent on the council day containing `at` (one row)."""
        query = self._counter_covering(owner_id, scheme_id, at, spend_counters.c.spent_minor)
        return int(self.connection.execute(query).scalar_one_or_none() or 0)

    def count_spend(
        self, owner_id: str, scheme_id: str, day: tuple[dt.datetime, dt.datetime], amount_minor: int
    ) -> None:
        """Add a spend to the wallet's counter for one council day [start, end), opening it if new."""
        assert amount_minor > 0 and day[0] < day[1]
        dialect_insert = postgresql_insert if self.connection.dialect.name == "postgresql" else sqlite_insert
        statement = dialect_insert(spend_counters).values(
            owner_id=owner_id, scheme_id=scheme_id, day_start=day[0], day_end=day[1], spent_minor=amount_minor
        )
        statement = statement.on_conflict_do_update(
            index_elements=["owner_id", "scheme_id", "day_start"],
            set_={"spent_minor": spend_counters.c.spent_minor + statement.excluded.spent_minor},
        )
        self.connection.execute(statement)

    def uncount_spend(self, owner_id: str, scheme_id: str, spent_at: dt.datetime, amount_minor: int) -> None:
        """Take what a refund or an unused hold gave back off the day the spend was made (never below 0)."""
        assert amount_minor >= 0
        if amount_minor == 0:
            return
        day_start = self._counter_covering(owner_id, scheme_id, spent_at, spend_counters.c.day_start)
        left = spend_counters.c.spent_minor - amount_minor
        self.connection.execute(
            update(spend_counters)
            .where(
                spend_counters.c.owner_id == owner_id,
                spend_counters.c.scheme_id == scheme_id,
                spend_counters.c.day_start == day_start.scalar_subquery(),
            )
            .values(spent_minor=func.max(left, 0) if self._sqlite else func.greatest(left, 0))
        )

    @property
    def _sqlite(self) -> bool:
        return self.connection.dialect.name == "sqlite"

    @staticmethod
    def _counter_covering(owner_id: str, scheme_id: str, at: dt.datetime, column: Any) -> Select[Any]:
        return (
            select(column)
            .where(
                spend_counters.c.owner_id == owner_id,
                spend_counters.c.scheme_id == scheme_id,
                spend_counters.c.day_start <= at,
                spend_counters.c.day_end > at,
            )
            .order_by(spend_counters.c.day_start.desc())
            .limit(1)
        )

    def earned(
        self, owner_id: str, scheme_id: str, since: dt.datetime, *, event_type: str | None = None
    ) -> int:
        """What an owner earned in a scheme since an instant (optionally from one event type only)."""
        query = self._earned_query(_wallet(owner_id, scheme_id), since)
        if event_type is not None:
            marker = '"event_type":' + json.dumps(event_type, ensure_ascii=False)
            query = query.where(transactions.c.metadata_json.contains(marker, autoescape=True))
        return int(self.connection.execute(query).scalar_one())

    def earned_by_members(self, collective_id: str, scheme_id: str, since: dt.datetime) -> int:
        """What the member households of a collective earned in a scheme since an instant."""
        owners = select(memberships.c.resident_id).where(
            memberships.c.collective_id == collective_id, memberships.c.scheme_id == scheme_id
        )
        wallet = select(lots.c.account_id).where(lots.c.owner_id.in_(owners), lots.c.scheme_id == scheme_id)
        return int(self.connection.execute(self._earned_query(wallet, since)).scalar_one())

    @staticmethod
    def _earned_query(wallet: Select[Any], since: dt.datetime) -> Select[Any]:
        return (
            select(func.coalesce(func.sum(postings.c.amount_minor), 0))
            .select_from(postings.join(transactions, transactions.c.id == postings.c.transaction_id))
            .where(
                postings.c.account_id.in_(wallet),
                postings.c.recorded_at >= since,
                postings.c.amount_minor > 0,
                transactions.c.kind == TransactionKind.EARN,
            )
        )

    def spent(self, owner_id: str, scheme_id: str, since: dt.datetime) -> int:
        """Net spent at outlets since an instant, summed over postings (the audit of the spend counters)."""
        wallet = _wallet(owner_id, scheme_id)
        joined = postings.join(transactions, transactions.c.id == postings.c.transaction_id)
        out = (
            select(func.coalesce(func.sum(-postings.c.amount_minor), 0))
            .select_from(joined)
            .where(
                postings.c.account_id.in_(wallet),
                postings.c.recorded_at >= since,
                postings.c.amount_minor < 0,
                transactions.c.kind.in_(SPEND_KINDS),
            )
        )
        original = transactions.alias("original")
        refunded = (
            select(func.coalesce(func.sum(postings.c.amount_minor), 0))
            .select_from(joined.join(original, original.c.id == transactions.c.reverses_id))
            .where(
                postings.c.account_id.in_(wallet),
                postings.c.amount_minor > 0,
                transactions.c.kind == TransactionKind.REFUND,
                original.c.recorded_at >= since,
            )
        )
        returned = (
            select(func.coalesce(func.sum(postings.c.amount_minor), 0))
            .select_from(joined.join(holds, holds.c.resolved_transaction_id == transactions.c.id))
            .where(
                postings.c.account_id.in_(wallet),
                postings.c.amount_minor > 0,
                transactions.c.kind.in_(HOLD_RETURN_KINDS),
                holds.c.created_at >= since,
            )
        )
        total = sum(int(self.connection.execute(query).scalar_one()) for query in (refunded, returned))
        return max(0, int(self.connection.execute(out).scalar_one()) - total)

    def count_members(self, scheme_id: str) -> int:
        """How many residents are enrolled in a scheme."""
        query = select(func.count()).select_from(memberships).where(memberships.c.scheme_id == scheme_id)
        return int(self.connection.execute(query).scalar_one())

    def members_page(self, scheme_id: str, *, after: str, limit: int) -> list[dict[str, Any]]:
        """Members after a resident id, with what eligibility needs (kind, referral, details, erasure)."""
        # Every table bounded by the page's first and last resident: with the cursor on memberships
        # alone, the planner merge-joined (or hashed) residents and details from their first row each page.
        last = self.connection.execute(
            select(memberships.c.resident_id)
            .where(memberships.c.scheme_id == scheme_id, memberships.c.resident_id > after)
            .order_by(memberships.c.resident_id)
            .offset(limit - 1)
            .limit(1)
        ).scalar()
        query = (
            select(
                memberships.c.resident_id,
                memberships.c.referral,
                residents.c.kind,
                personal_details.c.resident_id.label("details_id"),
                personal_details.c.date_of_birth,
                personal_details.c.postcode,
                personal_details.c.ward,
                resident_erasures.c.erased_at,
            )
            .select_from(
                memberships.join(residents, _member_row(residents.c.id, after, last))
                .outerjoin(personal_details, _member_row(personal_details.c.resident_id, after, last))
                .outerjoin(resident_erasures, _member_row(resident_erasures.c.resident_id, after, last))
            )
            .where(memberships.c.scheme_id == scheme_id, _on_page(memberships.c.resident_id, after, last))
            .order_by(memberships.c.resident_id)
            .limit(limit)
        )
        return [_member(row) for row in self.connection.execute(query)]

    def rules_at_version(self, scheme_id: str, version: int) -> dict[str, Any] | None:
        """A scheme's rules as they were at one version."""
        row = self.connection.execute(
            select(scheme_versions.c.rules_json).where(
                scheme_versions.c.scheme_id == scheme_id, scheme_versions.c.version == version
            )
        ).first()
        return None if row is None else dict(json.loads(row.rules_json))


def _on_page(column: Any, after: str, last: str | None) -> Any:
    """A resident id column within the page: after the cursor, up to the page's last member."""
    return column > after if last is None else and_(column > after, column <= last)


def _member_row(column: Any, after: str, last: str | None) -> Any:
    """A joined table's row for the member, bounded by the page as the member is."""
    return and_(column == memberships.c.resident_id, _on_page(column, after, last))


def _wallet(owner_id: str, scheme_id: str) -> Select[Any]:
    return select(lots.c.account_id).where(lots.c.owner_id == owner_id, lots.c.scheme_id == scheme_id)


def _member(row: Any) -> dict[str, Any]:
    details = None
    if row.details_id is not None:
        details = {"date_of_birth": row.date_of_birth, "postcode": row.postcode, "ward": row.ward}
    return {
        "id": row.resident_id,
        "kind": row.kind,
        "referral": row.referral,
        "details": details,
        "erased_at": row.erased_at,
    }
