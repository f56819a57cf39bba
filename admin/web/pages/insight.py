"""Insight for the council (admins, scheme managers, finance, auditors): per scheme, uptake, value, where
and when it is spent, overall or by ward and age band, every figure from fewer than 10 people suppressed;
the ward list with deprivation deciles uploaded by admins and scheme managers."""

from __future__ import annotations

import pathlib

from flask import Response, abort, flash, redirect, render_template, request, url_for
from werkzeug.wrappers.response import Response as BaseResponse

from admin.web.auth import context, requires_staff
from admin.web.blueprint import staff
from admin.web.forms_insight import WardUploadForm
from admin.web.insight_charts import chart, figure_text, table_csv
from admin.web.pages.acting import now, staff_actor
from ledger.errors import NotFound, ValidationFailed
from ledger.usecases.insight import DIMENSIONS, SchemeInsight, scheme_insight
from ledger.usecases.insight_wards import insight_schemes, upload_wards, ward_list

INSIGHT_ROLES = ("admin", "scheme_manager", "finance", "auditor")
WARD_UPLOAD_ROLES = ("admin", "scheme_manager")
EXAMPLE_CSV = pathlib.Path(__file__).resolve().parent.parent / "insight_wards_example.csv"


@staff.get("/insight")
@requires_staff(*INSIGHT_ROLES)
def insight() -> str:
    """The schemes to look into, and the ward list the equity lens uses."""
    schemes = context().read(insight_schemes)
    wards = context().read(ward_list)
    return render_template("staff/insight/index.html", title="Insight", schemes=schemes, wards=wards)


def _dimension() -> str:
    dimension = request.args.get("by", "all")
    if dimension not in DIMENSIONS:
        abort(404)
    return dimension


def _insight(slug: str) -> SchemeInsight:
    """The scheme's insight grouped as the query string asks; 404 for an unknown scheme or grouping."""
    dimension, at, ledger = _dimension(), now(), context()
    try:
        return ledger.read(
            lambda uow: scheme_insight(uow, slug=slug, dimension=dimension, now=at, zone=ledger.clock.zone)
        )
    except NotFound:
        abort(404)


@staff.get("/insight/schemes/<slug>")
@requires_staff(*INSIGHT_ROLES)
def insight_scheme(slug: str) -> str:
    """Every insight table of one scheme, with a chart beside each."""
    page = _insight(slug)
    return render_template(
        "staff/insight/scheme.html",
        title=f"Insight: {page.name}",
        page=page,
        dimensions=DIMENSIONS,
        chart=chart,
        figure_text=figure_text,
    )


@staff.get("/insight/schemes/<slug>/<key>.csv")
@requires_staff(*INSIGHT_ROLES)
def insight_download(slug: str, key: str) -> Response:
    """One insight table as CSV, suppressed figures as "fewer than 10"."""
    page = _insight(slug)
    try:
        table = page.table(key)
    except NotFound:
        abort(404)
    dimension = page.dimension
    body = table_csv(table, with_decile=dimension == "ward")
    response = Response(body, content_type="text/csv; charset=utf-8")
    response.headers["Content-Disposition"] = f'attachment; filename="{page.slug}-{key}-by-{dimension}.csv"'
    return response


@staff.get("/insight/wards")
@requires_staff(*INSIGHT_ROLES)
def insight_wards() -> str:
    """The uploaded ward list; admins and scheme managers see the form to upload a new one."""
    return _wards_page(WardUploadForm())


@staff.post("/insight/wards")
@requires_staff(*WARD_UPLOAD_ROLES)
def insight_wards_upload() -> str | BaseResponse:
    """Replace the ward list with an uploaded CSV (recorded in the staff log)."""
    form = WardUploadForm()
    if form.validate_on_submit():
        try:
            actor, at = staff_actor(), now()
            wards = context().write(
                lambda uow: upload_wards(uow, csv_text=form.csv_text, actor=actor, now=at)
            )
        except ValidationFailed as error:
            message = str(error)
            form.wards_file.errors = [message[:1].upper() + message[1:]]
        else:
            flash(f"Ward list uploaded: {len(wards.wards)} wards", "success")
            return redirect(url_for("staff.insight_wards"))
    return _wards_page(form)


def _wards_page(form: WardUploadForm) -> str:
    wards = context().read(ward_list)
    return render_template("staff/insight/wards.html", title="Wards and deprivation", form=form, wards=wards)


@staff.get("/insight/wards/example.csv")
@requires_staff(*INSIGHT_ROLES)
def insight_wards_example() -> Response:
    """An example ward list matching the demo council's wards."""
    response = Response(EXAMPLE_CSV.read_text(encoding="utf-8"), content_type="text/csv; charset=utf-8")
    response.headers["Content-Disposition"] = 'attachment; filename="wards-example.csv"'
    return response
