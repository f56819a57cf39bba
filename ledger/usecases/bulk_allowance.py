"""The bulk allowance job: issue to every (still eligible) member of a scheme, in batches, restartably."""

# Each member's issue uses the deterministic key f"bulk:{job_id}:{resident_id}", and the job id is derived
# from the caller and their Idempotency-Key, so running the job again (after a crash, or after the budget
# was topped up) never issues twice. A recurring allowance also records each member's payment for the
# council's period (ledger.rules.Issuing.allowance_period) in the issue's own database transaction, so a
# second run under a new key finds the member paid and counts them as already_paid instead.

from __future__ import annotations

import datetime as dt
import functools
import logging
import threading
import uuid
from typing import Any

from ledger.clock import Clock, parse_rfc3339, rfc3339
from ledger.errors import BudgetExhausted, LedgerError, NotEligible
from ledger.ports import UnitOfWork, UnitOfWorkFactory
from ledger.rules import Rules, local_date, parse_rules
from ledger.service import read_only, run_in_transaction
from ledger.usecases import flows
from ledger.usecases.issuances import IssueRequest, plan_issue, request_data
from ledger.usecases.memberships import check_eligibility
from ledger.usecases.requests import once, scheme_and_rules
from ledger.usecases.schemes import get_scheme

JOB_KIND = "bulk_allowance"
COUNTS = ("issued", "already_paid", "not_eligible", "failed")  # a run recounts them from zero
BATCH_SIZE = 200
JOB_NAMESPACE = uuid.UUID("6f1c9a52-3f0e-4a57-9a52-0c1b7ad0b1a1")
log = logging.getLogger("clubcard.jobs")


def job_id_for(actor: str, key: str) -> str:
    """The job id for a caller's Idempotency-Key: the same request always names the same job."""
    return str(uuid.uuid5(JOB_NAMESPACE, f"{actor}\n{key}"))


def start_bulk_allowance(
    uow: UnitOfWork, *, request: IssueRequest, now: dt.datetime, zone: dt.tzinfo, actor: str, key: str
) -> tuple[dict[str, Any], bool]:
    """Record the job (amount, category, expiry and period fixed now); True when it should run."""
    started = False

    def operation() -> dict[str, Any]:
        nonlocal started
        scheme, rules = scheme_and_rules(uow, request.scheme)
        plan = plan_issue(rules, request, now, zone)
        period = rules.issuing.allowance_period(now, zone)
        job_id = job_id_for(actor, key)
        total = uow.activity.count_members(scheme["id"])
        uow.registry.create_job(id=job_id, kind=JOB_KIND, total=total, actor=actor, now=now)
        state = {
            "scheme": scheme["slug"],
            "amount_minor": plan.amount_minor,
            "category": plan.category,
            "expires_at": plan.expires_at and rfc3339(plan.expires_at),
            "period": period,
            "issued": 0,
            "already_paid": 0,
            "not_eligible": 0,
            "failed": 0,
            "error": None,
        }
        uow.registry.update_job(job_id, done=0, result=state)
        started = True
        already_paid = uow.bulk.allowances_paid(scheme["id"], period) if period else 0
        return {"job_id": job_id, "total": total, "period": period, "already_paid": already_paid}

    fingerprint = {"op": "bulk-issuance", **request_data(request)}
    body = once(uow, actor=actor, key=key, request=fingerprint, now=now, operation=operation)
    if not started:
        job = uow.registry.job(body["job_id"])
        if job is not None and job["status"] == "failed":  # a retry resumes it: done members replay
            uow.registry.update_job(job["id"], done=job["done"], status="running", result=job["result"])
            started = True
    return body, started


def run_bulk_allowance(uow_factory: UnitOfWorkFactory, clock: Clock, job_id: str) -> str:
    """Run (or resume) a job to the end; returns its final status, which is also recorded."""
    job = read_only(uow_factory, lambda uow: uow.registry.job(job_id))
    assert job is not None and job["kind"] == JOB_KIND
    state: dict[str, Any] = {**job["result"], **dict.fromkeys(COUNTS, 0), "error": None}
    done = 0
    try:
        scheme = read_only(uow_factory, lambda uow: get_scheme(uow, state["scheme"]))
        rules = parse_rules(scheme["rules"])
        after = ""
        status = "succeeded"
        while True:
            members = read_only(uow_factory, functools.partial(_page, scheme_id=scheme["id"], after=after))
            if not members:
                break
            stopped = _issue_batch(uow_factory, clock, job, scheme, rules, state, members)
            done += len(members)
            after = members[-1]["id"]
            _record(uow_factory, job_id, done, "running", state, None)
            if stopped:
                status = "failed"
                break
    except Exception as error:  # the job must end with a status, whatever went wrong
        log.exception("bulk allowance job %s failed", job_id)
        state["error"] = getattr(error, "problem", "internal")
        status = "failed"
    _record(uow_factory, job_id, done, status, state, clock.now())
    return status


