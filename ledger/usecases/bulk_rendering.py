"""Canonical JSON for a bulk job's many near-identical rows, rendered from one template per chunk."""

# A bulk chunk stores a request fingerprint and a receipt per wallet that differ only in a few ids.
# json.dumps per row was a fifth of the job's client time; a template rendered once and filled with
# escaped values gives the same bytes (checked against ledger.journal for the first row of each chunk).

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from json.encoder import encode_basestring  # what json.dumps(ensure_ascii=False) uses for every str
from typing import Any

from ledger.journal import canonical_json

_HOLE = re.compile(r'"@@(\w+)@@"')


def hole(name: str) -> str:
    """A placeholder value that a JsonTemplate fills by name."""
    return f"@@{name}@@"


def json_text(value: str | int | None) -> str:
    """One value as canonical JSON text (what canonical_json writes for it)."""
    if value is None:
        return "null"
    if isinstance(value, str):
        return encode_basestring(value)
    assert type(value) is int
    return repr(value)


class JsonTemplate:
    """canonical_json of a value with named holes; render() gives canonical_json of the filled value."""

    def __init__(self, value: Any) -> None:
        """Render the value once (keys sort the same whatever the holes are filled with)."""
        # Alternating literal text and hole names: literal, name, literal, ..., literal.
        self._parts = _HOLE.split(canonical_json(value).decode())

    def render(self, values: Mapping[str, str]) -> str:
        """The JSON text with each hole replaced by its value's JSON text (see json_text)."""
        parts = self._parts
        pieces = [parts[0]]
        for index in range(1, len(parts), 2):
            pieces.append(values[parts[index]])
            pieces.append(parts[index + 1])
        return "".join(pieces)

    def sha256(self, values: Mapping[str, str]) -> str:
        """The hex SHA-256 of the rendered text, as ledger.journal.request_fingerprint makes it."""
        return hashlib.sha256(self.render(values).encode()).hexdigest()
