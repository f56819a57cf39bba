"""Hostile values in every field of every write the OpenAPI document lists: a 4xx problem, never a 5xx,
and the database exactly as it was. Also every query parameter that takes an instant.

The walk reads the document, not a list kept here, so a write added later is walked too. Each write is
called with a key of a role its "Roles: …" line allows, in the world of tests/integration/hostile_world.py,
with a body it would accept (or, for a write not known there, a guess from its schema) in which one field
at a time is replaced by a hostile value.
"""

from __future__ import annotations

import copy
import itertools
import json
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest

from api.problems import PROBLEM_BASE, PROBLEM_CONTENT_TYPE
from tests.integration.hostile_world import KNOWN_WRITES, Walk, resolve, types_of, walk

__all__ = ["walk"]

HUGE_DIGITS = "9" * 5001
# Every one is refused wherever a JSON string may appear: values and keys.
HOSTILE_TEXT = ["\udcff", "\ud83d", "\u0000", "before\u0000after", "\u001b[2J", "\u007f", "\u009b"]
# Raw JSON number literals, spliced into the serialised body (Python cannot even print the integers).
HOSTILE_NUMBERS = [HUGE_DIGITS, "-" + HUGE_DIGITS, "1" * 5001 + ".5", "1e400"]
# Valid RFC 3339 text, but no instant: in UTC they fall outside the years 1 to 9999.
EDGE_INSTANTS = ["9999-12-31T23:59:59-14:00", "0001-01-01T00:00:00+14:00", "9999-12-31T23:00:00-01:00"]
HOSTILE_BODIES: list[bytes] = [
    b"[" * 100_000,
    b"[" * 100_000 + b"]" * 100_000,
    b'{"a":' * 100_000 + b"1" + b"}" * 100_000,
    b'"\\udcff"',
    b'{"\\u0000": 1}',
    b'{"\\udcff": "x"}',
    HUGE_DIGITS.encode(),
    b"NaN",
    b'{"amount_minor": Infinity}',
    b"\xff\xfe{}",
]
WRITE_METHODS = {"post", "patch", "put", "delete"}
SLOT = "\u2603slot\u2603"  # replaced by raw JSON text (a number, a key) after serialising
ANY_KEY = object()  # a step into an object whose keys are free (additionalProperties)


def fields_of(
    schema: dict[str, Any], document: dict[str, Any], path: tuple[Any, ...] = ()
) -> Iterator[tuple[tuple[Any, ...], dict[str, Any]]]:
    """Every leaf field of a request body schema (objects entered, arrays at index 0), and every object."""
    schema = resolve(schema, document)
    assert len(path) < 16, f"request schema nested implausibly deep at {path}"
    if "object" in types_of(schema) or "properties" in schema:
        yield path, schema
        for name, child in schema.get("properties", {}).items():
            yield from fields_of(child, document, (*path, name))
        if isinstance(schema.get("additionalProperties"), dict):
            yield from fields_of(schema["additionalProperties"], document, (*path, ANY_KEY))
    elif "array" in types_of(schema):
        yield from fields_of(schema.get("items", {}), document, (*path, 0))
    else:
        yield path, schema


def _child(node: Any, step: Any, following: Any) -> Any:
    empty: Any = [] if following == 0 else {}
    if step == 0:
        if not node or not isinstance(node[0], type(empty)):
            node[:1] = [empty]
        return node[0]
    key = next(iter(node), "walked") if step is ANY_KEY else step
    if not isinstance(node.get(key), type(empty)):
        node[key] = empty
    return node[key]


def put(body: Any, path: tuple[Any, ...], value: Any) -> Any:
    """A copy of the body with `value` at `path`, creating the objects and lists on the way."""
    body = copy.deepcopy(body)
    node = body
    for step, following in itertools.pairwise(path):
        node = _child(node, step, following)
    last = path[-1]
    if last == 0:
        node[:1] = [value]
    else:
        node[next(iter(node), "walked") if last is ANY_KEY else last] = value
    return body


