"""What scheme managers, finance and admins oversee: uptake, rule versions, value about to expire,
holds past their timeout, and the resolution of offline shortfalls."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, delete, func, insert, select, update

from ledger.db.activity_repository import _member as member_from_row  # the shape bulk jobs page members in
from ledger.db.tables import (
    balances,
    holds,
    job_members,
    jobs,
    lots,
    memberships,
    offline_shortfalls,
    personal_details,
    postings,
    resident_erasures,
    residents,
    scheme_versions,
    shortfall_resolutions,
    transactions,
)
from ledger.kinds import USE_KINDS

LIST_CHUNK = 1_000  # rows per INSERT when keeping a CSV's list of members


class OversightRepository:
    """Read-side summaries for the staff pages, and shortfall resolutions, on one connection."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    def uptake(self, scheme_ids: Sequence[str], active_since: dt.datetime) -> dict[str, tuple[int, int]]:
        """(members, members who used value since `active_since`) for each scheme."""
        if not scheme_ids:
            return {}
        members: dict[str, int] = dict(
            self.connection.execute(
                select(memberships.c.scheme_id, func.count())
                .where(memberships.c.scheme_id.in_(scheme_ids))
                .group_by(memberships.c.scheme_id)
            ).all()
        )
        active_query = (
            select(transactions.c.scheme_id, func.count(func.distinct(lots.c.owner_id)))
            .select_from(transactions)
            .join(postings, postings.c.transaction_id == transactions.c.id)
            .join(lots, lots.c.account_id == postings.c.account_id)
            .where(
                transactions.c.scheme_id.in_(scheme_ids),
                transactions.c.kind.in_(USE_KINDS),
                transactions.c.recorded_at >= active_since,
                postings.c.amount_minor < 0,
            )
            .group_by(transactions.c.scheme_id)
        )
        active: dict[str, int] = dict(self.connection.execute(active_query).all())
        return {i: (int(members.get(i, 0)), int(active.get(i, 0))) for i in scheme_ids}

    def rule_versions(self, scheme_id: str) -> list[dict[str, Any]]:
        """Every rule version of a scheme, newest first."""
        query = (
            select(scheme_versions)
            .where(scheme_versions.c.scheme_id == scheme_id)
            .order_by(scheme_versions.c.version.desc())
        )
        return [
            {
                "version": int(row.version),
                "rules": json.loads(row.rules_json),
                "created_at": row.created_at,
                "created_by": row.created_by,
            }
            for row in self.connection.execute(query)
        ]

    def expiring_value(self, after: dt.datetime | None, up_to: dt.datetime) -> list[dict[str, Any]]:
        """Per scheme and unit: lots with value left that expire after `after` (None: any time) up to
        and including `up_to`, and the value in them."""
        held = (
            select(balances.c.account_id, func.sum(balances.c.balance_minor).label("balance_minor"))
            .group_by(balances.c.account_id)
            .subquery()
        )
        query = (
            select(
                lots.c.scheme_id,
                func.count().label("lots"),
                func.sum(held.c.balance_minor).label("value_minor"),
                func.min(lots.c.expires_at).label("first_expires_at"),
            )
            .join(held, held.c.account_id == lots.c.account_id)
            .where(lots.c.expires_at.is_not(None), lots.c.expires_at <= up_to, held.c.balance_minor > 0)
            .group_by(lots.c.scheme_id)
        )
        if after is not None:
            query = query.where(lots.c.expires_at > after)
        return [
            {
                "scheme_id": row.scheme_id,
                "lots": int(row.lots),
                "value_minor": int(row.value_minor),
                "first_expires_at": row.first_expires_at,
            }
            for row in self.connection.execute(query)
        ]

    def holds_past_timeout(self, now: dt.datetime, limit: int) -> list[dict[str, Any]]:
        """Holds whose timeout has passed: still pending (the next expiry run releases them) or released
        by their timeout; earliest timeout first."""
        query = (
            select(holds)
            .where(holds.c.expires_at <= now, holds.c.status.in_(("pending", "expired")))
            .order_by(holds.c.status.desc(), holds.c.expires_at.desc(), holds.c.id)
            .limit(limit)
        )
        return [dict(row._mapping) for row in self.connection.execute(query)]

    def shortfall(self, shortfall_id: str) -> dict[str, Any] | None:
        """One offline shortfall, or None."""
        row = self.connection.execute(
            select(offline_shortfalls).where(offline_shortfalls.c.id == shortfall_id)
        ).first()
        return None if row is None else dict(row._mapping)

    def resolve_shortfall(self, shortfall_id: str, note: str, actor: str, now: dt.datetime) -> None:
        """Record a shortfall's resolution (the primary key refuses a second one)."""
        self.connection.execute(
            insert(shortfall_resolutions).values(
                shortfall_id=shortfall_id, note=note, resolved_by=actor, resolved_at=now
            )
        )

    def shortfall_resolutions(self, shortfall_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        """The resolutions of these shortfalls, by shortfall id (unresolved ones are absent)."""
        if not shortfall_ids:
            return {}
        table = shortfall_resolutions
        rows = self.connection.execute(select(table).where(table.c.shortfall_id.in_(shortfall_ids)))
        return {row.shortfall_id: dict(row._mapping) for row in rows}

    def recent_jobs(self, kind: str, limit: int) -> list[str]:
        """The ids of the latest jobs of a kind, newest first."""
        query = (
            select(jobs.c.id)
            .where(jobs.c.kind == kind)
            .order_by(jobs.c.created_at.desc(), jobs.c.id.desc())
            .limit(limit)
        )
        return list(self.connection.execute(query).scalars())

    def replace_listed(
        self, job_id: str, rows: Sequence[tuple[str, str | None, str | None, str | None]]
    ) -> None:
        """Keep the members a CSV listed for a job: (reference, resident id, problem, reason) per line."""
        self.connection.execute(delete(job_members).where(job_members.c.job_id == job_id))
        for start in range(0, len(rows), LIST_CHUNK):
            chunk = rows[start : start + LIST_CHUNK]
            self.connection.execute(
                insert(job_members),
                [
                    {
                        "job_id": job_id,
                        "reference": ref,
                        "resident_id": resident,
                        "problem": problem,
                        "reason": why,
                    }
                    for ref, resident, problem, why in chunk
                ],
            )

    def listed_summary(self, job_id: str) -> tuple[int, list[tuple[str, str, str]]]:
        """How many lines a job's list has, and (resident id or reference, problem, reason) for those that
        cannot be paid."""
        lines = self.connection.execute(
            select(func.count()).select_from(job_members).where(job_members.c.job_id == job_id)
        ).scalar_one()
        unpayable = self.connection.execute(
            select(
                job_members.c.reference,
                job_members.c.resident_id,
                job_members.c.problem,
                job_members.c.reason,
            )
            .where(job_members.c.job_id == job_id, job_members.c.problem.is_not(None))
            .order_by(job_members.c.reference)
        )
        return int(lines), [(row.resident_id or row.reference, row.problem, row.reason) for row in unpayable]

    def listed_members_page(
        self, job_id: str, scheme_id: str, *, after: str, limit: int
    ) -> list[dict[str, Any]]:
        """The scheme's members a job's list names, after a resident id, with what eligibility needs."""
        listed = (
            select(job_members.c.resident_id)
            .where(job_members.c.job_id == job_id, job_members.c.problem.is_(None))
            .distinct()
            .subquery()
        )
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
                listed.join(memberships, memberships.c.resident_id == listed.c.resident_id)
                .join(residents, residents.c.id == memberships.c.resident_id)
                .outerjoin(personal_details, personal_details.c.resident_id == memberships.c.resident_id)
                .outerjoin(resident_erasures, resident_erasures.c.resident_id == memberships.c.resident_id)
            )
            .where(memberships.c.scheme_id == scheme_id, memberships.c.resident_id > after)
            .order_by(memberships.c.resident_id)
            .limit(limit)
        )
        return [member_from_row(row) for row in self.connection.execute(query)]

    def count_done(self, job_id: str, done: int) -> None:
        """Count lines a queued job will never reach (they name no member) as done from the start."""
        self.connection.execute(
            update(jobs).where(jobs.c.id == job_id, jobs.c.status == "queued").values(done=done)
        )
