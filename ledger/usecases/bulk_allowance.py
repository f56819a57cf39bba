"""The bulk allowance job: issue to every (still eligible) member of a scheme, chunk by chunk, restartably."""

# The job streams members by resident id, `chunk_size` at a time, and pays each chunk with the COPY-based
# engine (ledger.usecases.bulk.issue_chunk). A chunk's payments, the members it refused and the job's
# progress (counts and the last member done) commit in one database transaction, so a worker killed
# mid-job loses at most the chunk in flight, which rolls back whole; the next worker resumes after the last
# committed member. Each payment is keyed f"bulk:{job_id}:{resident_id}" and a recurring allowance also
# records each member's payment for the council's period, so no resumption, rerun or second job pays
# anyone twice.

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from ledger.clock import Clock, rfc3339
from ledger.errors import BudgetExhausted, LedgerError
from ledger.ports import UnitOfWork, UnitOfWorkFactory
from ledger.rules import local_date
from ledger.service import read_only
from ledger.usecases.bulk_allowance_run import (
    CHUNK_SIZE,
    AllowanceRun,
    JobLost,
    Restart,
    member_pages,
    refusal,
)
from ledger.usecases.issuances import IssueRequest, plan_issue, request_data
from ledger.usecases.jobs import LEASE_SECONDS, JobRef
from ledger.usecases.requests import once, scheme_and_rules

JOB_KIND = "bulk_allowance"
JOB_NAMESPACE = uuid.UUID("6f1c9a52-3f0e-4a57-9a52-0c1b7ad0b1a1")
log = logging.getLogger("clubcard.jobs")


@dataclasses.dataclass(frozen=True)
class BulkDryRun:
    """What a bulk issuance would do now, before anything is paid."""

    scheme: str
    unit: str
    amount_minor: int
    period: str | None
    members: int
    eligible: int
    not_eligible: int
    already_paid: int
    to_pay: int
    total_minor: int
    budget_minor: int


def job_id_for(actor: str, key: str) -> str:
    """The job id for a caller's Idempotency-Key: the same request always names the same job."""
    return str(uuid.uuid5(JOB_NAMESPACE, f"{actor}\n{key}"))


def dry_run_bulk_issuance(
    uow: UnitOfWork, *, request: IssueRequest, now: dt.datetime, zone: dt.tzinfo
) -> BulkDryRun:
    """Count who would be paid, who is refused and who is already paid this period, and the total."""
    scheme, rules = scheme_and_rules(uow, request.scheme)
    plan = plan_issue(rules, request, now, zone)
    period = rules.issuing.allowance_period(now, zone)
    members = eligible = already_paid = 0
    for page in member_pages(uow, scheme["id"], after="", chunk_size=CHUNK_SIZE):
        members += len(page)
        ids = [member["id"] for member in page if refusal(rules, member, local_date(now, zone)) is None]
        eligible += len(ids)
        if period is not None and ids:
            already_paid += len(uow.bulk.allowance_holders(scheme["id"], period, ids))
    to_pay = eligible - already_paid
    return BulkDryRun(
        scheme=scheme["slug"],
        unit=scheme["unit"],
        amount_minor=plan.amount_minor,
        period=period,
        members=members,
        eligible=eligible,
        not_eligible=members - eligible,
        already_paid=already_paid,
        to_pay=to_pay,
        total_minor=to_pay * plan.amount_minor,
        budget_minor=uow.accounts.balance(scheme["budget_account_id"]),
    )


def start_bulk_issuance(
    uow: UnitOfWork, *, request: IssueRequest, now: dt.datetime, zone: dt.tzinfo, actor: str, key: str
) -> JobRef:
    """Queue the job (amount, category, expiry and period fixed now); a retry of a failed one requeues it."""

    def operation() -> dict[str, Any]:
        scheme, rules = scheme_and_rules(uow, request.scheme)
        plan = plan_issue(rules, request, now, zone)
        period = rules.issuing.allowance_period(now, zone)
        job_id = job_id_for(actor, key)
        state = {
            "scheme": scheme["slug"],
            "amount_minor": plan.amount_minor,
            "category": plan.category,
            "expires_at": plan.expires_at and rfc3339(plan.expires_at),
            "period": period,
            "paid": 0,
            "already_paid": 0,
            "refused": 0,
            "error": None,
        }
        total = uow.activity.count_members(scheme["id"])
        uow.jobs.create(id=job_id, kind=JOB_KIND, total=total, actor=actor, state=state, now=now)
        already_paid = uow.bulk.allowances_paid(scheme["id"], period) if period else 0
        return {"job_id": job_id, "total": total, "period": period, "already_paid": already_paid}

    fingerprint = {"op": "bulk-issuance", **request_data(request)}
    body = once(uow, actor=actor, key=key, request=fingerprint, now=now, operation=operation)
    uow.jobs.requeue(body["job_id"])  # a failed job (say the budget ran out) resumes where it stopped
    job = uow.jobs.job(body["job_id"])
    return JobRef(
        job_id=body["job_id"],
        kind=JOB_KIND,
        status=job["status"],
        total=body["total"],
        period=body["period"],
        already_paid=body["already_paid"],
    )


def run_bulk_allowance(
    uow_factory: UnitOfWorkFactory,
    clock: Clock,
    job_id: str,
    *,
    should_stop: Callable[[], bool] = lambda: False,
    chunk_size: int | None = None,
    lease_seconds: float = LEASE_SECONDS,
) -> str:
    """Run (or resume) a job this worker holds, chunk by chunk; returns its status (running if stopped)."""
    job = read_only(uow_factory, lambda uow: uow.jobs.job(job_id))
    assert job is not None and job["kind"] == JOB_KIND
    run = AllowanceRun(uow_factory, clock, job, chunk_size or CHUNK_SIZE, lease_seconds)
    try:
        with ThreadPoolExecutor(max_workers=run.depth, thread_name_prefix="bulk-job") as pool:
            while True:
                try:
                    if run.chunks(pool, should_stop):
                        return run.finish("succeeded")
                    return "running"  # stopped between chunks: the lease runs out and a worker carries on
                except Restart:
                    continue
    except JobLost:
        log.warning("bulk allowance job %s was taken over by another worker", job_id)
        return "running"
    except BudgetExhausted as error:
        run.state["error"] = error.problem
        return run.finish("failed")
    except Exception as error:  # the job must end with a status, whatever went wrong
        log.exception("bulk allowance job %s failed", job_id)
        run.state["error"] = error.problem if isinstance(error, LedgerError) else "internal"
        return run.finish("failed")
