"""Bulk issuance (scheme managers start it; admins follow it): choose a scheme and who is paid, see a dry
run's counts and total before anything is paid, then queue the job and watch its progress (the page
refreshes itself while it runs), its counts at the end, and download the members it refused and why."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator

from flask import Response, abort, redirect, render_template, stream_with_context, url_for
from werkzeug.wrappers import Response as BaseResponse

from admin.web.auth import context, requires_staff
from admin.web.blueprint import staff
from admin.web.forms_bulk import LISTED, BulkIssueForm
from admin.web.pages.acting import now, staff_actor
from ledger.errors import LedgerError, NotFound
from ledger.rules import Expiry, local_date
from ledger.usecases.bulk_allowance import BulkDryRun, dry_run_bulk_issuance
from ledger.usecases.bulk_lists import ListedDryRun, listed_references, prepare_listed_bulk, start_listed_bulk
from ledger.usecases.bulk_pages import (
    bulk_schemes,
    every_refusal,
    recent_bulk_jobs,
    resume_bulk_job,
    start_bulk_for_staff,
)
from ledger.usecases.issuances import IssueRequest
from ledger.usecases.jobs import job_progress

STARTERS = ("scheme_manager",)  # POST /issuances/bulk
WATCHERS = ("scheme_manager", "admin")  # GET /jobs/{id}
RECENT_JOBS = 10
REFRESH_SECONDS = 2


def _form(*, file_needed: bool = True) -> BulkIssueForm:
    schemes = context().read(bulk_schemes)
    today = local_date(now(), context().clock.zone)
    return BulkIssueForm(schemes=schemes, today=today, file_needed=file_needed)


def _request(form: BulkIssueForm) -> IssueRequest:
    """The form as the bulk use cases take it (an expiry day ends at the council's midnight)."""
    day = form.expires_on.data
    expires_at = None if day is None else Expiry(fixed_date=day).expires_at(now(), context().clock.zone)
    return IssueRequest(
        scheme=form.chosen().slug, amount_minor=form.amount.amount_minor, expires_at=expires_at
    )


def _index(form: BulkIssueForm) -> str:
    jobs = context().read(lambda uow: recent_bulk_jobs(uow, limit=RECENT_JOBS))
    return render_template("staff/bulk/index.html", title="Bulk issuance", form=form, jobs=jobs)


@staff.get("/bulk")
@requires_staff(*WATCHERS)
def bulk() -> str:
    """The form (scheme managers) and the latest bulk issuance jobs."""
    return _index(_form())


@staff.post("/bulk/check")
@requires_staff(*STARTERS)
def bulk_check() -> str:
    """A dry run: how many members would be paid, how many are refused or already paid, and the total."""
    form = _form()
    if not form.validate_on_submit():
        return _index(form)
    request, ledger, actor, key = _request(form), context(), staff_actor(), form.request_key.data or ""
    try:
        if form.who.data == LISTED:
            references = listed_references(form.listed_text or "")
            dry_run: BulkDryRun | ListedDryRun = ledger.write(
                lambda uow: prepare_listed_bulk(
                    uow,
                    request=request,
                    references=references,
                    now=now(),
                    zone=ledger.clock.zone,
                    actor=actor,
                    key=key,
                )
            )
        else:
            dry_run = ledger.read(
                lambda uow: dry_run_bulk_issuance(uow, request=request, now=now(), zone=ledger.clock.zone)
            )
    except LedgerError as error:
        field = form.members_file if form.who.data == LISTED else form.amount
        field.errors = [f"That cannot be paid: {error.detail}"]
        return _index(form)
    return render_template(
        "staff/bulk/check.html", title="Check the bulk issuance", form=form, dry_run=dry_run
    )


@staff.post("/bulk/start")
@requires_staff(*STARTERS)
def bulk_start() -> str | BaseResponse:
    """Queue the job the dry run described; the same form sent twice queues it once."""
    form = _form(file_needed=False)  # the dry run kept the list a CSV file gave
    if not form.validate_on_submit():
        return _index(form)
    request, ledger, actor, key = _request(form), context(), staff_actor(), form.request_key.data or ""
    start = start_listed_bulk if form.who.data == LISTED else start_bulk_for_staff
    accepted = ledger.write(
        lambda uow: start(uow, request=request, now=now(), zone=ledger.clock.zone, actor=actor, key=key)
    )
    return redirect(url_for("staff.bulk_job", job_id=accepted.job_id))


@staff.get("/bulk/jobs/<job_id>")
@requires_staff(*WATCHERS)
def bulk_job(job_id: str) -> str:
    """A job's progress; the page refreshes itself every few seconds until the job ends."""
    try:
        progress = context().read(lambda uow: job_progress(uow, job_id))
    except NotFound:
        abort(404)
    running = progress.status in ("queued", "running")
    return render_template(
        "staff/bulk/job.html",
        title="Bulk issuance job",
        job=progress,
        refresh_seconds=REFRESH_SECONDS if running else None,
    )


@staff.post("/bulk/jobs/<job_id>/resume")
@requires_staff(*STARTERS)
def bulk_resume(job_id: str) -> BaseResponse:
    """Queue a failed job again (after the budget was topped up, say): it carries on where it stopped."""
    actor = staff_actor()
    try:
        context().write(lambda uow: resume_bulk_job(uow, job_id=job_id, now=now(), actor=actor))
    except NotFound:
        abort(404)
    return redirect(url_for("staff.bulk_job", job_id=job_id))


@staff.get("/bulk/jobs/<job_id>/refused.csv")
@requires_staff(*WATCHERS)
def bulk_refused(job_id: str) -> Response:
    """The members the job refused and why, as CSV, streamed a page at a time."""
    try:
        context().read(lambda uow: job_progress(uow, job_id))
    except NotFound:
        abort(404)
    refusals = every_refusal(context().uow_factory, job_id)

    def rows() -> Iterator[str]:
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(["resident_id", "problem", "reason"])
        for refusal in refusals:
            writer.writerow([refusal.resident_id, refusal.problem, refusal.reason])
            if buffer.tell() > 64 * 1024:
                yield buffer.getvalue()
                buffer.seek(0)
                buffer.truncate()
        yield buffer.getvalue()

    headers = {"Content-Disposition": f'attachment; filename="refused-{job_id}.csv"'}
    return Response(stream_with_context(rows()), mimetype="text/csv", headers=headers)
