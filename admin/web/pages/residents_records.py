"""A resident's schemes and records: enrol in a scheme (eligibility checked and shown), issue a voucher
series (caseworker), subject access export (caseworker, admin), erasure (admin)."""

from __future__ import annotations

import json
from typing import Any

from flask import Response, abort, flash, render_template, request
from werkzeug.wrappers import Response as BaseResponse

from admin.web.auth import context, requires_staff
from admin.web.blueprint import staff
from admin.web.forms_residents import EraseForm, ExportForm, JoinSchemeForm, VoucherSeriesForm
from admin.web.pages.residents import CASEWORK, acting, now, resident_or_404, to_resident, today
from api.resources.people_schemas import ExportSchema
from ledger.errors import Conflict, LedgerError, NotEligible, NotFound
from ledger.units import format_amount
from ledger.usecases.memberships import enrol_member
from ledger.usecases.resident_pages import ResidentPage, SeriesScheme, resident_page, series_scheme
from ledger.usecases.residents import erase_personal_data, export_resident
from ledger.usecases.voucher_series import (
    MAX_VOUCHERS_PER_SERIES,
    SeriesVoucher,
    VoucherRefused,
    VoucherSeries,
    issue_voucher_series,
)

CASEWORKER = ("caseworker",)  # enrolling in a scheme and issuing are the API's caseworker writes
DEFAULT_VOUCHER_ROWS = 3


def _page(resident_id: str) -> ResidentPage:
    resident_or_404(resident_id)
    try:
        return context().read(lambda uow: resident_page(uow, resident_id))
    except NotFound:
        abort(404)


@staff.route("/residents/<resident_id>/schemes", methods=["GET", "POST"])
@requires_staff(*CASEWORKER)
def join_scheme(resident_id: str) -> str | BaseResponse:
    """Enrol the resident in a scheme if its eligibility rules allow; a refusal says why, in words."""
    page = _page(resident_id)
    names = {choice.slug: choice.name for choice in page.joinable}
    form = JoinSchemeForm(schemes=list(names.items()))
    if form.validate_on_submit():
        slug, referral, key, actor = form.scheme.data, form.referral.data, form.request_key.data, acting(form)
        try:
            enrolled = context().write(
                lambda uow: enrol_member(
                    uow,
                    slug=slug,
                    resident_id=resident_id,
                    referral=referral,
                    collective_id=None,
                    as_of=None,
                    now=now(),
                    actor=actor,
                    idempotency_key=key,
                )
            )
        except NotEligible as error:
            form.scheme.errors.append(f"Not eligible for {names[slug]}: {error.detail}")
        except (Conflict, NotFound) as error:
            form.scheme.errors.append(f"Not enrolled: {error.detail}")
        else:
            checked = (
                f"checked on {enrolled['eligible_on']:%-d %B %Y}, rule version {enrolled['rule_version']}"
            )
            flash(f"Eligible and enrolled in {names[slug]} ({checked}).", "success")
            return to_resident(resident_id)
    return render_template("staff/residents/join.html", title="Enrol in a scheme", form=form, page=page)


def _row_count() -> int:
    try:
        count = int(request.args.get("count", DEFAULT_VOUCHER_ROWS))
    except ValueError:
        count = DEFAULT_VOUCHER_ROWS
    return min(max(count, 1), MAX_VOUCHERS_PER_SERIES)


def _series(slug: str) -> SeriesScheme:
    try:
        return context().read(lambda uow: series_scheme(uow, slug))
    except NotFound:
        abort(404)


def _issued_message(series: VoucherSeries) -> str:
    parts = [
        f"{voucher.purpose.replace('-', ' ')} {format_amount(voucher.amount_minor, series.unit)}"
        + (f" until {voucher.expires_at:%-d %B %Y}" if voucher.expires_at else "")
        for voucher in series.vouchers
    ]
    count = len(series.vouchers)
    return f"{count} voucher{'s' if count != 1 else ''} issued: {'; '.join(parts)}."


@staff.route("/residents/<resident_id>/schemes/<slug>/vouchers", methods=["GET", "POST"])
@requires_staff(*CASEWORKER)
def vouchers(resident_id: str, slug: str) -> str | BaseResponse:
    """Issue a series of vouchers, each with a purpose, amount and expiry; all of them or none."""
    page, scheme, count = _page(resident_id), _series(slug), _row_count()
    purposes = [purpose for purpose, _ in scheme.purposes]
    form = VoucherSeriesForm(count=count, purposes=purposes, unit=scheme.unit, today=today())
    if form.validate_on_submit():
        asked = [SeriesVoucher(purpose, amount, day) for purpose, amount, day in form.requested()]
        key, actor, zone = form.request_key.data, acting(form), context().clock.zone
        try:
            series = context().write(
                lambda uow: issue_voucher_series(
                    uow,
                    scheme=slug,
                    resident_id=resident_id,
                    vouchers=asked,
                    now=now(),
                    zone=zone,
                    actor=actor,
                    key=key,
                )
            )
        except VoucherRefused as refused:
            row = form.vouchers[refused.number - 1].form
            row.purpose.errors.append(
                f"Voucher {refused.number} was refused, so none were issued: {refused.cause.detail}"
            )
        except LedgerError as error:
            form.asked_by.errors.append(f"No vouchers were issued: {error.detail}")
        else:
            flash(_issued_message(series), "success")
            return to_resident(resident_id)
    return render_template(
        "staff/residents/vouchers.html",
        title=f"Issue {scheme.name}",
        form=form,
        page=page,
        scheme=scheme,
        count=count,
        max_count=MAX_VOUCHERS_PER_SERIES,
    )


def _export_download(export: dict[str, Any], resident_id: str) -> Response:
    body = json.dumps(ExportSchema().dump(export), indent=2, sort_keys=True, ensure_ascii=False)
    response = Response(body + "\n", mimetype="application/json")
    response.headers["Cache-Control"] = "no-store"
    response.headers["Content-Disposition"] = f'attachment; filename="resident-{resident_id}.json"'
    return response


@staff.route("/residents/<resident_id>/export", methods=["GET", "POST"])
@requires_staff(*CASEWORK)
def export(resident_id: str) -> str | Response:
    """A subject access export: everything held about the resident, as JSON (as the API gives it)."""
    page = _page(resident_id)
    form = ExportForm()
    if form.validate_on_submit():
        actor = acting(form)
        exported = context().write(lambda uow: export_resident(uow, resident_id, now=now(), actor=actor))
        return _export_download(exported, resident_id)
    return render_template("staff/residents/export.html", title="Subject access export", form=form, page=page)


@staff.route("/residents/<resident_id>/erase", methods=["GET", "POST"])
@requires_staff("admin")
def erase(resident_id: str) -> str | BaseResponse:
    """Erase the resident's personal details after a confirmation; the ledger stays valid."""
    page = _page(resident_id)
    form = EraseForm()
    if page.resident["erased_at"] is None and form.validate_on_submit():
        actor = acting(form)
        context().write(lambda uow: erase_personal_data(uow, resident_id, now=now(), actor=actor))
        flash("Their personal data is erased. Their balances and the ledger are unchanged.", "success")
        return to_resident(resident_id)
    return render_template("staff/residents/erase.html", title="Erase personal data", form=form, page=page)
