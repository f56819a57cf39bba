"""The staff log (auditor, admin): who did what, to what, when and from where; filtered by who, action,
target and dates, newest first, a page at a time (the use case behind GET /audit/staff-log)."""

from __future__ import annotations

from typing import Any

from flask import render_template, request, url_for

from admin.web.auth import context, requires_staff
from admin.web.blueprint import staff
from admin.web.forms_books import StaffLogFilterForm
from ledger.errors import ValidationFailed
from ledger.usecases.staff_log import StaffAction, StaffLogFilter, staff_log_page

STAFF_LOG_READERS = ("auditor", "admin")  # as GET /audit/staff-log
PAGE_SIZE = 50


def _filters() -> dict[str, Any]:
    return {key: values for key, values in request.args.lists() if key != "after"}


def next_page_url(endpoint: str, cursor: str) -> str:
    """This page's address with its filters kept and the cursor moved on."""
    return url_for(endpoint, **_filters(), after=cursor)


def first_page_url(endpoint: str) -> str | None:
    """This page's address with its filters kept, back at the newest; None when already there."""
    return url_for(endpoint, **_filters()) if request.args.get("after") else None


@staff.get("/staff-log")
@requires_staff(*STAFF_LOG_READERS)
def staff_log() -> str:
    """A page of the staff log, newest first, with the filters in the address."""
    form = StaffLogFilterForm(formdata=request.args)
    entries: list[StaffAction] = []
    has_more = False
    if not request.args or form.validate():
        after, up_to = form.period(context().clock.zone)
        cursor = request.args.get("after", "")
        try:
            where = StaffLogFilter(
                actor=form.exact("actor"),
                action=form.exact("action"),
                target=form.exact("target"),
                after=after,
                up_to=up_to,
            )
            found = context().read(
                lambda uow: staff_log_page(uow, where=where, limit=PAGE_SIZE + 1, starting_after=cursor)
            )
        except ValidationFailed as error:
            form.actor.errors = [*form.actor.errors, f"Those filters cannot be used: {error.detail}"]
        else:
            entries, has_more = found[:PAGE_SIZE], len(found) > PAGE_SIZE
    return render_template(
        "staff/staff_log/index.html",
        title="Staff log",
        form=form,
        entries=entries,
        next_url=next_page_url("staff.staff_log", entries[-1].id) if has_more else None,
        first_url=first_page_url("staff.staff_log"),
    )
