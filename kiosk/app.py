"""The counter screen: a small server-rendered Flask app on 127.0.0.1, in the GOV.UK style.

Everything works without JavaScript (a USB/HID scanner types the token and Enter into the focused field;
a printed card number can be typed); JavaScript only reads the camera, in the page, with the vendored
zxing-wasm decoder served from /assets/ (nothing from a CDN). Every form that spends carries its own
idempotency key, generated when the form is shown and stored in the outbox before the request is sent.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, Response, abort, jsonify, redirect, render_template, request, url_for
from jinja2 import ChoiceLoader, PackageLoader, PrefixLoader
from werkzeug.wrappers import Response as WerkzeugResponse

from api.security_headers import DEFAULT_CONTENT_SECURITY_POLICY, apply_security_headers
from clubcard.assets import register_assets
from kiosk import outcomes
from kiosk.counter import Counter
from kiosk.outcomes import Outcome
from kiosk.screens import CardView, ReceiptView
from kiosk.spending import Spend, refund, resolve_hold, spend
from kiosk.sync import Syncer
from ledger.amounts import EXAMPLES, AmountNotUnderstood, parse_amount
from ledger.units import Unit, format_amount

MAX_FORM_BYTES = 16 * 1024
# The camera decoder is WebAssembly: compiling it needs 'wasm-unsafe-eval' (never 'unsafe-eval').
KIOSK_CONTENT_SECURITY_POLICY = {
    **DEFAULT_CONTENT_SECURITY_POLICY,
    "script-src": "'self' 'wasm-unsafe-eval'",
    "img-src": "'self' data: blob:",
    "media-src": "'self' blob:",
}


def create_kiosk_app(counter: Counter, syncer: Syncer | None = None) -> Flask:
    """The counter screen's app for one kiosk."""
    app = Flask(__name__)
    app.config.update(MAX_CONTENT_LENGTH=MAX_FORM_BYTES)
    app.extensions["kiosk"] = (counter, syncer)
    app.jinja_loader = ChoiceLoader(
        [
            PackageLoader("kiosk"),
            PrefixLoader({"govuk_frontend_jinja": PackageLoader("govuk_frontend_jinja")}),
        ]
    )
    app.jinja_env.globals.update(format_amount=format_amount, examples=EXAMPLES)
    apply_security_headers(app, content_security_policy=KIOSK_CONTENT_SECURITY_POLICY)
    register_assets(app)
    _refuse_cross_site_posts(app)
    _register_pages(app, counter, syncer)
    _register_error_pages(app, counter)
    return app


def _register_error_pages(app: Flask, counter: Counter) -> None:
    """Plain words instead of a bare error page: nothing was charged, start again from a scan."""

    @app.errorhandler(400)
    @app.errorhandler(403)
    @app.errorhandler(404)
    def refused(error: Exception) -> tuple[str, int]:
        status = int(getattr(error, "code", 400) or 400)
        return _page("kiosk/outcome.html", counter, status, outcome=outcomes.PAGE_NOT_HERE)


def _refuse_cross_site_posts(app: Flask) -> None:
    """Only the kiosk's own pages may post to it: another site open in the same browser cannot spend."""

    @app.before_request
    def same_origin_only() -> None:
        if request.method != "POST":
            return
        # Browsers say where a post comes from in Sec-Fetch-Site; Origin is "null" under no-referrer.
        origin = request.headers.get("Origin", "null")
        cross_site = request.headers.get("Sec-Fetch-Site") in {"cross-site", "same-site"}
        if cross_site or origin not in {"null", request.host_url.rstrip("/")}:
            abort(403)


def _page(template: str, counter: Counter, status: int = 200, **values: Any) -> tuple[str, int]:
    queued = counter.outbox.count("queued")
    flagged = counter.outbox.count("sync-refused", "unknown")
    return (
        render_template(
            template,
            outlet_name=counter.outlet_name(),
            online=counter.online,
            queued=queued,
            flagged=flagged,
            **values,
        ),
        status,
    )


def _card_page(counter: Counter, found: CardView | Outcome, **values: Any) -> tuple[str, int]:
    if isinstance(found, Outcome):
        return _page("kiosk/outcome.html", counter, 200, outcome=found)
    keys = {scheme.scheme: counter.new_key() for scheme in found.schemes}
    return _page("kiosk/card.html", counter, 200, card=found, keys=keys, **values)