def render(body: Any, raw: str | None = None) -> bytes:
    """The body as JSON with escapes (a lone surrogate goes as \\udcff), with `raw` spliced in at the slot."""
    text = json.dumps(body, ensure_ascii=True)
    if raw is not None:
        text = text.replace(json.dumps(SLOT), raw)
    return text.encode()


def hostile_bodies(body: Any, path: tuple[Any, ...], schema: dict[str, Any]) -> Iterator[tuple[str, bytes]]:
    """(what was sent, raw body) for each hostile value in one field, or as a hostile key of one object."""
    where = ".".join("*" if step is ANY_KEY else str(step) for step in path) or "(body)"
    if "object" in types_of(schema) or "properties" in schema:
        for text in HOSTILE_TEXT:
            yield f"key {text!r} in {where}", render(put(body, (*path, SLOT), 1), json.dumps(text))
        return
    for text in HOSTILE_TEXT:
        yield f"{where} = {text!r}", render(put(body, path, text))
    for number in HOSTILE_NUMBERS:
        yield f"{where} = {number[:12]}… ({len(number)} characters)", render(put(body, path, SLOT), number)
    if schema.get("format") in {"date-time", "date"}:
        for instant in EDGE_INSTANTS:
            yield f"{where} = {instant!r}", render(put(body, path, instant))


