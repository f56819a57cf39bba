"""Placeholder blueprint: being built."""

from __future__ import annotations

from flask_smorest import Blueprint

blueprint = Blueprint("well_known", __name__, description="well_known")
