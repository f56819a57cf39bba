"""Every JSON request body is checked once, strictly, before any view sees it.

JSON the standard library would happily turn into a crash further in is refused here, at the door, as a
problem: nesting deep enough to exhaust the stack, integers too long to convert, NaN and Infinity (not
JSON at all), and text no database or hash can hold — lone surrogates (an escape such as \\udcff is not a
character, and cannot be encoded as UTF-8) and control characters (PostgreSQL refuses NUL outright).
Tab, line feed and carriage return are allowed, since free-text fields (a refund reason, a note) may
sensibly hold lines; fields that are one line (names, labels) refuse them in their own schemas.
"""

from __future__ import annotations

import json
import re
from typing import Any

from flask import Flask, request
from webargs.core import is_json
from webargs.flaskparser import FlaskParser

from api.problems import ApiProblem

MAX_DEPTH = 32  # the deepest request body (a scheme's rules) nests 5 levels
MAX_NUMBER_CHARACTERS = 40  # far beyond any amount (10**12) and any 64-bit id; Python's own limit is 4,300
PARSED_BODY = "clubcard.parsed_json_body"  # the WSGI environ key of this request's parsed body
FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")


class BodyRefused(Exception):
    """A JSON body that is refused: `status` 400 when it is not JSON, 422 when it is JSON we cannot take."""

    def __init__(self, status: int, detail: str, where: str = "") -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.where = where


def parse_json_body(raw: bytes) -> Any:
    """Parse a request body as strict JSON, or raise BodyRefused saying what is wrong and where."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise BodyRefused(400, f"the body is not UTF-8 (byte {error.start})") from error
    try:
        value = json.loads(text, parse_int=_integer, parse_float=_decimal, parse_constant=_constant)
    except json.JSONDecodeError as error:
        raise BodyRefused(400, f"the body is not valid JSON: {error.msg} at character {error.pos}") from error
    except RecursionError as error:
        # The parser recurses once per level and stops cleanly at Python's recursion limit.
        raise BodyRefused(422, f"the body nests deeper than {MAX_DEPTH} levels") from error
    _check_parsed(value)
    return value


def _check_parsed(value: Any) -> None:
    """Refuse nesting past MAX_DEPTH, and forbidden characters in any string or key (iteratively)."""
    pending: list[tuple[str, int, Any]] = [("", 0, value)]
    while pending:
        path, depth, node = pending.pop()
        if isinstance(node, dict | list) and depth >= MAX_DEPTH:
            raise BodyRefused(422, f"the body nests deeper than {MAX_DEPTH} levels", path)
        if isinstance(node, str):
            _check_text(node, path)
        elif isinstance(node, dict):
            for key, child in node.items():
                _check_text(key, f"{path} (a key)" if path else "(a key)")
                pending.append((f"{path}.{key}" if path else key, depth + 1, child))
        elif isinstance(node, list):
            pending.extend((f"{path}[{index}]", depth + 1, child) for index, child in enumerate(node))


def _check_text(text: str, where: str) -> None:
    bad = FORBIDDEN.search(text)
    if bad is None:
        return
    code = f"U+{ord(bad.group()):04X}"
    if "\ud800" <= bad.group() <= "\udfff":
        detail = f"text may not contain a lone surrogate ({code}): half of a UTF-16 pair, not a character"
    else:
        detail = f"text may not contain control characters ({code}); only tab and line breaks are allowed"
    raise BodyRefused(422, detail, where)


def _number_literal(literal: str) -> None:
    if len(literal) > MAX_NUMBER_CHARACTERS:
        raise BodyRefused(422, f"a number in the body has more than {MAX_NUMBER_CHARACTERS} characters")


def _integer(literal: str) -> int:
    _number_literal(literal)
    return int(literal)


def _decimal(literal: str) -> float:
    _number_literal(literal)
    value = float(literal)
    if value in (float("inf"), float("-inf")):
        raise BodyRefused(422, "a number in the body is too large")
    return value


def _constant(name: str) -> Any:
    raise BodyRefused(400, f"the body is not valid JSON: {name} is not a JSON value")


def install_strict_json_bodies(app: Flask) -> None:
    """Refuse, before any view runs, a JSON request body that parse_json_body refuses."""

    @app.before_request
    def refuse_hostile_json() -> None:
        if not is_json(request.mimetype):
            return
        raw = request.get_data(cache=True)
        if not raw:
            return  # no body: the view's schema says what is missing
        try:
            request.environ[PARSED_BODY] = parse_json_body(raw)
        except BodyRefused as refused:
            field = refused.where or "(body)"
            detail = f"{refused.where}: {refused.detail}" if refused.where else refused.detail
            errors = {"json": {field: [refused.detail]}}
            raise ApiProblem(refused.status, "validation", detail, errors=errors) from refused


class StrictJsonParser(FlaskParser):
    """webargs' Flask parser, reading the body the strict check above has already parsed.

    The strict parse gives the same values json.loads would (it refuses more, never reads differently),
    so parsing the body a second time for the schema would be work for nothing."""

    def _raw_load_json(self, req: Any) -> Any:
        if PARSED_BODY in req.environ:
            return req.environ[PARSED_BODY]
        return super()._raw_load_json(req)
