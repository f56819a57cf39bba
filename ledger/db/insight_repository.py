"""What the insight pages count: aggregates per scheme, grouped in the database by ward or age band, each
with the number of distinct people behind it. Pseudonymous ids, ward and date of birth only; never names."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Connection,
    Select,
    and_,
    case,
    cast,
    delete,
    func,
    insert,
    select,
)

from ledger.db.tables import (
    lots,
    memberships,
    personal_details,
    postings,
    residents,
    transactions,
    ward_deprivation,
)
from ledger.kinds import ISSUE_KINDS, USE_KINDS, TransactionKind

NOT_RECORDED = "not recorded"
# (label for people born after the cutoff date, cutoff as YYYY-MM-DD), youngest band first.
AgeCutoffs = Sequence[tuple[str, str]]
# (UTC instant an offset starts, seconds east of UTC), in time order: the council's clock over a span.
Offsets = Sequence[tuple[dt.datetime, int]]


class InsightRepository:
    """Aggregate reads for the insight pages, and the uploaded ward deprivation list, on one connection."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self.dialect = connection.dialect.name

    def wards(self) -> list[dict[str, Any]]:
        """The uploaded wards and their deprivation deciles, most deprived first."""
        query = select(ward_deprivation).order_by(ward_deprivation.c.decile, ward_deprivation.c.ward)
        return [dict(row._mapping) for row in self.connection.execute(query)]

    def replace_wards(self, deciles: Sequence[tuple[str, int]], *, actor: str, now: dt.datetime) -> None:
        """Replace the whole ward list with this upload."""
        self.connection.execute(delete(ward_deprivation))
        if deciles:
            rows = [{"ward": w, "decile": d, "uploaded_at": now, "uploaded_by": actor} for w, d in deciles]
            self.connection.execute(insert(ward_deprivation), rows)

    def group_expression(
        self, dimension: str, age_cutoffs: AgeCutoffs, oldest: str
    ) -> ColumnElement[Any] | None:
        """The column a figure is grouped by: the ward, the age band (from personal_details), or None."""
        if dimension == "ward":
            return func.coalesce(personal_details.c.ward, NOT_RECORDED).label("grp")
        if dimension == "age":
            born = personal_details.c.date_of_birth
            whens = [(born.is_(None), NOT_RECORDED)] + [
                (born > cutoff, label) for label, cutoff in age_cutoffs
            ]
            return case(*whens, else_=oldest).label("grp")
        assert dimension == "all", dimension
        return None

    def eligible(self, scheme_id: str, rule: dict[str, Any], group: ColumnElement[Any] | None) -> list[Any]:
        """(group, people) of the people the scheme's eligibility band admits, from ward and birth date."""
        query = (
            select(*_group_columns(group), func.count().label("people"))
            .select_from(residents)
            .join(personal_details, personal_details.c.resident_id == residents.c.id)
        )
        if rule.get("born_after") is not None:
            query = query.where(personal_details.c.date_of_birth > rule["born_after"])
        if rule.get("born_on_or_before") is not None:
            query = query.where(personal_details.c.date_of_birth <= rule["born_on_or_before"])
        if rule.get("wards"):
            query = query.where(personal_details.c.ward.in_(rule["wards"]))
        return self._grouped(query, group)

    def enrolled(self, scheme_id: str, group: ColumnElement[Any] | None) -> list[Any]:
        """(group, people) enrolled in the scheme."""
        query = (
            select(*_group_columns(group), func.count().label("people"))
            .select_from(memberships)
            .outerjoin(personal_details, personal_details.c.resident_id == memberships.c.resident_id)
            .where(memberships.c.scheme_id == scheme_id)
        )
        return self._grouped(query, group)

    def active(self, scheme_id: str, since: dt.datetime, group: ColumnElement[Any] | None) -> list[Any]:
        """(group, people) who used value from the scheme since `since`."""
        query = (
            select(*_group_columns(group), func.count(func.distinct(lots.c.owner_id)).label("people"))
            .select_from(_lot_postings())
            .outerjoin(personal_details, personal_details.c.resident_id == lots.c.owner_id)
            .where(
                lots.c.scheme_id == scheme_id,
                transactions.c.kind.in_(USE_KINDS),
                postings.c.amount_minor < 0,
                transactions.c.occurred_at >= since,
            )
        )
        return self._grouped(query, group)

    def value(self, scheme_id: str, group: ColumnElement[Any] | None) -> list[Any]:
        """Per group: value issued, expired and left in lots (net), and the people behind each."""
        kind, amount, owner = transactions.c.kind, postings.c.amount_minor, lots.c.owner_id
        issued = kind.in_(ISSUE_KINDS)
        expired = kind == TransactionKind.EXPIRE
        spent = and_(kind.in_(USE_KINDS), amount < 0)
        query = (
            select(
                *_group_columns(group),
                func.coalesce(func.sum(case((issued, amount), else_=0)), 0).label("issued_minor"),
                func.coalesce(func.sum(case((expired, -amount), else_=0)), 0).label("expired_minor"),
                func.coalesce(func.sum(amount), 0).label("unclaimed_minor"),
                func.count(func.distinct(case((issued, owner)))).label("issued_people"),
                func.count(func.distinct(case((expired, owner)))).label("expired_people"),
                func.count(func.distinct(case((spent, owner)))).label("spent_people"),
                func.count(func.distinct(owner)).label("people"),
            )
            .select_from(_lot_postings())
            .outerjoin(personal_details, personal_details.c.resident_id == owner)
            .where(lots.c.scheme_id == scheme_id)
        )
        return self._grouped(query, group)

    def days_to_first_spend(self, scheme_id: str, group: ColumnElement[Any] | None) -> list[Any]:
        """(group, whole days from first issue to first spend, people), for people who have spent."""
        kind = transactions.c.kind
        per_person = (
            select(
                lots.c.owner_id.label("owner_id"),
                func.min(case((kind.in_(ISSUE_KINDS), transactions.c.occurred_at))).label("first_issue"),
                func.min(
                    case((and_(kind.in_(USE_KINDS), postings.c.amount_minor < 0), transactions.c.occurred_at))
                ).label("first_spend"),
            )
            .select_from(_lot_postings())
            .where(lots.c.scheme_id == scheme_id)
            .group_by(lots.c.owner_id)
            .subquery()
        )
        seconds = self.epoch(per_person.c.first_spend) - self.epoch(per_person.c.first_issue)
        days = cast(seconds / 86400, BigInteger).label("days")
        query = (
            select(*_group_columns(group), days, func.count().label("people"))
            .select_from(per_person)
            .outerjoin(personal_details, personal_details.c.resident_id == per_person.c.owner_id)
            .where(per_person.c.first_spend.is_not(None), per_person.c.first_issue.is_not(None))
            .where(per_person.c.first_spend >= per_person.c.first_issue)
        )
        query = query.group_by(*([group] if group is not None else []), days)
        return list(self.connection.execute(query).all())

    def redemption_span(self, scheme_id: str) -> tuple[dt.datetime | None, dt.datetime | None]:
        """The first and last redemption in the scheme (to know which clock offsets apply)."""
        row = self.connection.execute(
            select(func.min(transactions.c.occurred_at), func.max(transactions.c.occurred_at)).where(
                transactions.c.scheme_id == scheme_id, transactions.c.kind == TransactionKind.REDEEM
            )
        ).one()
        return row[0], row[1]

    def redemptions_by(self, scheme_id: str, offsets: Offsets, bucket: str) -> list[Any]:
        """Redemptions on the council's clock grouped by bucket: "all", "week", "week_outlet", "hour" of
        the day or "weekday" (0 is Monday): (bucket, [outlet_id,] redemptions, value_minor, people)."""
        local = self.epoch(transactions.c.occurred_at) + _offset(transactions.c.occurred_at, offsets)
        monday_epoch_seconds = 4 * 86400  # 1970-01-05 was the first Monday after the epoch
        week = cast((local - monday_epoch_seconds) / 604800, BigInteger)
        keys: dict[str, list[Any]] = {
            "all": [],
            "week": [week.label("bucket")],
            "week_outlet": [week.label("bucket"), transactions.c.outlet_id.label("outlet_id")],
            "hour": [(cast(local / 3600, BigInteger) % 24).label("bucket")],
            "weekday": [(cast((local - monday_epoch_seconds) / 86400, BigInteger) % 7).label("bucket")],
        }
        group = keys[bucket]
        query = (
            select(
                *group,
                func.count(func.distinct(transactions.c.id)).label("redemptions"),
                func.coalesce(-func.sum(postings.c.amount_minor), 0).label("value_minor"),
                func.count(func.distinct(lots.c.owner_id)).label("people"),
            )
            .select_from(_lot_postings())
            .where(transactions.c.scheme_id == scheme_id, transactions.c.kind == TransactionKind.REDEEM)
            .where(postings.c.amount_minor < 0)
        )
        if group:
            query = query.group_by(*group)
        return list(self.connection.execute(query).all())

    def epoch(self, column: Any) -> ColumnElement[Any]:
        """Whole seconds since 1970 (UTC) of a timestamp column, on either database."""
        if self.dialect == "postgresql":
            return cast(func.extract("epoch", column), BigInteger)
        return cast(func.strftime("%s", column), BigInteger)

    def _grouped(self, query: Select[Any], group: ColumnElement[Any] | None) -> list[Any]:
        if group is not None:
            query = query.group_by(group)
        return list(self.connection.execute(query).all())


def _group_columns(group: ColumnElement[Any] | None) -> list[Any]:
    return [group] if group is not None else []


def _lot_postings() -> Any:
    """Postings on residents' lots, with their transaction and lot."""
    return postings.join(transactions, transactions.c.id == postings.c.transaction_id).join(
        lots, lots.c.account_id == postings.c.account_id
    )


def _offset(column: Any, offsets: Offsets) -> ColumnElement[Any]:
    """The council's offset from UTC in seconds at each row's instant."""
    assert offsets, "at least the offset in force at the first instant"
    if len(offsets) == 1:
        return cast(offsets[0][1], BigInteger)
    whens = [(column < start, offsets[index][1]) for index, (start, _) in enumerate(offsets[1:])]
    return case(*whens, else_=offsets[-1][1])
