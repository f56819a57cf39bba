"""The books (auditor; finance and admin may read them too; nothing here writes): the trial balance at any
instant, the journal filtered with drill-down to a transaction's postings and content hash, an account's
history with its running balance, the signed checkpoints, and downloads (CSV, JSON, an hledger journal).

Every page is one bounded page of a keyset query; downloads stream from one read-only snapshot, so
neither ever holds the whole journal in memory.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from typing import Any

from flask import Response, abort, render_template, request, url_for

from admin.web.auth import context, requires_staff
from admin.web.blueprint import staff
from admin.web.forms_books import JournalFilterForm, TrialBalanceForm
from admin.web.pages.staff_log import first_page_url, next_page_url
from ledger.clock import parse_rfc3339, rfc3339
from ledger.errors import NotFound, ValidationFailed
from ledger.ports import UnitOfWork
from ledger.usecases import journal_export
from ledger.usecases.books_journal import (
    JournalFilter,
    JournalPage,
    account_history,
    journal_choices,
    journal_page,
    transaction_detail,
)
from ledger.usecases.books_reports import checkpoints_page, trial_balance_csv, trial_balance_page

BOOK_READERS = ("auditor", "finance", "admin")
PAGE_SIZE = 50
TRIAL_BALANCE_PAGE_SIZE = 100
DOWNLOAD_FORMATS = {"csv": "CSV", "json": "JSON", "hledger": "hledger journal"}


@staff.app_template_filter("to_the_second")
def instant(value: dt.datetime) -> str:
    """An instant to the second, in UTC: 2 November 2026 09:30:00 UTC."""
    utc = value.astimezone(dt.UTC)
    return f"{utc.day} {utc:%B %Y %H:%M:%S} UTC"


@staff.app_template_filter("as_rfc3339")
def rfc3339_text(value: dt.datetime) -> str:
    """An instant as the API writes it (for links that carry an exact instant)."""
    return rfc3339(value)


@staff.app_template_filter("council_clock")
def council_time(value: dt.datetime) -> str:
    """An instant in the council's time zone: 2 November 2026 09:30:00 GMT."""
    local = value.astimezone(context().clock.zone)
    return f"{local.day} {local:%B %Y %H:%M:%S %Z}"


def _found(read: Callable[[UnitOfWork], Any]) -> Any:
    """A read on one snapshot; a 404 page when what it names does not exist or cannot be a cursor."""
    try:
        return context().read(read)
    except (NotFound, ValidationFailed):
        abort(404)


def _period_arguments() -> dict[str, Any]:
    return {name: request.args.getlist(name) for name in ("from", "to") if name in request.args}


@staff.get("/books")
@requires_staff(*BOOK_READERS)
def books() -> str:
    """The start of the books: what each page shows."""
    return render_template("staff/books/index.html", title="Books")


def _trial_balance_instant(form: TrialBalanceForm) -> dt.datetime | None:
    """The instant asked for: ?at= (from a link), else the date and time boxes, else now; None if the
    boxes hold a mistake (the form then says which)."""
    if "at" in request.args:
        try:
            return parse_rfc3339(request.args["at"])
        except ValidationFailed:
            abort(404)
    if request.args and not form.validate():
        return None
    return form.instant(context().clock.zone) or context().clock.now()


@staff.get("/books/trial-balance")
@requires_staff(*BOOK_READERS)
def trial_balance() -> str:
    """Every account's balance at an instant summed from its postings, a page of accounts at a time, and
    the total of each unit (zero when the books balance)."""
    form = TrialBalanceForm(formdata=request.args)
    at = _trial_balance_instant(form)
    after = request.args.get("after", "")
    found = None
    if at is not None:
        found = _found(
            lambda uow: trial_balance_page(uow, at=at, after_name=after, limit=TRIAL_BALANCE_PAGE_SIZE)
        )
    return render_template(
        "staff/books/trial_balance.html",
        title="Trial balance",
        form=form,
        page=found,
        after=after,
        council_zone=str(context().clock.zone),
    )


def _download(chunks: Callable[[UnitOfWork], Iterator[str]], content_type: str, filename: str) -> Response:
    """A download streamed from its own read-only snapshot, held open while the browser reads and closed
    when the response is, even if the browser goes away half way."""
    ledger = context()

    def stream() -> Iterator[bytes]:
        with ledger.uow_factory(read_only=True) as uow:
            for chunk in chunks(uow):
                yield chunk.encode()

    response = Response(stream(), content_type=content_type)
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@staff.get("/books/trial-balance.csv")
@requires_staff(*BOOK_READERS)
def trial_balance_download() -> Response:
    """The whole trial balance at ?at= (default now) as CSV, streamed, with a total row per unit."""
    try:
        at = parse_rfc3339(request.args["at"]) if "at" in request.args else context().clock.now()
    except ValidationFailed:
        abort(404)
    stamp = at.strftime("%Y%m%dT%H%M%SZ")
    return _download(
        lambda uow: trial_balance_csv(uow, at), "text/csv; charset=utf-8", f"trial-balance-{stamp}.csv"
    )


