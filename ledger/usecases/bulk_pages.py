"""Bulk issuance as a scheme manager runs it from the staff UI: the schemes that can be bulk-issued, a job
started (and recorded in the staff log), recent jobs, and the members a job refused, streamed."""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
from collections.abc import Iterator

from ledger.actors import Actor
from ledger.errors import Conflict, NotFound
from ledger.ports import UnitOfWork, UnitOfWorkFactory
from ledger.rules import parse_rules
from ledger.service import read_only
from ledger.units import format_amount
from ledger.usecases.bulk_allowance import JOB_KIND, job_id_for, start_bulk_issuance
from ledger.usecases.issuances import IssueRequest
from ledger.usecases.jobs import JobProgress, JobRef, JobRefusal, job_progress, job_refusals
from ledger.usecases.schemes import list_schemes
from ledger.usecases.staff_log import record_action

BULK_MODES = ("one_off", "recurring")  # series vouchers are issued one by one; earned value is never issued
MAX_SCHEMES = 1_000
REFUSALS_PAGE = 500


@dataclasses.dataclass(frozen=True)
class BulkScheme:
    """A scheme that can be paid to a group: its unit, standard amount, period and budget."""

    slug: str
    name: str
    unit: str
    amount_minor: int | None
    period: str | None
    budget_minor: int


def bulk_schemes(uow: UnitOfWork) -> list[BulkScheme]:
    """The schemes issued as one-off amounts or a recurring allowance, in slug order."""
    found = []
    for scheme in list_schemes(uow, limit=MAX_SCHEMES, after=""):
        issuing = parse_rules(scheme["rules"]).issuing
        if issuing.mode in BULK_MODES:
            period = issuing.period or "month" if issuing.mode == "recurring" else None
            found.append(
                BulkScheme(
                    scheme["slug"],
                    scheme["name"],
                    scheme["unit"],
                    issuing.amount_minor,
                    period,
                    int(scheme["budget_balance_minor"]),
                )
            )
    return found


def start_bulk_for_staff(
    uow: UnitOfWork, *, request: IssueRequest, now: dt.datetime, zone: dt.tzinfo, actor: Actor, key: str
) -> JobRef:
    """Queue the bulk issuance job (a retry with the same key finds it, and resumes it if it failed); a
    new job is recorded in the staff log."""
    new = uow.jobs.job(job_id_for(actor.name, key)) is None
    accepted = start_bulk_issuance(uow, request=request, now=now, zone=zone, actor=actor.name, key=key)
    if new:
        progress = job_progress(uow, accepted.job_id)
        assert progress.amount_minor is not None and progress.scheme is not None
        scheme = uow.schemes.get(slug=progress.scheme)
        detail = {
            "job_id": accepted.job_id,
            "members": accepted.total,
            "amount": format_amount(progress.amount_minor, scheme["unit"]),
            "period": accepted.period,
        }
        record_action(uow, actor=actor, action="bulk.start", target=progress.scheme, detail=detail, now=now)
    return accepted


def resume_bulk_job(uow: UnitOfWork, *, job_id: str, now: dt.datetime, actor: Actor) -> JobProgress:
    """Queue a failed bulk issuance job again, to carry on where it stopped (NotFound for no such job;
    Conflict unless it failed); recorded in the staff log."""
    progress = job_progress(uow, job_id)
    if progress.kind != JOB_KIND:
        raise NotFound(f"no bulk issuance job {job_id}")
    if not uow.jobs.requeue(job_id):
        raise Conflict("only a job that stopped can be resumed")
    record_action(
        uow,
        actor=actor,
        action="bulk.resume",
        target=progress.scheme or "",
        detail={"job_id": job_id},
        now=now,
    )
    return job_progress(uow, job_id)


def recent_bulk_jobs(uow: UnitOfWork, *, limit: int) -> list[JobProgress]:
    """The latest bulk issuance jobs, newest first."""
    return [job_progress(uow, job_id) for job_id in uow.oversight.recent_jobs(JOB_KIND, limit)]


def every_refusal(uow_factory: UnitOfWorkFactory, job_id: str) -> Iterator[JobRefusal]:
    """Every member a job refused, in resident id order, a page per read (bounded memory)."""
    after = ""
    while page := read_only(uow_factory, functools.partial(_refusals, job_id=job_id, after=after)):
        yield from page
        after = page[-1].resident_id


def _refusals(uow: UnitOfWork, *, job_id: str, after: str) -> list[JobRefusal]:
    return job_refusals(uow, job_id, limit=REFUSALS_PAGE, after=after)
