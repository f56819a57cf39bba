"""Jobs: queued durably, claimed under a lease, advanced chunk by chunk, with the members they refused."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, and_, insert, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from ledger.db.tables import job_refusals, jobs
from ledger.journal import canonical_json

RUNNABLE = ("queued", "running")


class JobsRepository:
    """The jobs table and the refusals each job recorded (bookkeeping, not ledger facts: they may change)."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self.dialect = connection.dialect.name

    def create(self, *, id: str, kind: str, total: int, actor: str, state: Any, now: dt.datetime) -> None:
        """Queue a job: a worker claims it, nothing runs it here."""
        self.connection.execute(
            insert(jobs).values(
                id=id,
                kind=kind,
                status="queued",
                total=total,
                done=0,
                result_json=canonical_json(state).decode(),
                created_by=actor,
                created_at=now,
                finished_at=None,
                resume_after="",
                lease_expires_at=None,
            )
        )

    def job(self, job_id: str) -> dict[str, Any] | None:
        """One job with its state decoded, or None."""
        row = self.connection.execute(select(jobs).where(jobs.c.id == job_id)).first()
        if row is None:
            return None
        data = dict(row._mapping)
        data["result"] = json.loads(data.pop("result_json")) if data["result_json"] else None
        return data

    def requeue(self, job_id: str) -> bool:
        """Queue a failed job again (it resumes where it stopped); False if it had not failed."""
        result = self.connection.execute(
            update(jobs)
            .where(jobs.c.id == job_id, jobs.c.status == "failed")
            .values(status="queued", finished_at=None, lease_expires_at=None)
        )
        return bool(result.rowcount == 1)

    def claim_next(
        self, now: dt.datetime, lease_until: dt.datetime, *, job_id: str | None = None
    ) -> str | None:
        """Take the oldest queued job (or this one), or a running one whose worker's lease ran out."""
        claimable = or_(
            jobs.c.status == "queued",
            and_(
                jobs.c.status == "running",
                or_(jobs.c.lease_expires_at.is_(None), jobs.c.lease_expires_at < now),
            ),
        )
        candidates = select(jobs.c.id).where(jobs.c.status.in_(RUNNABLE), claimable)
        if job_id is not None:
            candidates = candidates.where(jobs.c.id == job_id)
        for (candidate,) in self.connection.execute(
            candidates.order_by(jobs.c.created_at, jobs.c.id).limit(8)
        ):
            # The conditional UPDATE decides between two workers: only one sees a row change.
            result = self.connection.execute(
                update(jobs)
                .where(jobs.c.id == candidate, claimable)
                .values(status="running", lease_expires_at=lease_until)
            )
            if result.rowcount == 1:
                return str(candidate)
        return None

    def advance(
        self, job_id: str, *, expected_after: str, after: str, done: int, state: Any, lease_until: dt.datetime
    ) -> bool:
        """Record a committed chunk's progress if the job is still where this worker left it."""
        result = self.connection.execute(
            update(jobs)
            .where(jobs.c.id == job_id, jobs.c.status == "running", jobs.c.resume_after == expected_after)
            .values(
                resume_after=after,
                done=done,
                result_json=canonical_json(state).decode(),
                lease_expires_at=lease_until,
            )
        )
        return bool(result.rowcount == 1)

    def finish(self, job_id: str, *, status: str, state: Any, now: dt.datetime) -> None:
        """Record the end of a run: succeeded, or failed (a retry queues it again)."""
        self.connection.execute(
            update(jobs)
            .where(jobs.c.id == job_id)
            .values(
                status=status,
                result_json=canonical_json(state).decode(),
                finished_at=now,
                lease_expires_at=None,
            )
        )

    def add_refusals(self, job_id: str, refusals: Sequence[tuple[str, str, str]]) -> None:
        """Record (resident, problem, reason) for members the job passed over; a repeat changes nothing."""
        if not refusals:
            return
        rows = [
            {"job_id": job_id, "resident_id": resident_id, "problem": problem, "reason": reason}
            for resident_id, problem, reason in refusals
        ]
        dialect_insert = postgresql.insert if self.dialect == "postgresql" else sqlite.insert
        self.connection.execute(dialect_insert(job_refusals).on_conflict_do_nothing(), rows)

    def refusals(self, job_id: str, *, limit: int, after: str = "") -> list[dict[str, Any]]:
        """The members a job refused, by resident id after a cursor."""
        query = (
            select(job_refusals.c.resident_id, job_refusals.c.problem, job_refusals.c.reason)
            .where(job_refusals.c.job_id == job_id, job_refusals.c.resident_id > after)
            .order_by(job_refusals.c.resident_id)
            .limit(limit)
        )
        return [dict(row._mapping) for row in self.connection.execute(query)]
