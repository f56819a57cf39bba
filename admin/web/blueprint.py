"""The one blueprint every staff page hangs on."""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint

staff = Blueprint(
    "staff",
    __name__,
    url_prefix="/admin",
    template_folder=str(Path(__file__).parent / "templates"),
)
