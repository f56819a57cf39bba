"""The resident's own pages under /my: their card's balances, history and a lost-card button."""

from __future__ import annotations

from flask import Flask

from admin.web.resident.blueprint import resident


def register_resident_pages(app: Flask) -> None:
    """Mount the resident pages (after the staff UI, whose template and CSRF set-up they share)."""
    # Each module registers its views on the blueprint: the card pages, the street pot, "Add money".
    from admin.web.resident import pages, street, topups  # noqa: F401

    app.register_blueprint(resident)
