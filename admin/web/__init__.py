"""The staff and auditor web UI under /admin: GOV.UK Frontend pages calling the same use cases as the API."""

from __future__ import annotations

from flask import Flask

from admin.web.blueprint import staff
from admin.web.setup import configure_templates, configure_web_security


def register_staff_ui(app: Flask) -> None:
    """Mount the staff UI on the app: templates, CSRF, sessions, pages."""
    configure_templates(app)
    configure_web_security(app)
    from admin.web import pages  # noqa: F401  (registers the views on the blueprint)

    app.register_blueprint(staff)
