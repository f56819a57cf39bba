"""Security headers on every response (flask-talisman), a trusted proxy (werkzeug ProxyFix), no-store.

Any Flask app of ours calls `apply_security_headers(app)`: the REST API, the staff UI in the same app, the
kiosk's own small app. Every response then carries `X-Content-Type-Options: nosniff`,
`Referrer-Policy: no-referrer`, `X-Frame-Options: DENY` and a Content-Security-Policy with
`frame-ancestors 'none'` and no `unsafe-inline`; `Strict-Transport-Security` only when the request came over
HTTPS, directly or as said by a trusted proxy; `Cache-Control: no-store` unless the view set its own.

How a template runs a script: inline scripts need the per-request nonce, which talisman puts in the Jinja
globals as `csp_nonce()`:

    <script nonce="{{ csp_nonce() }}">...</script>

Scripts and stylesheets served from our own origin (`/assets/...`) need nothing. Inline `style="..."`
attributes and inline event handlers (`onclick=`) are refused: use classes and `addEventListener`. A page that
needs more (the kiosk's WebAssembly decoder needs `'wasm-unsafe-eval'`) passes its own policy to
`apply_security_headers`, or overrides one view with `@talisman(content_security_policy=...)`, where
`talisman = app.extensions["talisman"]`.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from typing import Any

from flask import Flask, Response
from flask_talisman import Talisman
from werkzeug.middleware.proxy_fix import ProxyFix

TRUSTED_PROXY_VARIABLE = "CLUBCARD_TRUSTED_PROXY_COUNT"
HSTS_MAX_AGE_SECONDS = 365 * 24 * 3600

# Everything from our own origin; nothing inline unless it carries the request's nonce.
DEFAULT_CONTENT_SECURITY_POLICY: Mapping[str, str] = {
    "default-src": "'self'",
    "script-src": "'self'",
    "style-src": "'self'",
    "img-src": "'self' data:",
    "font-src": "'self'",
    "connect-src": "'self'",
    "object-src": "'none'",
    "base-uri": "'none'",
    "form-action": "'self'",
    "frame-ancestors": "'none'",
}
NONCE_DIRECTIVES = ("script-src",)


def apply_security_headers(
    app: Flask,
    *,
    content_security_policy: Mapping[str, str] | None = None,
    trusted_proxy_count: int | str | None = None,
) -> Talisman:
    """Add the security headers to every response of `app`; returns the Talisman (per-view overrides)."""
    proxies = parse_trusted_proxy_count(
        os.environ.get(TRUSTED_PROXY_VARIABLE) if trusted_proxy_count is None else trusted_proxy_count
    )
    _trust_proxies(app, proxies)
    talisman = Talisman(
        app,
        # Never redirect to HTTPS ourselves: plain HTTP on 127.0.0.1 must work; TLS is the proxy's job.
        force_https=False,
        frame_options="DENY",
        strict_transport_security=True,
        strict_transport_security_max_age=HSTS_MAX_AGE_SECONDS,
        # Other hosts under the council's domain are not ours to pin to HTTPS.
        strict_transport_security_include_subdomains=False,
        content_security_policy=dict(content_security_policy or DEFAULT_CONTENT_SECURITY_POLICY),
        content_security_policy_nonce_in=list(NONCE_DIRECTIVES),
        referrer_policy="no-referrer",
        # The session cookie is Secure whenever the request came over HTTPS (admin.web.setup): a fixed
        # flag would break every form served over plain HTTP.
        session_cookie_secure=False,
    )
    app.extensions["talisman"] = talisman
    app.after_request(_no_store_unless_set)
    return talisman


def parse_trusted_proxy_count(value: int | str | None) -> int:
    """How many proxies in front of us to believe about the client's scheme and host (0: none)."""
    text = str(value if value is not None else "0").strip() or "0"
    if not text.isdigit():
        raise ValueError(f"{TRUSTED_PROXY_VARIABLE} must be a whole number of proxies, not {text!r}")
    return int(text)


def _trust_proxies(app: Flask, count: int) -> None:
    """Believe X-Forwarded-* from `count` proxies (ProxyFix), then drop the raw headers for everyone."""
    inner: Any = _WithoutForwardedHeaders(app.wsgi_app)
    if count:
        inner = ProxyFix(inner, x_for=count, x_proto=count, x_host=count, x_port=count, x_prefix=count)
    app.wsgi_app = inner  # type: ignore[method-assign]


class _WithoutForwardedHeaders:
    """Remove X-Forwarded-* from the WSGI environment once ProxyFix (if any) has read what it trusts.

    Downstream code, talisman's HSTS check included, would otherwise believe any client that sends
    `X-Forwarded-Proto: https`; after this, only `request.scheme` (set from a trusted proxy) says HTTPS.
    """

    def __init__(self, application: Any) -> None:
        self.application = application

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        for name in [name for name in environ if name.startswith("HTTP_X_FORWARDED_")]:
            del environ[name]
        result: Iterable[bytes] = self.application(environ, start_response)
        return result


def _no_store_unless_set(response: Response) -> Response:
    """Nothing is cached (personal data, entitlements, receipts, keys) unless a view chose caching."""
    if "Cache-Control" not in response.headers:
        response.headers["Cache-Control"] = "no-store"
    return response
