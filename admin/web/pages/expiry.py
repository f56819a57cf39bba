"""Expiry and holds (scheme managers, admins): what expires in the next 30 days per scheme, holds past
their timeout, and running expiry (as `clubcard expire` does) with its report."""

from __future__ import annotations

import uuid

from flask import abort, redirect, render_template, request, url_for
from werkzeug.wrappers import Response as BaseResponse

from admin.web.auth import context, requires_staff
from admin.web.blueprint import staff
from admin.web.pages.acting import now, staff_actor
from ledger.errors import NotFound
from ledger.usecases.expiry_job import expiry_run_page, start_expiry_run
from ledger.usecases.expiry_overview import OUTLOOK_DAYS, expiry_page

EXPIRY_ROLES = ("admin", "scheme_manager")
REFRESH_SECONDS = 2
MAX_KEY_LENGTH = 100


@staff.get("/expiry")
@requires_staff(*EXPIRY_ROLES)
def expiry() -> str:
    """Per scheme: value past expiry (the next run returns it) and value expiring in the next 30 days;
    holds past their timeout."""
    at = now()
    page = context().read(lambda uow: expiry_page(uow, now=at))
    return render_template(
        "staff/expiry/index.html",
        title="Expiry and holds",
        page=page,
        days=OUTLOOK_DAYS,
        request_key=str(uuid.uuid4()),
    )


@staff.post("/expiry/run")
@requires_staff(*EXPIRY_ROLES)
def expiry_run() -> BaseResponse:
    """Queue an expiry run (the job runner releases timed-out holds and returns expired value to each
    scheme's budget) and go to its page; the same form sent twice queues it once."""
    ledger, actor = context(), staff_actor()
    # The form's own key makes a double click one run; a form without one (an old page) gets a fresh key.
    key = (request.form.get("request_key") or "").strip()[:MAX_KEY_LENGTH] or str(uuid.uuid4())
    accepted = ledger.write(lambda uow: start_expiry_run(uow, now=now(), actor=actor, key=key))
    return redirect(url_for("staff.expiry_job", job_id=accepted.job_id), code=303)


@staff.get("/expiry/runs/<job_id>")
@requires_staff(*EXPIRY_ROLES)
def expiry_job(job_id: str) -> str:
    """An expiry run's progress (the page refreshes itself until it ends), then what it did."""
    try:
        page = context().read(lambda uow: expiry_run_page(uow, job_id))
    except NotFound:
        abort(404)
    running = page.job.status in ("queued", "running")
    return render_template(
        "staff/expiry/ran.html",
        title="Expiry run",
        job=page.job,
        report=page.report,
        refresh_seconds=REFRESH_SECONDS if running else None,
    )
