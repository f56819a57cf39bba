"""Offline shortfalls (finance, admins, scheme managers): what kiosks' offline spends could not take from
a wallet at sync (the scheme's offline-risk account paid the rest), listed newest first; each resolved once
with a note, recorded in the staff log."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from admin.web.auth import context, requires_staff
from admin.web.blueprint import staff
from admin.web.forms_shortfalls import ResolveShortfallForm
from admin.web.pages.acting import now, staff_actor
from ledger.clock import parse_rfc3339
from ledger.errors import Conflict, LedgerError, NotFound
from ledger.usecases.shortfall_resolutions import (
    resolve_shortfall,
    shortfall_detail,
    shortfalls_with_resolutions,
)

SHORTFALL_ROLES = ("finance", "admin", "scheme_manager")  # as GET /offline-shortfalls
PAGE_SIZE = 25
MAX_CURSOR_LENGTH = 36


@staff.app_template_filter("instant")
def instant(value: str) -> str:
    """An RFC 3339 timestamp as people read it (2 Nov 2026 09:00 UTC)."""
    return parse_rfc3339(value).strftime("%-d %b %Y %H:%M UTC")


@staff.get("/shortfalls")
@requires_staff(*SHORTFALL_ROLES)
def shortfalls() -> str:
    """A page of shortfalls, newest first; `starting_after` is the last one of the previous page."""
    after = request.args.get("starting_after", "")[:MAX_CURSOR_LENGTH]
    rows = context().read(lambda uow: shortfalls_with_resolutions(uow, limit=PAGE_SIZE + 1, after=after))
    return render_template(
        "staff/shortfalls/index.html",
        title="Offline shortfalls",
        rows=rows[:PAGE_SIZE],
        next_after=rows[PAGE_SIZE - 1]["id"] if len(rows) > PAGE_SIZE else None,
        paged=bool(after),
    )


@staff.route("/shortfalls/<shortfall_id>/resolve", methods=["GET", "POST"])
@requires_staff(*SHORTFALL_ROLES)
def shortfall_resolve(shortfall_id: str) -> str | Response:
    """Resolve one shortfall with a note saying how (the ledger's postings stay as they are)."""
    try:
        shortfall = context().read(lambda uow: shortfall_detail(uow, shortfall_id))
    except NotFound:
        abort(404)
    form = ResolveShortfallForm()
    if shortfall["resolution"] is None and form.validate_on_submit():
        note, key, actor = form.note.data or "", form.request_key.data, staff_actor()
        try:
            context().write(
                lambda uow: resolve_shortfall(
                    uow, shortfall_id=shortfall_id, note=note, now=now(), actor=actor, idempotency_key=key
                )
            )
        except Conflict:
            flash("Someone else resolved this shortfall first.", "success")
        except LedgerError as error:
            form.note.errors = [f"The note cannot be saved: {error.detail}"]
            return _resolve_page(shortfall, form)
        else:
            flash(f"The shortfall of {shortfall['shortfall']} is resolved.", "success")
        return redirect(url_for("staff.shortfalls"))
    return _resolve_page(shortfall, form)


def _resolve_page(shortfall: dict[str, object], form: ResolveShortfallForm) -> str:
    title = f"Resolve the shortfall of {shortfall['shortfall']}"
    return render_template("staff/shortfalls/resolve.html", title=title, shortfall=shortfall, form=form)
