"""The blueprint every resident page hangs on: /my, its own rate limit, no-store on every response."""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint
from werkzeug.wrappers import Response

resident = Blueprint(
    "resident",
    __name__,
    url_prefix="/my",
    template_folder=str(Path(__file__).parent / "templates"),
)


@resident.after_request
def no_store(response: Response) -> Response:
    """Nothing a resident sees may be kept by a browser or a proxy (a shared or library computer)."""
    response.headers["Cache-Control"] = "no-store"
    response.headers["Pragma"] = "no-cache"
    return response
