"""Template filters: amounts and times as people read them."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import Flask

from ledger.units import format_amount


def _when(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    assert isinstance(value, dt.datetime)
    return value.astimezone(dt.UTC).strftime("%-d %b %Y %H:%M UTC")


def register_filters(app: Flask) -> None:
    """`amount(unit)` and `when` filters for every template."""
    app.jinja_env.filters["amount"] = format_amount
    app.jinja_env.filters["when"] = _when
