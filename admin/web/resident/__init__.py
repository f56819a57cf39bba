"""The resident's own pages under /my: their card's balances, history and a lost-card button."""

from __future__ import annotations

from flask import Flask

from admin.web.resident.blueprint import resident


def register_resident_pages(app: Flask) -> None:
    """Mount the resident pages (after the staff UI, whose template and CSRF set-up they share)."""
    from admin.web.resident import pages  # noqa: F401  (registers the views on the blueprint)
    from admin.web.resident import street  # noqa: F401  (the street pot page)
    from admin.web.resident import topups  # noqa: F401  (the "Add money" pages)

    app.register_blueprint(resident)
