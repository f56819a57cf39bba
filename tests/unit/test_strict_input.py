"""The two strict readers every request goes through: JSON bodies (api.json_body) and instants
(ledger.clock.parse_rfc3339). Hostile input becomes a refusal that says what is wrong, never a crash."""

from __future__ import annotations

import datetime as dt

import pytest

from api.json_body import MAX_DEPTH, BodyRefused, parse_json_body
from ledger.clock import parse_rfc3339, rfc3339
from ledger.errors import ValidationFailed
from ledger.usecases.common import fingerprint_of


@pytest.mark.parametrize(
    ("raw", "status", "says"),
    [
        (b"[" * 100_000, 422, "nests deeper"),
        (b"[" * (MAX_DEPTH + 1) + b"]" * (MAX_DEPTH + 1), 422, "nests deeper"),
        (b'{"a":' * 500 + b"1" + b"}" * 500, 422, "nests deeper"),
        (b'{"amount_minor": ' + b"9" * 5001 + b"}", 422, "more than 40 characters"),
        (b'{"amount_minor": -' + b"9" * 5001 + b"}", 422, "more than 40 characters"),
        (b'{"amount_minor": 1e400}', 422, "too large"),
        (b'{"amount_minor": NaN}', 400, "NaN is not a JSON value"),
        (b'{"amount_minor": -Infinity}', 400, "-Infinity is not a JSON value"),
        (b'{"reason": "\\udcff"}', 422, "lone surrogate (U+DCFF)"),
        (b'{"reason": "\\ud83d"}', 422, "lone surrogate (U+D83D)"),
        (b'{"reason": "a\\u0000b"}', 422, "control characters (U+0000)"),
        (b'{"rules": {"earning": {"\\u0000": {}}}}', 422, "control characters (U+0000)"),
        (b'{"note": "\\u001b[2J"}', 422, "control characters (U+001B)"),
        (b'{"note": "\\u007f"}', 422, "control characters (U+007F)"),
        (b'{"note": "\\u009b"}', 422, "control characters (U+009B)"),
        (b'{"note": "raw \x01 control"}', 400, "Invalid control character"),
        (b"\xff\xfe{}", 400, "not UTF-8"),
        (b"{", 400, "not valid JSON"),
    ],
)
def test_a_hostile_body_is_refused_with_the_reason(raw: bytes, status: int, says: str) -> None:
    with pytest.raises(BodyRefused) as refused:
        parse_json_body(raw)
    assert refused.value.status == status
    assert says in refused.value.detail


def test_a_refusal_names_where_in_the_body_the_bad_text_is() -> None:
    with pytest.raises(BodyRefused) as refused:
        parse_json_body(b'{"rules": {"spending": {"outlet_categories": ["pool", "gym\\u0000"]}}}')
    assert refused.value.where == "rules.spending.outlet_categories[1]"
    with pytest.raises(BodyRefused) as key:
        parse_json_body(b'{"rules": {"earning": {"\\udcff": {}}}}')
    assert key.value.where == "rules.earning (a key)"


def test_ordinary_bodies_parse_as_the_standard_library_would() -> None:
    raw = '{"reason": "line one\\nline two\\ttabbed\\r\\n", "amount_minor": 1250, '
    raw += '"who": "Zoë 😀 \\ud83d\\ude00"}'
    assert parse_json_body(raw.encode()) == {
        "reason": "line one\nline two\ttabbed\r\n",
        "amount_minor": 1250,
        "who": "Zoë 😀 😀",
    }
    nested = b"[" * MAX_DEPTH + b"]" * MAX_DEPTH
    assert parse_json_body(nested) is not None
    assert parse_json_body(b'{"amount_minor": ' + b"9" * 40 + b"}") == {"amount_minor": 10**40 - 1}


@pytest.mark.parametrize(
    "text",
    [
        "9999-12-31T23:59:59-14:00",
        "0001-01-01T00:00:00+14:00",
        "0001-01-01T00:00:00+00:01",
        "2026-02-30T00:00:00Z",
        "2026-11-01T23:59:60Z",
        "0000-01-01T00:00:00Z",
        "2026-11-01T09:00:00",
        "2026-11-01 09:00:00Z",
        "2026-11-01",
        "20261101T090000Z",
        "2026-11-01T09:00:00.1234567Z",
        "2026-11-01T09:00:00Z\u0000",
        "\udcff",
        "9" * 5001,
        "yesterday",
    ],
)
def test_anything_that_is_not_an_instant_in_rfc_3339_is_a_validation_failure(text: str) -> None:
    with pytest.raises(ValidationFailed):
        parse_rfc3339(text)


@pytest.mark.parametrize(
    ("text", "instant"),
    [
        ("2026-11-01T09:00:00Z", dt.datetime(2026, 11, 1, 9, tzinfo=dt.UTC)),
        ("2026-11-01t09:00:00.5z", dt.datetime(2026, 11, 1, 9, 0, 0, 500_000, tzinfo=dt.UTC)),
        ("2026-11-01T10:00:00+01:00", dt.datetime(2026, 11, 1, 9, tzinfo=dt.UTC)),
        ("0001-01-01T00:00:00Z", dt.datetime.min.replace(tzinfo=dt.UTC)),
        ("9999-12-31T23:59:59.999999Z", dt.datetime.max.replace(tzinfo=dt.UTC)),
        ("9999-12-31T23:59:59+14:00", dt.datetime(9999, 12, 31, 9, 59, 59, tzinfo=dt.UTC)),
    ],
)
def test_an_instant_with_an_offset_is_read_as_utc(text: str, instant: dt.datetime) -> None:
    assert parse_rfc3339(text) == instant


@pytest.mark.parametrize("instant", [dt.datetime.min, dt.datetime.max, dt.datetime(2026, 11, 1, 9, 30)])
def test_every_instant_formats_as_rfc_3339_and_reads_back(instant: dt.datetime) -> None:
    text = rfc3339(instant.replace(tzinfo=dt.UTC))
    assert len(text) == len("2026-11-01T09:00:00.000000Z")
    assert parse_rfc3339(text) == instant.replace(tzinfo=dt.UTC)


def test_a_lone_surrogate_reaching_a_fingerprint_is_a_validation_failure() -> None:
    with pytest.raises(ValidationFailed):
        fingerprint_of({"op": "refund", "reason": "\udcff"})
    assert fingerprint_of({"op": "refund", "reason": "ok"}) == fingerprint_of(
        {"reason": "ok", "op": "refund"}
    )
