"""Outlets and kiosks (admin): list, create and edit outlets (name, categories, approved schemes), their
kiosks' device keys: create one (shown once, with a QR code the kiosk's installer scans) and revoke one."""

from __future__ import annotations

import contextlib
import json
from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from admin.web.auth import context, remote_address, requires_staff, signed_in_user
from admin.web.blueprint import staff
from admin.web.forms_outlets import DeviceForm, OutletForm, RevokeDeviceForm, categories_text
from admin.web.qr import qr_png_data_uri, qr_svg
from api.auth import principal_cache
from ledger.actors import Actor, RequestOrigin
from ledger.errors import Conflict, NotFound, ValidationFailed
from ledger.usecases.api_keys import NewKey
from ledger.usecases.outlet_pages import OutletOverview, outlet_overview, outlets_page, scheme_names
from ledger.usecases.outlets import add_device, create_outlet, revoke_device, update_outlet

ADMIN = ("admin",)  # the API's role for outlets and their kiosk credentials
PAGE_SIZE = 50
KIOSK_CONFIGURATION_VERSION = 1


def acting() -> Actor:
    """The signed-in admin as the staff log records them, from this address."""
    user = signed_in_user()
    assert user is not None, "every outlets page requires a signed-in user"
    return Actor(user.actor, RequestOrigin(remote_address=remote_address()))


def _overview(outlet_id: str) -> OutletOverview:
    try:
        found: OutletOverview = context().read(lambda uow: outlet_overview(uow, outlet_id))
    except NotFound:
        abort(404)
    return found


def _to_outlet(outlet_id: str) -> Response:
    return redirect(url_for("staff.outlet", outlet_id=outlet_id))


@staff.get("/outlets")
@requires_staff(*ADMIN)
def outlets() -> str:
    """Partner outlets, a page at a time, with their categories and approved schemes."""
    after = request.args.get("after", "")
    try:
        found = context().read(lambda uow: outlets_page(uow, limit=PAGE_SIZE, starting_after=after))
    except ValidationFailed:
        abort(404)
    return render_template("staff/outlets/index.html", title="Outlets and kiosks", page=found, after=after)


def _outlet_form(form: OutletForm, title: str, outlet: dict[str, Any] | None) -> str:
    return render_template("staff/outlets/form.html", title=title, form=form, outlet=outlet)


@staff.route("/outlets/new", methods=["GET", "POST"])
@requires_staff(*ADMIN)
def new_outlet() -> str | Response:
    """Register a partner outlet: its name, categories and the schemes it may take."""
    form = OutletForm()
    form.offer_schemes(list(context().read(scheme_names).items()))
    if form.validate_on_submit():
        name, categories, schemes = form.name.data or "", form.category_list(), list(form.schemes.data or [])
        ledger, key, actor = context(), form.request_key.data, acting()
        try:
            made = ledger.write(
                lambda uow: create_outlet(
                    uow,
                    name=name,
                    categories=categories,
                    schemes=schemes,
                    now=ledger.clock.now(),
                    actor=actor,
                    idempotency_key=key,
                )
            )
        except ValidationFailed as error:
            form.name.errors.append(f"The outlet could not be saved: {error.detail}")
        else:
            flash(f"{made['name']} is registered. Create a device key for each of its kiosks.", "success")
            return _to_outlet(made["id"])
    return _outlet_form(form, "Register an outlet", None)


@staff.get("/outlets/<outlet_id>")
@requires_staff(*ADMIN)
def outlet(outlet_id: str) -> str:
    """One outlet: categories, approved schemes, its kiosks' device keys."""
    overview = _overview(outlet_id)
    return render_template(
        "staff/outlets/outlet.html", title=overview.outlet["name"], overview=overview, form=None
    )


def _changes(form: OutletForm, before: dict[str, Any]) -> dict[str, Any]:
    """Only what the form changed (the staff log then records just those fields, before and after)."""
    after = {
        "name": " ".join((form.name.data or "").split()),
        "categories": sorted(set(form.category_list())),
        "schemes": sorted(set(form.schemes.data or [])),
    }
    return {field: value for field, value in after.items() if value != before[field]}


