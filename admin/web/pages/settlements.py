"""Settlements (finance; admins and auditors read): batches of what outlets are owed, made by one finance
user and approved by another (the creator sees no approve button and is refused if they post anyway),
then paid by Stripe Connect or a payment file; statements per outlet; every action in the staff log."""

from __future__ import annotations

import datetime as dt

from flask import abort, flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from admin.web.auth import context, may, requires_staff, signed_in_user
from admin.web.blueprint import staff
from admin.web.forms_settlements import ApproveForm, ConfirmPaidForm, CreateBatchForm, PeriodForm
from admin.web.pages.acting import staff_actor
from clubcard import settlement_runs
from ledger.clock import parse_rfc3339, rfc3339
from ledger.errors import LedgerError, NotFound, TwoPersonRule
from ledger.usecases.settlements import SettlementBatch, list_settlements
from ledger.usecases.settlements_files import payment_file, statement, statement_csv, statement_pdf

READERS = ("finance", "admin", "auditor")
FINANCE = ("finance",)
PAYEE_EDITORS = ("finance", "admin")
PAGE_SIZE = 25


def _batch_or_404(batch_id: str) -> SettlementBatch:
    try:
        return settlement_runs.read(context(), batch_id)
    except NotFound:
        abort(404)


@staff.get("/settlements")
@requires_staff(*READERS)
def settlements() -> str:
    """Batches newest first."""
    after = request.args.get("starting_after", "")[:36]
    try:
        batches = context().read(lambda uow: list_settlements(uow, limit=PAGE_SIZE + 1, starting_after=after))
    except LedgerError:
        abort(404)
    return render_template(
        "staff/settlements/index.html",
        title="Settlements",
        batches=batches[:PAGE_SIZE],
        next_after=batches[PAGE_SIZE - 1].id if len(batches) > PAGE_SIZE else None,
        stripe_on=settlement_runs.stripe_on(context()),
        may_create=may(signed_in_user(), *FINANCE),
    )


def _end_of_day(day: dt.date) -> dt.datetime:
    """The last instant of a council day, in UTC."""
    zone = context().clock.zone
    next_midnight = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), tzinfo=zone)
    return (next_midnight - dt.timedelta(microseconds=1)).astimezone(dt.UTC)


@staff.route("/settlements/new", methods=["GET", "POST"])
@requires_staff(*FINANCE)
def new_settlement() -> str | Response:
    """Choose the period's last day, see the lines and totals, then create the batch."""
    form, create_form = PeriodForm(), CreateBatchForm()
    preview = None
    if request.form.get("period_end") and create_form.validate_on_submit():
        try:
            period_end = parse_rfc3339(create_form.period_end.data or "")
            batch = settlement_runs.create(context(), period_end, staff_actor(), create_form.request_key.data)
        except LedgerError as error:
            form.last_day.errors = [f"The batch cannot be made: {error.detail}"]
        else:
            flash(f"Batch {batch.sequence} is made: another finance user must approve it.", "success")
            return redirect(url_for("staff.settlement", batch_id=batch.id))
    elif form.validate_on_submit() and form.last_day.data is not None:
        period_end = _end_of_day(form.last_day.data)
        try:
            preview = settlement_runs.preview(context(), period_end)
        except LedgerError as error:
            form.last_day.errors = [f"The batch cannot be made: {error.detail}"]
        else:
            create_form.period_end.data = rfc3339(period_end)
    return render_template(
        "staff/settlements/new.html",
        title="Make a settlement batch",
        form=form,
        create_form=create_form,
        preview=preview,
    )


@staff.get("/settlements/<batch_id>")
@requires_staff(*READERS)
def settlement(batch_id: str) -> str:
    """A batch, its lines, and what the signed-in user may do with it."""
    return _batch_page(_batch_or_404(batch_id))


def _batch_page(batch: SettlementBatch) -> str:
    user = signed_in_user()
    finance = may(user, *FINANCE)
    return render_template(
        "staff/settlements/batch.html",
        title=f"Settlement batch {batch.sequence}",
        batch=batch,
        may_approve=finance and user is not None and batch.may_be_approved_by(user.actor),
        is_creator=user is not None and user.actor == batch.created_by,
        may_confirm=finance and batch.mode == "payment_file" and batch.status == "paying",
        may_download=finance and batch.mode == "payment_file" and batch.approved_at is not None,
        may_edit_payees=may(user, *PAYEE_EDITORS),
        approve_form=ApproveForm(),
        confirm_form=ConfirmPaidForm(),
    )


@staff.post("/settlements/<batch_id>/approve")
@requires_staff(*FINANCE)
def approve_settlement(batch_id: str) -> str | Response:
    """Approve (not the creator: 403), then pay out."""
    batch, form = _batch_or_404(batch_id), ApproveForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        done = settlement_runs.approve(context(), batch_id, staff_actor(), form.request_key.data)
    except TwoPersonRule:
        abort(403, description="You made this batch, so another finance user must approve it.")
    except LedgerError as error:
        flash(f"The batch cannot be approved: {error.detail}", "error")
        return redirect(url_for("staff.settlement", batch_id=batch.id))
    flash(f"Batch {done.sequence} is approved: {done.total_to_pay} on its way to the outlets.", "success")
    return redirect(url_for("staff.settlement", batch_id=batch_id))


@staff.post("/settlements/<batch_id>/paid")
@requires_staff(*FINANCE)
def confirm_settlement_paid(batch_id: str) -> Response:
    """The bank paid the payment file: the batch is booked to the bank."""
    _batch_or_404(batch_id)
    form = ConfirmPaidForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        done = settlement_runs.confirm_paid(context(), batch_id, staff_actor(), form.request_key.data)
    except LedgerError as error:
        flash(f"The batch cannot be confirmed paid: {error.detail}", "error")
    else:
        flash(f"Batch {done.sequence} is paid: {done.total_to_pay} booked to the bank.", "success")
    return redirect(url_for("staff.settlement", batch_id=batch_id))


def _attachment(body: str | bytes, content_type: str, filename: str) -> Response:
    response = Response(body, content_type=content_type)
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["Cache-Control"] = "no-store"  # bank details and what outlets were paid
    return response


@staff.get("/settlements/<batch_id>/payment-file.csv")
@requires_staff(*FINANCE)
def settlement_payment_file(batch_id: str) -> Response:
    """The BACS-style payment file of an approved batch."""
    batch = _batch_or_404(batch_id)
    try:
        text = context().read(lambda uow: payment_file(uow, batch_id))
    except LedgerError:
        abort(404)
    return _attachment(text, "text/csv; charset=utf-8", f"settlement-{batch.sequence}-payment-file.csv")


@staff.get("/settlements/<batch_id>/statements/<outlet_id>.<kind>")
@requires_staff(*READERS)
def settlement_statement(batch_id: str, outlet_id: str, kind: str) -> Response:
    """One outlet's statement of a batch, as CSV or PDF."""
    if kind not in ("csv", "pdf") or len(outlet_id) > 36:
        abort(404)
    try:
        found = context().read(lambda uow: statement(uow, batch_id, outlet_id))
    except NotFound:
        abort(404)
    filename = f"settlement-{found.sequence}-{outlet_id}.{kind}"
    if kind == "csv":
        return _attachment(statement_csv(found), "text/csv; charset=utf-8", filename)
    return _attachment(statement_pdf(found), "application/pdf", filename)