def _journal_filter(form: JournalFilterForm) -> JournalFilter | None:
    if request.args and not form.validate():
        return None
    after, up_to = form.period(context().clock.zone)
    return JournalFilter(
        kind=form.chosen(form.kind),
        scheme_id=form.chosen(form.scheme),
        outlet_id=form.chosen(form.outlet),
        after=after,
        up_to=up_to,
    )


@staff.get("/books/journal")
@requires_staff(*BOOK_READERS)
def journal() -> str:
    """The journal newest first, filtered by dates, kind, scheme and outlet, a page at a time."""
    form = JournalFilterForm(formdata=request.args)
    cursor = request.args.get("after", "")
    found: JournalPage | None = None
    try:
        where = _journal_filter(form)
    except ValidationFailed as error:
        where, form.kind.errors = None, [f"Those filters cannot be used: {error.detail}"]
    if where is not None:
        found = _found(lambda uow: journal_page(uow, where=where, limit=PAGE_SIZE, starting_after=cursor))
        form.offer(found.schemes, found.outlets)
    else:
        form.offer(*context().read(journal_choices))
    return render_template(
        "staff/books/journal.html",
        title="Journal",
        form=form,
        page=found,
        next_url=next_page_url("staff.journal", found.lines[-1].transaction.id)
        if found is not None and found.has_more
        else None,
        first_url=first_page_url("staff.journal"),
        downloads={
            label: url_for("staff.journal_download", format=name, **_period_arguments())
            for name, label in DOWNLOAD_FORMATS.items()
        },
    )


@staff.get("/books/journal/download")
@requires_staff(*BOOK_READERS)
def journal_download() -> Response:
    """The journal of the period (?from= ?to= days) as CSV, JSON or an hledger journal, streamed: the
    same export as GET /audit/journal."""
    fmt = request.args.get("format", "")
    form = JournalFilterForm(formdata=request.args)
    if fmt not in journal_export.FORMATS or not (
        form.from_date.validate(form) and form.to_date.validate(form)
    ):
        abort(404)
    after, up_to = form.period(context().clock.zone)
    try:
        period = journal_export.ExportPeriod(after, up_to)
    except ValidationFailed:
        abort(404)
    return _download(
        lambda uow: journal_export.export(uow, period, fmt),
        journal_export.CONTENT_TYPES[fmt],
        f"clubcard-journal.{journal_export.FILE_EXTENSIONS[fmt]}",
    )


@staff.get("/books/transactions/<transaction_id>")
@requires_staff(*BOOK_READERS)
def transaction(transaction_id: str) -> str:
    """One transaction: its header, postings, content hash (recomputed) and where it is sealed."""
    detail = _found(lambda uow: transaction_detail(uow, transaction_id))
    return render_template("staff/books/transaction.html", title="Transaction", detail=detail)


@staff.get("/books/accounts/<account_id>")
@requires_staff(*BOOK_READERS)
def account_history_page(account_id: str) -> str:
    """An account's history newest first with the running balance after each transaction."""
    cursor = request.args.get("after", "")
    history = _found(lambda uow: account_history(uow, account_id, limit=PAGE_SIZE, starting_after=cursor))
    next_url = None
    if history.has_more:
        last = history.lines[-1].transaction.id
        next_url = url_for("staff.account_history_page", account_id=account_id, after=last)
    return render_template(
        "staff/books/account.html", title=history.account.name, history=history, next_url=next_url
    )


@staff.get("/books/checkpoints")
@requires_staff(*BOOK_READERS)
def checkpoints() -> str:
    """The signed tree heads newest first, each checked, and the head published for auditors to keep."""
    before = request.args.get("before", "")
    if before and not (before.isdigit() and len(before) <= 18):
        abort(404)
    ledger = context()
    found = _found(
        lambda uow: checkpoints_page(
            uow, ledger.ledger_key, limit=PAGE_SIZE, before_size=int(before) if before else None
        )
    )
    return render_template(
        "staff/books/checkpoints.html",
        title="Checkpoints",
        page=found,
        before=before,
        next_url=url_for("staff.checkpoints", before=found.heads[-1].checkpoint.tree_size)
        if found.has_more
        else None,
    )
