"""Rate limits on card look-ups, per device or user (never per IP): memory store, or Redis if configured."""

from __future__ import annotations

import os

from flask import Flask, current_app
from flask_limiter import Limiter

DEFAULT_CARD_LOOKUP_LIMIT = "120 per minute"  # a kiosk scans a card every few seconds at most


def card_lookup_limit() -> str:
    """The per-key card look-up limit: CLUBCARD_CARD_LOOKUP_LIMIT (flask-limiter syntax) or the default."""
    return str(current_app.config.get("CLUBCARD_CARD_LOOKUP_LIMIT") or DEFAULT_CARD_LOOKUP_LIMIT)


limiter = Limiter(key_func=lambda: _caller(), default_limits=[], headers_enabled=True)


def _caller() -> str:
    # Limits run before the view, so authenticate here; the view itself answers 401 for no key.
    from api.auth import current_principal
    from api.problems import ApiProblem

    try:
        return f"key:{current_principal().key_id}"
    except ApiProblem:
        return "anonymous"


def init_limiter(app: Flask) -> None:
    """Attach the limiter, with Redis as storage when CLUBCARD_REDIS_URL is set."""
    redis_url = app.extensions["clubcard"].settings.redis_url
    app.config.setdefault("RATELIMIT_STORAGE_URI", redis_url or "memory://")
    app.config.setdefault("CLUBCARD_CARD_LOOKUP_LIMIT", os.environ.get("CLUBCARD_CARD_LOOKUP_LIMIT"))
    limiter.init_app(app)
