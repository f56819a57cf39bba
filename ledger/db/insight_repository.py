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
    String,
    and_,
    case,
    cast,
    delete,
    func,
    insert,
    literal,
    null,
    select,
    union_all,
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

    def member_figures(
        self, scheme_id: str, since: dt.datetime, group: ColumnElement[Any] | None
    ) -> list[Any]:
        """One pass over the scheme's lot postings, per member, then counted by (group, whole days from
        first issue to first spend or None): value issued, expired and left in lots, and the people who
        were issued, had value expire, spent, spent since `since` (active), or hold any lot."""
        kind, amount, occurred = transactions.c.kind, postings.c.amount_minor, transactions.c.occurred_at
        issued, expired = kind.in_(ISSUE_KINDS), kind == TransactionKind.EXPIRE
        spent = and_(kind.in_(USE_KINDS), amount < 0)
        flags = {
            "issued": issued,
            "expired": expired,
            "spent": spent,
            "active": and_(spent, occurred >= since),
        }
        member = (
            select(
                lots.c.owner_id.label("owner_id"),
                func.sum(case((issued, amount), else_=0)).label("issued_minor"),
                func.sum(case((expired, -amount), else_=0)).label("expired_minor"),
                func.sum(amount).label("unclaimed_minor"),
                *(func.max(case((flag, 1), else_=0)).label(name) for name, flag in flags.items()),
                func.min(case((issued, occurred))).label("first_issue"),
                func.min(case((spent, occurred))).label("first_spend"),
            )
            .select_from(_lot_postings())
            .where(lots.c.scheme_id == scheme_id)
            .group_by(lots.c.owner_id)
            .subquery()
        )
        first_issue, first_spend = member.c.first_issue, member.c.first_spend
        seconds = self.epoch(first_spend) - self.epoch(first_issue)
        has_spent = and_(first_spend.is_not(None), first_issue.is_not(None), first_spend >= first_issue)
        days = case((has_spent, cast(seconds / 86400, BigInteger))).label("days")
        query = select(
            *_group_columns(group),
            days,
            *(func.sum(member.c[name]).label(name) for name in ("issued_minor", "expired_minor")),
            func.sum(member.c.unclaimed_minor).label("unclaimed_minor"),
            *(func.sum(member.c[name]).label(f"{name}_people") for name in flags),
            func.count().label("people"),
        ).select_from(member)
        if group is not None:
            query = query.outerjoin(personal_details, personal_details.c.resident_id == member.c.owner_id)
        query = query.group_by(*_group_columns(group), days)
        return list(self.connection.execute(query).all())

    def redemption_span(self, scheme_id: str) -> tuple[dt.datetime | None, dt.datetime | None]:
        """The first and last redemption in the scheme (to know which clock offsets apply)."""
        row = self.connection.execute(
            select(func.min(transactions.c.occurred_at), func.max(transactions.c.occurred_at)).where(
                transactions.c.scheme_id == scheme_id, transactions.c.kind == TransactionKind.REDEEM
            )
        ).one()
        return row[0], row[1]

    def redemptions(self, scheme_id: str, offsets: Offsets) -> list[Any]:
        """Redemptions on the council's clock, from one pass over the scheme's redemption postings, by
        bucket kind ("week_outlet", "hour" of the day, "weekday", 0 is Monday): rows of (kind, bucket,
        outlet_id, redemptions, value_minor); and the distinct people of those and of "week" and "all":
        rows of (kind, bucket, outlet_id, people). Grouped twice, not COUNT(DISTINCT), which spills."""
        local = self.epoch(transactions.c.occurred_at) + _offset(transactions.c.occurred_at, offsets)
        buckets = _buckets(local)
        spend = (
            select(
                transactions.c.id.label("transaction_id"),
                lots.c.owner_id.label("owner_id"),
                transactions.c.outlet_id.label("outlet_id"),
                *(expression.label(name) for name, expression in buckets.items()),
                postings.c.amount_minor,
            )
            .select_from(_lot_postings())
            .where(transactions.c.scheme_id == scheme_id, transactions.c.kind == TransactionKind.REDEEM)
            .where(postings.c.amount_minor < 0)
            .cte("spend")
        )
        # One row per redemption (a redemption draws on one member's lots, but count it once regardless).
        moments = [spend.c.outlet_id, *(spend.c[name] for name in buckets)]
        redemption = (
            select(*moments, func.sum(spend.c.amount_minor).label("amount_minor"))
            .group_by(spend.c.transaction_id, *moments)
            .cte("redemption")
        )
        parts: list[Any] = []
        for kind, keys in _bucket_keys(spend).items():
            if kind in ("week_outlet", "hour", "weekday"):
                counted = _bucket_keys(redemption)[kind]
                parts.append(
                    select(
                        literal(kind).label("kind"),
                        *counted,
                        func.count().label("redemptions"),
                        -func.sum(redemption.c.amount_minor).label("value_minor"),
                        cast(null(), BigInteger).label("people"),
                    ).group_by(*counted)
                )
            per_owner = select(*keys).select_from(spend).group_by(*keys, spend.c.owner_id).subquery()
            owned = [per_owner.c.bucket, per_owner.c.outlet_id]
            parts.append(
                select(
                    literal(kind).label("kind"),
                    *owned,
                    cast(null(), BigInteger).label("redemptions"),
                    cast(null(), BigInteger).label("value_minor"),
                    func.count().label("people"),
                ).group_by(*owned)
            )
        return list(self.connection.execute(union_all(*parts)).all())

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


def _buckets(local: Any) -> dict[str, ColumnElement[Any]]:
    """The week (from 5 January 1970), hour of the day and weekday of local seconds since 1970."""
    monday_epoch_seconds = 4 * 86400  # 1970-01-05 was the first Monday after the epoch
    return {
        "week": cast((local - monday_epoch_seconds) / 604800, BigInteger),
        "hour": cast(local / 3600, BigInteger) % 24,
        "weekday": cast((local - monday_epoch_seconds) / 86400, BigInteger) % 7,
    }


def _bucket_keys(rows: Any) -> dict[str, list[Any]]:
    """Each bucket kind's (bucket, outlet_id) columns of rows with outlet_id, week, hour and weekday."""
    no_bucket, no_outlet = cast(null(), BigInteger).label("bucket"), cast(null(), String).label("outlet_id")
    return {
        "all": [no_bucket, no_outlet],
        "week": [rows.c.week.label("bucket"), no_outlet],
        "week_outlet": [rows.c.week.label("bucket"), rows.c.outlet_id.label("outlet_id")],
        "hour": [rows.c.hour.label("bucket"), no_outlet],
        "weekday": [rows.c.weekday.label("bucket"), no_outlet],
    }


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
