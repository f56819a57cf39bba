"""Placeholder blueprint: being built."""

from __future__ import annotations

from flask_smorest import Blueprint

blueprint = Blueprint("audit", __name__, description="audit")
