"""The Flask application factory: the REST API under /api/v1, OpenAPI 3.1 and local Swagger UI."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import unquote

from flask import Flask, request

from api import docs
from api.json_body import install_strict_json_bodies
from api.limits import REST_BLUEPRINTS, init_limiter
from api.logging_setup import configure_logging
from api.problems import ApiProblem, register_problem_handlers
from api.security_headers import apply_security_headers
from api.spec import ClubcardApi, document_idempotency_keys
from clubcard.assets import register_assets
from clubcard.context import LedgerContext, build_context
from ledger.settings import Settings

MAX_REQUEST_BYTES = 1024 * 1024
SETTINGS_PREFIXES = ("CLUBCARD_", "STRIPE_")  # test_config keys that are settings, not Flask config


def create_app(test_config: dict[str, Any] | None = None, context: LedgerContext | None = None) -> Flask:
    """Build the app; `test_config` may carry CLUBCARD_* settings and a `CLOCK`."""
    app = Flask(__name__)
    config = dict(test_config or {})
    app.config.update(
        API_TITLE="Clubcard",
        API_VERSION="v1",
        OPENAPI_VERSION="3.1.0",
        OPENAPI_URL_PREFIX="/api",
        OPENAPI_JSON_PATH="openapi.json",
        MAX_CONTENT_LENGTH=MAX_REQUEST_BYTES,
        JSON_SORT_KEYS=False,
        RATELIMIT_HEADERS_ENABLED=True,
    )
    flask_config = {k: v for k, v in config.items() if k.isupper() and not k.startswith(SETTINGS_PREFIXES)}
    app.config.update(flask_config)
    if context is None:
        environment = {k: str(v) for k, v in config.items() if k.startswith(SETTINGS_PREFIXES)}
        settings = Settings.from_environment(environment or None)
        context = build_context(settings, clock=config.get("CLOCK"), create_missing_keys=True)
    app.extensions["clubcard"] = context
    configure_logging()

    api = ClubcardApi(
        app, spec_kwargs={"info": {"description": (Path(__file__).parent / "README.md").read_text()}}
    )
    api.spec.components.security_scheme("bearer", {"type": "http", "scheme": "bearer"})
    app.extensions[REST_BLUEPRINTS] = _register_blueprints(api)
    document_idempotency_keys(api)
    init_limiter(app)
    register_problem_handlers(app)  # after Api, so ours replace flask-smorest's HTTP error handler
    apply_security_headers(app, trusted_proxy_count=config.get("CLUBCARD_TRUSTED_PROXY_COUNT"))
    _refuse_control_characters(app)
    install_strict_json_bodies(app)
    _register_static(app)
    register_assets(app)
    app.register_blueprint(docs.blueprint)
    _register_staff_ui(app)
    return app


def _register_blueprints(api: ClubcardApi) -> frozenset[str]:
    """Register the REST API's blueprints; returns their names."""
    from api.resources import (
        audit,
        index,
        kiosk_cards,
        ledger_head,
        offline,
        outlets,
        people,
        redemptions,
        schemes,
        settlements,
        stripe_webhooks,
        topups,
        value,
        well_known,
    )

    versioned = (
        index,
        schemes,
        people,
        outlets,
        value,
        redemptions,
        audit,
        kiosk_cards,
        offline,
        settlements,
        topups,
    )
    for module in versioned:
        api.register_blueprint(module.blueprint, url_prefix="/api/v1")
    unversioned = (stripe_webhooks, well_known, ledger_head)
    for module in unversioned:
        api.register_blueprint(module.blueprint)
    return frozenset(module.blueprint.name for module in (*versioned, *unversioned))


def _register_staff_ui(app: Flask) -> None:
    from admin.web import register_staff_ui

    register_staff_ui(app)
    _register_resident_pages(app)


def _register_resident_pages(app: Flask) -> None:
    from admin.web.resident import register_resident_pages

    register_resident_pages(app)  # after the staff UI: it shares its templates and CSRF set-up


def _refuse_control_characters(app: Flask) -> None:
    """Control characters (NUL above all) in a path or query are never valid here; PostgreSQL rejects NUL."""

    @app.before_request
    def refuse() -> None:
        raw = request.path + "?" + unquote(request.query_string.decode("latin-1"))
        if any(ord(character) < 32 or ord(character) == 127 for character in raw):
            raise ApiProblem(422, "validation", "control characters are not allowed in the URL")


def _register_static(app: Flask) -> None:
    @app.get("/healthz")
    def health() -> dict[str, str]:
        return {"status": "ok"}