def _page(uow: UnitOfWork, *, scheme_id: str, after: str) -> list[dict[str, Any]]:
    page: list[dict[str, Any]] = uow.activity.members_page(scheme_id, after=after, limit=BATCH_SIZE)
    return page


def _record(
    uow_factory: UnitOfWorkFactory,
    job_id: str,
    done: int,
    status: str,
    state: dict[str, Any],
    finished_at: dt.datetime | None,
) -> None:
    run_in_transaction(
        uow_factory,
        lambda uow: uow.registry.update_job(
            job_id, done=done, status=status, result=state, finished_at=finished_at
        ),
    )


def _issue_batch(
    uow_factory: UnitOfWorkFactory,
    clock: Clock,
    job: dict[str, Any],
    scheme: dict[str, Any],
    rules: Rules,
    state: dict[str, Any],
    members: list[dict[str, Any]],
) -> bool:
    """Issue to a batch in one transaction, or one by one when that fails; True when the job must stop."""
    now = clock.now()
    eligible = [m for m in members if _eligible(rules, m, local_date(now, clock.zone))]
    state["not_eligible"] += len(members) - len(eligible)
    try:
        _count(
            state,
            run_in_transaction(
                uow_factory,
                functools.partial(_issue, job=job, scheme=scheme, state=state, members=eligible, now=now),
            ),
        )
        return False
    except LedgerError:
        pass  # find the member(s) at fault so that everyone else still gets theirs
    for member in eligible:
        try:
            _count(
                state,
                run_in_transaction(
                    uow_factory,
                    functools.partial(_issue, job=job, scheme=scheme, state=state, members=[member], now=now),
                ),
            )
        except BudgetExhausted:
            state["error"] = "budget-exhausted"
            return True
        except LedgerError as error:
            state["failed"] += 1
            state["last_failure"] = f"{member['id']}: {error.problem}: {error.detail}"
    return False


def _count(state: dict[str, Any], paid: tuple[int, int]) -> None:
    """Add one transaction's (issued, already paid this period by another run) to the job's counts."""
    state["issued"] += paid[0]
    state["already_paid"] += paid[1]


def _eligible(rules: Rules, member: dict[str, Any], on: dt.date) -> bool:
    """Eligibility re-checked at issue time (members may have aged out, moved, or been erased)."""
    try:
        check_eligibility(rules.eligibility, member, referral=member["referral"], on=on)
    except NotEligible:
        return False
    return True


def _issue(
    uow: UnitOfWork,
    *,
    job: dict[str, Any],
    scheme: dict[str, Any],
    state: dict[str, Any],
    members: list[dict[str, Any]],
    now: dt.datetime,
) -> tuple[int, int]:
    """Issue the allowance to these members in one transaction: (issued, already paid this period)."""
    actor = job["created_by"]
    keys = {member["id"]: f"bulk:{job['id']}:{member['id']}" for member in members}
    to_pay = members
    if state.get("period"):
        holders = uow.bulk.claim_allowances(scheme["id"], state["period"], list(keys.items()), actor, now)
        assert holders.keys() == keys.keys(), "every member's period is recorded, by this run or another"
        # A member this very job paid before (a resumed run) replays below; anyone else's payment stands.
        to_pay = [member for member in members if holders[member["id"]] == (actor, keys[member["id"]])]
    for member in to_pay:
        flows.issue(
            uow,
            scheme=scheme,
            owner_id=member["id"],
            amount_minor=state["amount_minor"],
            now=now,
            actor=actor,
            key=keys[member["id"]],
            category=state["category"],
            expires_at=state["expires_at"] and parse_rfc3339(state["expires_at"]),
        )  # no metadata: the same fingerprint as ledger.usecases.bulk, so either path can resume the other
    return len(to_pay), len(members) - len(to_pay)


def run_in_background(uow_factory: UnitOfWorkFactory, clock: Clock, job_id: str) -> threading.Thread:
    """Start the job on a daemon thread."""
    thread = threading.Thread(
        target=run_bulk_allowance, args=(uow_factory, clock, job_id), name=f"bulk-{job_id}", daemon=True
    )
    thread.start()
    return thread
