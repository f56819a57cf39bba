"""Jobs as the UIs see them: a reference when one is accepted, its progress, the members it refused."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping
from typing import Any

from ledger.errors import NotFound
from ledger.ports import UnitOfWork

# How long a worker holds a job between two chunks; a worker that died frees it after this.
LEASE_SECONDS = 30.0


@dataclasses.dataclass(frozen=True)
class JobRef:
    """A job accepted: where to follow it, and what it will cover."""

    job_id: str
    kind: str
    status: str
    total: int
    period: str | None
    already_paid: int


@dataclasses.dataclass(frozen=True)
class JobProgress:
    """A job's progress: members done of total, and what became of them."""

    id: str
    kind: str
    status: str  # queued, running, succeeded or failed (a retry with the same key resumes it)
    total: int
    done: int
    paid: int
    already_paid: int
    refused: int
    error: str | None
    period: str | None
    scheme: str | None
    amount_minor: int | None
    created_by: str
    created_at: dt.datetime
    finished_at: dt.datetime | None
    result: Mapping[str, Any]


@dataclasses.dataclass(frozen=True)
class JobRefusal:
    """A member a job passed over, and why, in words."""

    resident_id: str
    problem: str
    reason: str


@dataclasses.dataclass(frozen=True)
class ClaimedJob:
    """A job this worker now holds under a lease."""

    id: str
    kind: str


def job_progress(uow: UnitOfWork, job_id: str) -> JobProgress:
    """A job's progress, or NotFound."""
    job = uow.jobs.job(job_id)
    if job is None:
        raise NotFound(f"no job {job_id}")
    state: dict[str, Any] = job["result"] or {}
    return JobProgress(
        id=job["id"],
        kind=job["kind"],
        status=job["status"],
        total=job["total"],
        done=job["done"],
        paid=int(state.get("paid", 0)),
        already_paid=int(state.get("already_paid", 0)),
        refused=int(state.get("refused", 0)),
        error=state.get("error"),
        period=state.get("period"),
        scheme=state.get("scheme"),
        amount_minor=state.get("amount_minor"),
        created_by=job["created_by"],
        created_at=job["created_at"],
        finished_at=job["finished_at"],
        result=state,
    )


def job_refusals(uow: UnitOfWork, job_id: str, *, limit: int, after: str = "") -> list[JobRefusal]:
    """One page of the members a job refused, by resident id after a cursor (NotFound for no such job)."""
    if uow.jobs.job(job_id) is None:
        raise NotFound(f"no job {job_id}")
    return [JobRefusal(**row) for row in uow.jobs.refusals(job_id, limit=limit, after=after)]


def claim_job(
    uow: UnitOfWork, now: dt.datetime, *, job_id: str | None = None, lease_seconds: float = LEASE_SECONDS
) -> ClaimedJob | None:
    """Take a job to run (this one, or the oldest waiting): queued, or running with its lease run out."""
    lease_until = now + dt.timedelta(seconds=lease_seconds)
    claimed = uow.jobs.claim_next(now, lease_until, job_id=job_id)
    if claimed is None:
        return None
    job = uow.jobs.job(claimed)
    return ClaimedJob(id=claimed, kind=job["kind"])