def _result_page(counter: Counter, result: ReceiptView | Outcome) -> tuple[str, int] | WerkzeugResponse:
    if isinstance(result, ReceiptView):
        already = "1" if result.outcome.kind == "already-used" else None
        return redirect(url_for("receipt", key=result.key, already=already), code=303)
    return _page("kiosk/outcome.html", counter, 200, outcome=result, retry=request.form)


def _register_pages(app: Flask, counter: Counter, syncer: Syncer | None) -> None:
    @app.get("/")
    def home() -> tuple[str, int]:
        last = counter.outbox.latest("redeem", "done")
        last_receipt = counter.receipt_view(last, outcomes.ACCEPTED) if last else None
        holds = [
            counter.receipt_view(row, outcomes.ACCEPTED)
            for row in counter.outbox.rows("done", kind="hold", limit=20)
        ]
        resolved = counter.outbox.resolved_targets("capture", "void")
        open_holds = [hold for hold in holds if hold.hold_id not in resolved]
        return _page("kiosk/home.html", counter, last_receipt=last_receipt, open_holds=open_holds)

    @app.post("/scan")
    def scan() -> tuple[str, int]:
        token = request.form.get("card_token", "")[:512]
        if not token.strip():
            return _page("kiosk/home.html", counter, 200, scan_error="Scan the card or type its number")
        return _card_page(counter, counter.scan(token))

    @app.post("/number")
    def number() -> tuple[str, int]:
        typed = request.form.get("card_number", "")[:64]
        if not typed.strip():
            return _page("kiosk/home.html", counter, 200, number_error="Type the number printed on the card")
        return _card_page(counter, counter.look_up_number(typed))

    @app.post("/spend")
    def spend_view() -> tuple[str, int] | WerkzeugResponse:
        form = request.form
        unit = form.get("unit", "")
        if unit not in {u.value for u in Unit} or not form.get("key") or not form.get("scheme"):
            abort(400)
        try:
            amount_minor = parse_amount(form.get("amount", ""), unit)
        except AmountNotUnderstood as error:
            found = counter.scan(form.get("card_token", ""))
            return _card_page(counter, found, amount_error={form["scheme"]: str(error)})
        request_ = Spend(
            key=form["key"][:200],
            card_token=form.get("card_token", "")[:512],
            card_number=form.get("card_number", "")[:32],
            scheme=form["scheme"][:64],
            unit=unit,
            amount_minor=amount_minor,
            hold=form.get("action") == "hold",
        )
        result = spend(counter, request_)
        if syncer is not None and isinstance(result, ReceiptView) and not result.online:
            syncer.wake()
        return _result_page(counter, result)

    @app.get("/receipts/<key>")
    def receipt(key: str) -> tuple[str, int]:
        found = counter.receipt(key)
        if found is None:
            abort(404)
        if request.args.get("already"):
            found = ReceiptView(**{**found.__dict__, "outcome": outcomes.ALREADY_USED})
        return _page("kiosk/receipt.html", counter, receipt=found)

    @app.post("/receipts/<key>/refund")
    def refund_view(key: str) -> tuple[str, int] | WerkzeugResponse:
        return _result_page(counter, refund(counter, key))

    @app.post("/holds/<key>/capture")
    def capture(key: str) -> tuple[str, int] | WerkzeugResponse:
        row = counter.outbox.get(key)
        if row is None or row.unit is None:
            abort(404)
        try:
            amount_minor = parse_amount(request.form.get("amount", ""), row.unit)
        except AmountNotUnderstood as error:
            found = counter.receipt(key)
            return _page("kiosk/receipt.html", counter, 200, receipt=found, capture_error=str(error))
        return _result_page(counter, resolve_hold(counter, key, amount_minor))

    @app.post("/holds/<key>/void")
    def void(key: str) -> tuple[str, int] | WerkzeugResponse:
        return _result_page(counter, resolve_hold(counter, key, 0))

    @app.get("/queue")
    def queue() -> tuple[str, int]:
        rows = counter.outbox.rows("queued", "sync-refused", "unknown", limit=200)
        return _page("kiosk/queue.html", counter, rows=rows)

    @app.get("/status.json")
    def status() -> Response:
        outbox = counter.outbox
        return jsonify(
            online=counter.online,
            queued=outbox.count("queued"),
            synced=outbox.count("synced"),
            flagged=outbox.count("sync-refused", "unknown"),
        )

    @app.get("/healthz")
    def health() -> Response:
        return jsonify(status="ok")