@staff.route("/outlets/<outlet_id>/edit", methods=["GET", "POST"])
@requires_staff(*ADMIN)
def edit_outlet(outlet_id: str) -> str | Response:
    """Change an outlet's name, categories or approved schemes; the staff log keeps what they were."""
    overview = _overview(outlet_id)
    before = overview.outlet
    form = OutletForm(
        data=None
        if request.method == "POST"
        else {**before, "categories": categories_text(before["categories"])}
    )
    form.offer_schemes(list(overview.scheme_names.items()))
    if form.validate_on_submit():
        changes, ledger, actor = _changes(form, before), context(), acting()
        if not changes:
            flash("Nothing was changed.", "success")
            return _to_outlet(outlet_id)
        try:
            ledger.write(
                lambda uow: update_outlet(
                    uow, outlet_id=outlet_id, **changes, now=ledger.clock.now(), actor=actor
                )
            )
        except ValidationFailed as error:
            form.name.errors.append(f"The outlet could not be saved: {error.detail}")
        else:
            flash(f"{before['name'] if 'name' not in changes else changes['name']} is saved.", "success")
            return _to_outlet(outlet_id)
    return _outlet_form(form, f"Change {before['name']}", before)


def kiosk_configuration(api_url: str, device_key: str) -> str:
    """What the device key's QR code holds: the kiosk's --api and --device-key, as compact JSON."""
    document = {"clubcard_kiosk": KIOSK_CONFIGURATION_VERSION, "api": api_url, "device_key": device_key}
    return json.dumps(document, separators=(",", ":"))


def _created_page(overview: OutletOverview, made: NewKey) -> str:
    api_url = request.host_url.rstrip("/")
    configuration = kiosk_configuration(api_url, made.secret)
    return render_template(
        "staff/outlets/device_created.html",
        title="Device key created",
        overview=overview,
        device=made.principal,
        secret=made.secret,
        api_url=api_url,
        configuration=configuration,
        qr=qr_svg(configuration, "QR code holding the kiosk's API address and device key"),
        qr_png=qr_png_data_uri(configuration),
    )


@staff.route("/outlets/<outlet_id>/devices/new", methods=["GET", "POST"])
@requires_staff(*ADMIN)
def new_device(outlet_id: str) -> str:
    """Create a kiosk's device key: shown once, with a QR code to configure the kiosk by."""
    overview = _overview(outlet_id)
    form = DeviceForm()
    if form.validate_on_submit():
        label, ledger, key, actor = form.label.data or "", context(), form.request_key.data, acting()
        try:
            made = ledger.write(
                lambda uow: add_device(
                    uow,
                    outlet_id=outlet_id,
                    label=label,
                    now=ledger.clock.now(),
                    actor=actor,
                    idempotency_key=key,
                )
            )
        except Conflict:
            form.label.errors.append(
                "This form was already sent and its key was shown once: revoke that key if it was not "
                "written down, then create another"
            )
        else:
            return _created_page(overview, made)
    return render_template(
        "staff/outlets/device_new.html", title="Create a device key", form=form, overview=overview
    )


@staff.route("/outlets/<outlet_id>/devices/<device_id>/revoke", methods=["GET", "POST"])
@requires_staff(*ADMIN)
def revoke_device_key(outlet_id: str, device_id: str) -> str | Response:
    """Revoke a kiosk's device key after a confirmation; it stops working at once."""
    overview = _overview(outlet_id)
    device = overview.device(device_id)
    if device is None:
        abort(404)
    form = RevokeDeviceForm()
    if device["revoked_at"] is None and form.validate_on_submit():
        ledger, actor = context(), acting()
        # Revoked meanwhile (a second click) is the outcome the admin asked for.
        with contextlib.suppress(Conflict):
            ledger.write(
                lambda uow: revoke_device(
                    uow, outlet_id=outlet_id, device_id=device_id, now=ledger.clock.now(), actor=actor
                )
            )
        principal_cache().clear()  # in this process the key stops at once (in others within a second)
        flash(
            f"The device key for {device['label']} is revoked: that kiosk can no longer connect.", "success"
        )
        return _to_outlet(outlet_id)
    return render_template(
        "staff/outlets/device_revoke.html",
        title="Revoke a device key",
        form=form,
        overview=overview,
        device=device,
    )
