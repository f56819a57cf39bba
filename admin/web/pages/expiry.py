"""Expiry and holds (scheme managers, admins): what expires in the next 30 days per scheme, holds past
their timeout, and running expiry (as `clubcard expire` does) with its report."""

from __future__ import annotations

from flask import render_template

from admin.web.auth import context, requires_staff
from admin.web.blueprint import staff
from admin.web.pages.acting import now, staff_actor
from ledger.usecases.expiry_overview import OUTLOOK_DAYS, expiry_page, run_expiry

EXPIRY_ROLES = ("admin", "scheme_manager")


@staff.get("/expiry")
@requires_staff(*EXPIRY_ROLES)
def expiry() -> str:
    """Per scheme: value past expiry (the next run returns it) and value expiring in the next 30 days;
    holds past their timeout."""
    at = now()
    page = context().read(lambda uow: expiry_page(uow, now=at))
    return render_template("staff/expiry/index.html", title="Expiry and holds", page=page, days=OUTLOOK_DAYS)


@staff.post("/expiry/run")
@requires_staff(*EXPIRY_ROLES)
def expiry_run() -> str:
    """Release timed-out holds and return expired value to each scheme's budget; show what it did."""
    ledger, actor = context(), staff_actor()
    report = run_expiry(ledger.uow_factory, ledger.clock, actor=actor)
    return render_template("staff/expiry/ran.html", title="Expiry run", report=report)
