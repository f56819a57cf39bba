"""Jinja loaders for GOV.UK Frontend templates, the web secret, CSRF for the staff UI only."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from flask import Flask, request
from flask.sessions import SecureCookieSessionInterface
from flask_wtf.csrf import CSRFProtect
from govuk_frontend_wtf.main import WTFormsHelpers
from jinja2 import ChoiceLoader, PackageLoader, PrefixLoader

from admin.web.formatting import register_filters

csrf = CSRFProtect()
WEB_SECRET_BYTES = 32


def configure_templates(app: Flask) -> None:
    """Our templates first, then GOV.UK Frontend's Jinja port and its WTForms widgets by prefix."""
    loaders = [app.jinja_loader] if app.jinja_loader is not None else []
    app.jinja_loader = ChoiceLoader(
        [
            *loaders,
            PrefixLoader(
                {
                    "govuk_frontend_jinja": PackageLoader("govuk_frontend_jinja"),
                    "govuk_frontend_wtf": PackageLoader("govuk_frontend_wtf"),
                }
            ),
        ]
    )
    app.jinja_env.trim_blocks = True
    app.jinja_env.lstrip_blocks = True
    WTFormsHelpers(app)
    register_filters(app)


def load_or_create_web_secret(path: Path) -> bytes:
    """The key that signs CSRF tokens, shared by every worker; created once (mode 0600)."""
    if path.exists():
        return path.read_bytes()
    path.parent.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_bytes(WEB_SECRET_BYTES)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(descriptor, secret)
    finally:
        os.close(descriptor)
    return secret


class SecureOverHttpsSessionInterface(SecureCookieSessionInterface):
    """Flask's signed-cookie session (it holds the CSRF token), marked Secure whenever it came over HTTPS."""

    def get_cookie_secure(self, app: Flask) -> bool:
        """Secure over HTTPS (directly or from a trusted proxy); plain HTTP on a council LAN still works."""
        # A fixed Secure flag would make every form fail with "this form has expired" over plain HTTP:
        # browsers other than on localhost never send a Secure cookie back over HTTP.
        return request.is_secure


def configure_web_security(app: Flask) -> None:
    """CSRF on every staff form (checked by the staff blueprint, not the token-authenticated API)."""
    context = app.extensions["clubcard"]
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = load_or_create_web_secret(
            context.settings.data_directory / "keys" / "web-secret"
        )
    app.config.setdefault("WTF_CSRF_CHECK_DEFAULT", False)  # the API uses bearer keys, not cookies
    app.config.setdefault("WTF_CSRF_TIME_LIMIT", None)  # valid for the session; the session has a timeout
    app.config.setdefault("SESSION_COOKIE_HTTPONLY", True)
    app.config.setdefault("SESSION_COOKIE_SAMESITE", "Lax")
    app.session_interface = SecureOverHttpsSessionInterface()
    csrf.init_app(app)
