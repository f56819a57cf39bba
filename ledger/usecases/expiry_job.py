"""An expiry run as a job: queued by the staff UI, run by the job runner, with progress and counts at the end.

The instant the run expires "as of" is fixed when it is queued. The runner releases timed-out holds, then
returns expired lots to their budgets, a batch at a time: each batch's writes and the job's progress (its
cursor and counts) commit in one transaction, so a worker killed mid-run is resumed by the next one after
its lease, from the last committed batch, and nothing is expired or released twice (each write is
idempotent on its own too). The staff log records who asked, from where, and what the run returned.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from collections.abc import Callable
from typing import Any

from ledger.actors import Actor, RequestOrigin, as_actor
from ledger.clock import Clock, rfc3339
from ledger.errors import NotFound
from ledger.ports import UnitOfWork, UnitOfWorkFactory
from ledger.service import read_only, run_in_transaction
from ledger.units import format_amount
from ledger.usecases.bulk_allowance import job_id_for
from ledger.usecases.expiry import expire_lot
from ledger.usecases.expiry_overview import ExpiryRun
from ledger.usecases.holds import release_if_timed_out
from ledger.usecases.jobs import LEASE_SECONDS, JobProgress, JobRef, job_progress
from ledger.usecases.requests import once
from ledger.usecases.staff_log import record_action

log = logging.getLogger("clubcard.jobs")
JOB_KIND = "expiry_run"
BATCH_SIZE = 100  # lots locked in one transaction: small, so spends from those wallets barely wait
HOLDS, LOTS = "holds", "lots"


class Overtaken(Exception):
    """Another worker holds this run now (this one's lease ran out); it carries on from the last batch."""


def start_expiry_run(uow: UnitOfWork, *, now: dt.datetime, actor: Actor | str, key: str) -> JobRef:
    """Queue an expiry run as of now; the same key queues it once (a failed run is queued again)."""
    who = as_actor(actor)

    def operation() -> dict[str, Any]:
        job_id = job_id_for(who.name, key)
        holds, lots = uow.holds.count_timed_out(now), uow.lots.count_expired_with_value(now)
        state = {
            "as_of": rfc3339(now),
            "phase": HOLDS,
            "holds_released": 0,
            "lots_expired": 0,
            "returned": {},
            "error": None,
            "key_id": who.origin.key_id,
            "remote_address": who.origin.remote_address,
        }
        uow.jobs.create(id=job_id, kind=JOB_KIND, total=holds + lots, actor=who.name, state=state, now=now)
        return {"job_id": job_id, "total": holds + lots}

    body = once(uow, actor=who.name, key=key, request={"op": "expiry-run"}, now=now, operation=operation)
    uow.jobs.requeue(body["job_id"])
    job = uow.jobs.job(body["job_id"])
    return JobRef(body["job_id"], JOB_KIND, job["status"], body["total"], None, 0)


def run_expiry_job(
    uow_factory: UnitOfWorkFactory,
    clock: Clock,
    job_id: str,
    *,
    should_stop: Callable[[], bool] = lambda: False,
    lease_seconds: float = LEASE_SECONDS,
) -> str:
    """Run (or resume) an expiry run this worker holds, batch by batch; its status (running if stopped)."""
    job = read_only(uow_factory, lambda uow: uow.jobs.job(job_id))
    assert job is not None and job["kind"] == JOB_KIND
    state: dict[str, Any] = dict(job["result"])
    position: dict[str, Any] = {"after": job["resume_after"] or "", "done": int(job["done"])}
    try:
        while not should_stop():
            moved = run_in_transaction(uow_factory, _batch(job, state, position, clock, lease_seconds))
            if moved is None:
                return run_in_transaction(uow_factory, _finish(job, state, clock.now(), "succeeded"))
            # Committed: this worker's copies move on with the job's row.
            state, (position["after"], position["done"]) = moved[0], moved[1:]
        return "running"  # stopped between batches: the lease runs out and a worker carries on
    except Overtaken:
        log.warning("expiry run %s was taken over by another worker", job_id)
        return "running"
    except Exception:  # the job must end with a status, whatever went wrong
        log.exception("expiry run %s failed", job_id)
        state["error"] = "internal"
        return run_in_transaction(uow_factory, _finish(job, state, clock.now(), "failed"))


def _batch(
    job: dict[str, Any], state: dict[str, Any], position: dict[str, Any], clock: Clock, lease_seconds: float
) -> Callable[[UnitOfWork], tuple[dict[str, Any], str, int] | None]:
    """One batch and the job's progress in one transaction: (counts, cursor, done) as committed, or None
    once there is nothing left to do. It changes neither `state` nor `position`, so a rerun after a
    retryable conflict starts again from what was committed."""

    def operation(uow: UnitOfWork) -> tuple[dict[str, Any], str, int] | None:
        as_of, actor = dt.datetime.fromisoformat(state["as_of"]), str(job["created_by"])
        # Holds first, then lots; the phase is kept with the counts, the cursor is the last id done.
        phase, after = state["phase"], position["after"]
        updated = dict(state, returned=dict(state["returned"]))
        if phase == HOLDS:
            hold_ids: list[str] = uow.holds.timed_out(as_of, BATCH_SIZE, after)
            updated["holds_released"] += sum(release_if_timed_out(uow, i, as_of, actor) for i in hold_ids)
            if not hold_ids:
                updated["phase"] = LOTS
            cursor, count = (hold_ids[-1] if hold_ids else ""), len(hold_ids)
        else:
            lots = uow.lots.expired_with_value(as_of, BATCH_SIZE, after)
            if not lots:
                return None
            for lot in lots:
                amount = expire_lot(uow, lot.account_id, as_of, actor)
                if amount:
                    updated["lots_expired"] += 1
                    updated["returned"][lot.scheme_id] = updated["returned"].get(lot.scheme_id, 0) + amount
            cursor, count = lots[-1].account_id, len(lots)
        done = min(int(job["total"]), position["done"] + count)
        lease_until = clock.now() + dt.timedelta(seconds=lease_seconds)
        moved = uow.jobs.advance(
            job["id"],
            expected_after=position["after"],
            after=cursor,
            done=done,
            state=updated,
            lease_until=lease_until,
        )
        if not moved:
            raise Overtaken(job["id"])  # our lease ran out and another worker carries on
        return updated, cursor, done

    return operation


def _finish(
    job: dict[str, Any], state: dict[str, Any], now: dt.datetime, status: str
) -> Callable[[UnitOfWork], str]:
    def operation(uow: UnitOfWork) -> str:
        uow.jobs.finish(job["id"], status=status, state=state, now=now)
        if status == "succeeded":
            origin = RequestOrigin(key_id=state.get("key_id"), remote_address=state.get("remote_address"))
            report = expiry_report(uow, state)
            returned = {slug: format_amount(amount, unit) for slug, unit, amount in report.returned}
            detail = {
                "holds_released": report.holds_released,
                "lots_expired": report.lots_expired,
                "returned": returned,
            }
            actor = Actor(job["created_by"], origin)
            record_action(uow, actor=actor, action="expiry.run", target="all schemes", detail=detail, now=now)
        return status

    return operation


def expiry_report(uow: UnitOfWork, state: dict[str, Any]) -> ExpiryRun:
    """What the run did, each scheme's returned value named by its slug."""
    returned = []
    for scheme_id, amount in state.get("returned", {}).items():
        scheme = uow.schemes.get(id=scheme_id)
        if scheme is not None:
            returned.append((str(scheme["slug"]), str(scheme["unit"]), int(amount)))
    return ExpiryRun(
        int(state.get("holds_released", 0)), int(state.get("lots_expired", 0)), tuple(sorted(returned))
    )


@dataclasses.dataclass(frozen=True)
class ExpiryRunPage:
    """An expiry run as its page shows it: progress, and once it has finished what it did."""

    job: JobProgress
    report: ExpiryRun


def expiry_run_page(uow: UnitOfWork, job_id: str) -> ExpiryRunPage:
    """An expiry run's progress and report (NotFound for no such run, or a job of another kind)."""
    progress = job_progress(uow, job_id)
    if progress.kind != JOB_KIND:
        raise NotFound(f"no expiry run {job_id}")
    return ExpiryRunPage(progress, expiry_report(uow, dict(progress.result)))
