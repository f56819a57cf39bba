"""Schemes (scheme managers and admins change them; finance sees them and funds budgets): the list with
budget, uptake and rule version; a scheme's rules in words and its version history; creating a scheme and
saving a new version of its rules; funding a budget."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from admin.web.auth import context, requires_staff
from admin.web.blueprint import staff
from admin.web.forms_rules import RulesForm, rules_form_data
from admin.web.forms_schemes import EditRulesForm, FundForm, NewSchemeForm
from admin.web.pages.acting import now, staff_actor
from admin.web.rules_in_words import rule_changes, rules_in_words
from ledger.errors import Conflict, NotFound, ValidationFailed
from ledger.rules import parse_rules
from ledger.units import Unit, format_amount
from ledger.usecases.scheme_overview import SchemeDetails, fund_scheme, scheme_details, scheme_summaries
from ledger.usecases.schemes import create_scheme, update_rules

MANAGERS = ("admin", "scheme_manager")  # the API's roles for POST /schemes and PATCH /schemes/{slug}
FUNDERS = ("finance",)  # POST /schemes/{slug}/funding
READERS = (*MANAGERS, *FUNDERS)
# Where a refusal from the rules check belongs on the form, by the start of its message.
RULE_ERROR_FIELDS = (
    ("rules.eligibility", "max_age"),
    ("rules.issuing", "period"),
    ("rules.spending.overdraft", "overdraft"),
    ("rules.spending", "outlet_categories"),
    ("rules.expiry", "days_after_issue"),
    ("a slug", "slug"),
)


def _details(slug: str) -> SchemeDetails:
    try:
        return context().read(lambda uow: scheme_details(uow, slug, now=now()))
    except NotFound:
        abort(404)


def _refused(form: RulesForm, error: ValidationFailed) -> None:
    """Put a refusal from the use case's own rules check on the field it is about."""
    detail = error.detail
    name = next((field for prefix, field in RULE_ERROR_FIELDS if detail.startswith(prefix)), "name")
    field = getattr(form, name, None) or form.name
    field.errors = [*field.errors, f"These rules cannot be saved: {detail}"]


@staff.get("/schemes")
@requires_staff(*READERS)
def schemes() -> str:
    """Every scheme with its budget, uptake (members, and those active in the last 30 days) and version."""
    summaries = context().read(lambda uow: scheme_summaries(uow, now=now()))
    return render_template("staff/schemes/index.html", title="Schemes", summaries=summaries)


@staff.route("/schemes/new", methods=["GET", "POST"])
@requires_staff(*MANAGERS)
def scheme_new() -> str | Response:
    """Create a scheme from data: name, short name, unit and its rules (version 1)."""
    form = NewSchemeForm()
    if form.is_submitted() and form.adding_a_row():
        form.add_row()
        return render_template("staff/schemes/new.html", title="Create a scheme", form=form)
    if form.validate_on_submit():
        slug, unit, rules, actor = form.slug.data or "", Unit(form.unit.data), form.rules(), staff_actor()
        try:
            context().write(
                lambda uow: create_scheme(
                    uow,
                    slug=slug,
                    name=form.name.data or "",
                    unit=unit,
                    rules=rules,
                    now=now(),
                    actor=actor,
                    idempotency_key=form.request_key.data,
                )
            )
        except Conflict:
            form.slug.errors = ["A scheme with this short name already exists: choose another"]
        except ValidationFailed as error:
            _refused(form, error)
        else:
            flash(f"{form.name.data} is created, at rule version 1.", "success")
            return redirect(url_for("staff.scheme", slug=slug))
    return render_template("staff/schemes/new.html", title="Create a scheme", form=form)


@staff.get("/schemes/<slug>")
@requires_staff(*READERS)
def scheme(slug: str) -> str:
    """A scheme: budget and uptake, its current rules in words, and every rule version with its changes."""
    details = _details(slug)
    unit = details.summary.unit
    versions = details.versions
    changes = [
        rule_changes(earlier.rules, version.rules, unit) if earlier is not None else None
        for version, earlier in zip(versions, [*versions[1:], None], strict=True)
    ]
    return render_template(
        "staff/schemes/scheme.html",
        title=details.summary.name,
        details=details,
        sections=rules_in_words(details.rules, unit),
        history=list(zip(versions, changes, strict=True)),
    )


@staff.route("/schemes/<slug>/rules", methods=["GET", "POST"])
@requires_staff(*MANAGERS)
def scheme_rules(slug: str) -> str | Response:
    """Save a new version of the rules; transactions already recorded keep the version they were checked
    against."""
    details = _details(slug)
    unit, current = details.summary.unit, parse_rules(details.rules)
    if request.method == "GET":
        form = EditRulesForm(data=rules_form_data(current, unit, details.summary.name), unit=unit)
    else:
        form = EditRulesForm(unit=unit)
    if form.is_submitted() and form.adding_a_row():
        form.add_row()
    elif form.validate_on_submit():
        rules, actor, key = form.rules(), staff_actor(), form.request_key.data
        name = form.name.data if form.name.data != details.summary.name else None
        if parse_rules(rules) == current and name is None:
            flash("Nothing was changed, so no new version was saved.", "success")
            return redirect(url_for("staff.scheme", slug=slug))
        try:
            saved = context().write(
                lambda uow: update_rules(
                    uow, slug=slug, rules=rules, name=name, now=now(), actor=actor, idempotency_key=key
                )
            )
        except ValidationFailed as error:
            _refused(form, error)
        else:
            flash(f"The rules are saved as version {saved['version']}.", "success")
            return redirect(url_for("staff.scheme", slug=slug))
    title = f"Change the rules of {details.summary.name}"
    return render_template("staff/schemes/rules.html", title=title, form=form, details=details)


@staff.route("/schemes/<slug>/fund", methods=["GET", "POST"])
@requires_staff(*FUNDERS)
def scheme_fund(slug: str) -> str | Response:
    """Add money (or hours, points) to a scheme's budget, typed as people write it."""
    details = _details(slug)
    form = FundForm(unit=details.summary.unit)
    if form.validate_on_submit():
        amount, reference, actor = form.amount.amount_minor, form.reference.data or None, staff_actor()
        assert amount is not None, "the form requires an amount"
        key = form.request_key.data or ""
        funded = context().write(
            lambda uow: fund_scheme(
                uow, slug=slug, amount_minor=amount, reference=reference, now=now(), actor=actor, key=key
            )
        )
        added = format_amount(funded.amount_minor, funded.unit)
        balance = format_amount(funded.budget_balance_minor, funded.unit)
        flash(f"{added} is added to the budget. The budget is now {balance}.", "success")
        return redirect(url_for("staff.scheme", slug=slug))
    title = f"Add to the budget of {details.summary.name}"
    return render_template("staff/schemes/fund.html", title=title, form=form, details=details)
