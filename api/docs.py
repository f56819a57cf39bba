"""`/api/docs`: Swagger UI 5 (renders OpenAPI 3.1) from our own vendored files, under a strict CSP."""

from __future__ import annotations

from flask import Blueprint, current_app, render_template, url_for

blueprint = Blueprint("docs", __name__)


@blueprint.get("/api/docs", strict_slashes=False)
def swagger_ui() -> str:
    """The interactive API documentation: our page, the vendored Swagger UI, the live OpenAPI document."""
    return render_template(
        "swagger_ui.html",
        title=current_app.config["API_TITLE"],
        openapi_url=url_for("api-docs.openapi_json"),
    )
