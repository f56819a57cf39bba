"""Front-end assets vendored from npm (frontend/refresh-assets), served from our own origin at /assets/."""

from __future__ import annotations

import json
from pathlib import Path

from flask import Blueprint, Flask, Response, send_from_directory

STATIC_DIRECTORY = Path(__file__).parent / "static"
ASSETS_URL_PREFIX = "/assets"
CACHE_SECONDS = 3600


def vendored_versions() -> dict[str, str]:
    """The npm package versions the vendored files came from."""
    versions: dict[str, str] = json.loads((STATIC_DIRECTORY / "VERSIONS.json").read_text())
    return versions


def register_assets(app: Flask) -> None:
    """Serve the vendored assets (GOV.UK Frontend, Swagger UI, the QR decoder) under /assets/."""
    blueprint = Blueprint("assets", __name__)

    @blueprint.get(f"{ASSETS_URL_PREFIX}/<path:filename>")
    def asset(filename: str) -> Response:
        response = send_from_directory(STATIC_DIRECTORY, filename, max_age=CACHE_SECONDS)
        if filename.endswith(".wasm"):
            response.mimetype = "application/wasm"
        return response

    app.register_blueprint(blueprint)
