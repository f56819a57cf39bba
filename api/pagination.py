"""Cursor pagination: ?limit=&starting_after= → {"data": [...], "has_more": bool}."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from marshmallow import Schema, fields, validate

from api.fields import StrictInteger

MAX_PAGE_SIZE = 100


class PageQuery(Schema):
    """The query parameters of every list endpoint."""

    limit = fields.Integer(load_default=20, validate=validate.Range(min=1, max=MAX_PAGE_SIZE))
    starting_after = fields.String(load_default="", validate=validate.Length(max=200))


def page(fetch: Callable[[int, str], Sequence[Any]], query: dict[str, Any]) -> dict[str, Any]:
    """Fetch one more than the limit to know whether there is more."""
    limit = int(query["limit"])
    items = list(fetch(limit + 1, str(query["starting_after"])))
    return {"data": items[:limit], "has_more": len(items) > limit}


def page_schema(item: type[Schema], name: str) -> type[Schema]:
    """A {"data": [item], "has_more": bool} schema."""
    return Schema.from_dict(
        {"data": fields.List(fields.Nested(item), required=True), "has_more": fields.Boolean(required=True)},
        name=name,
    )


__all__ = ["PageQuery", "StrictInteger", "page", "page_schema"]