def writes(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    """(METHOD, path template, operation) for every write in the OpenAPI document."""
    return [
        (method.upper(), path, operation)
        for path, operations in document["paths"].items()
        for method, operation in operations.items()
        if method in WRITE_METHODS
    ]


def _refusal(response: Any, what: str, statuses: set[int]) -> str | None:
    body = response.get_data(as_text=True)[:300]
    if response.status_code not in statuses:
        return f"{what}: {response.status_code} {body}"
    if response.content_type != PROBLEM_CONTENT_TYPE:
        return f"{what}: {response.content_type} {body}"
    if statuses <= {400, 422} and response.get_json()["type"] != PROBLEM_BASE + "validation":
        return f"{what}: {body}"
    return None


def _document(walk: Walk) -> dict[str, Any]:
    document = walk.world.client.get("/api/openapi.json").get_json()
    assert document["paths"], "the test app serves its OpenAPI document"
    return dict(document)


def _body_schema(operation: dict[str, Any]) -> dict[str, Any] | None:
    content = operation.get("requestBody", {}).get("content", {})
    schema = content.get("application/json", {}).get("schema")
    return None if schema is None else dict(schema)


def _send(walk: Walk, method: str, template: str, operation: dict[str, Any], url: str, raw: bytes) -> Any:
    headers = walk.headers(method, template, operation)
    return walk.world.client.open(
        url, method=method, data=raw, content_type="application/json", headers=headers
    )


def _cases(
    walk: Walk, method: str, template: str, operation: dict[str, Any], document: dict[str, Any]
) -> Iterator[tuple[str, bytes]]:
    for raw in HOSTILE_BODIES:
        yield f"the whole body {raw[:12]!r}… ({len(raw)} bytes)", raw
    schema = _body_schema(operation)
    if schema is not None:
        body = walk.baseline(method, template, schema, document)
        for path, field in fields_of(schema, document):
            yield from hostile_bodies(body, path, field)


def test_every_field_of_every_write_refuses_hostile_values_and_changes_nothing(walk: Walk) -> None:
    document = _document(walk)
    operations = writes(document)
    assert {(method, path) for method, path, _ in operations} >= set(KNOWN_WRITES)
    before = walk.snapshot()
    failures: list[str] = []
    sent = 0
    for method, template, operation in operations:
        url = walk.url(template)
        for what, raw in _cases(walk, method, template, operation, document):
            response = _send(walk, method, template, operation, url, raw)
            sent += 1
            failure = _refusal(response, f"{method} {template}: {what}", {400, 422})
            failures += [failure] if failure else []
        after = walk.snapshot()
        if after != before:
            changed = sorted(name for name in after if after[name] != before.get(name))
            failures.append(f"{method} {template}: hostile input changed {', '.join(changed)}")
            before = after
    assert sent > 1000, f"the walk sent only {sent} requests"
    assert not failures, "\n".join(failures[:60]) + f"\n({len(failures)} of {sent} requests failed)"


PATH_HOSTILES = ["%00", "%ED%B3%BF", HUGE_DIGITS, "%1B%5B2J"]


def test_hostile_path_parameters_on_every_write_are_refused_and_change_nothing(walk: Walk) -> None:
    document = _document(walk)
    before = walk.snapshot()
    failures: list[str] = []
    for method, template, operation in writes(document):
        schema = _body_schema(operation)
        body = b"" if schema is None else render(walk.baseline(method, template, schema, document))
        for parameter in re.finditer(r"\{[^}]+\}", template):
            for hostile in PATH_HOSTILES:
                url = walk.url(template[: parameter.start()] + hostile + template[parameter.end() :])
                response = _send(walk, method, template, operation, url, body)
                what = f"{method} {template}: {parameter.group()} = {hostile[:12]!r}"
                failure = _refusal(response, what, set(range(400, 500)))
                failures += [failure] if failure else []
    assert walk.snapshot() == before, "a hostile path parameter changed the database"
    assert not failures, "\n".join(failures[:60])


def _instant_queries(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (path, parameter["name"], operation)
        for path, operations in document["paths"].items()
        for method, operation in operations.items()
        if method == "get"
        for parameter in operation.get("parameters", [])
        if parameter.get("in") == "query" and parameter.get("schema", {}).get("format") == "date-time"
    ]


def _get(walk: Walk, template: str, operation: dict[str, Any], name: str, encoded: str) -> Any:
    headers = walk.headers("GET", template, operation)
    return walk.world.client.get(f"{walk.url(template)}?{name}={encoded}", headers=headers)


# Already percent-encoded: NUL, a lone surrogate's UTF-8 form (not UTF-8 at all), ESC, DEL, a C1 control.
QUERY_HOSTILES = ["%00", "%ED%B3%BF", "%1B", "%7F", "%C2%9B", HUGE_DIGITS]
NOT_INSTANTS = [*EDGE_INSTANTS, "2026-11-04 10:00", "2026-11-04T10:00:00", "2026-11-04"]
UTC_EDGES = ["0001-01-01T00:00:00Z", "9999-12-31T23:59:59.999999Z", "2026-11-04T10:00:00+14:00"]


def test_every_query_parameter_taking_an_instant_refuses_instants_outside_the_calendar(walk: Walk) -> None:
    queries = _instant_queries(_document(walk))
    named = {(path, name) for path, name, _ in queries}
    assert named >= {
        ("/api/v1/audit/trial-balance", "at"),
        ("/api/v1/accounts/{account_id}", "at"),
        ("/api/v1/audit/journal", "from"),
        ("/api/v1/audit/journal", "to"),
    }
    failures: list[str] = []
    for path, name, operation in queries:
        for encoded in [*(quote(value, safe="") for value in NOT_INSTANTS), *QUERY_HOSTILES]:
            response = _get(walk, path, operation, name, encoded)
            failure = _refusal(response, f"GET {path}?{name}={encoded[:30]}", {422})
            failures += [failure] if failure else []
        for value in UTC_EDGES:
            response = _get(walk, path, operation, name, quote(value, safe=""))
            if response.status_code != 200:
                answer = response.get_data(as_text=True)[:300]
                failures.append(f"GET {path}?{name}={value}: {response.status_code} {answer}")
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize(("method", "template"), KNOWN_WRITES, ids=[f"{m} {t}" for m, t in KNOWN_WRITES])
def test_the_walks_valid_bodies_are_accepted_so_each_hostile_value_is_the_only_fault(
    walk: Walk, method: str, template: str
) -> None:
    document = _document(walk)
    operation = document["paths"][template][method.lower()]
    body = render(walk.baseline(method, template, _body_schema(operation) or {}, document))
    response = _send(walk, method, template, operation, walk.url(template), body)
    assert 200 <= response.status_code < 300, response.get_data(as_text=True)
    job_id = (response.get_json() or {}).get("job_id")
    if job_id:  # a bulk issuance: let its job finish before the database goes
        walk.world.wait_for_job(job_id, walk.secrets["scheme_manager"])
