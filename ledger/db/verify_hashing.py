"""Content hashes recomputed from rows for `audit verify`: on the server in SQL, and exactly in Python.

On PostgreSQL the server writes each transaction's canonical form (ledger.journal.canonical_json of its
header and postings), hashes it with sha256() and compares it with the stored hash, so the worker only
receives what the server vouched for. A transaction the server does not vouch for (a mismatch, a string
json.dumps would escape, several units) is hashed again here from its rows by the same encoder
json.dumps uses; only that exact check calls a transaction bad, so a difference between the two
encoders costs time but never blames a sound transaction. tests/integration/test_verify_hashing.py
holds the server's form to ledger.journal's (a differential test).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from collections.abc import Sequence
from json.encoder import encode_basestring  # what json.dumps(ensure_ascii=False) uses for every str
from typing import Any

from ledger.clock import rfc3339
from ledger.journal import canonical_json, unbalanced_units

HEADER_COLUMNS = (
    "t.id, t.kind, t.occurred_at::text, t.recorded_at::text, t.actor, t.idempotency_key, t.outlet_id, "
    "t.scheme_id, t.rule_version, t.reverses_id, t.metadata_json, t.content_hash"
)
RECORDED_AT = 3  # index of recorded_at in a HEADER_COLUMNS row
STORED_HASH = 11  # index of content_hash in a HEADER_COLUMNS row

_INSTANT = """to_char({}, 'YYYY-MM-DD"T"HH24:MI:SS.US')"""  # ledger.clock.rfc3339 without its Z (UTC)
# A string json.dumps would escape: a quote, a backslash or a control character (text holds no NUL).
_ESCAPED = r"""'["\\\x01-\x1f]'"""
# ledger.journal.canonical_json({"header": ..., "postings": [...]}) of `t` with its postings' text `l.lines`,
# in a UTC session: keys in sorted order, strings in plain quotes, built by one concat() (no escaping
# needed: VOUCHED vouches only for strings without a character json.dumps escapes).
CANONICAL_FORM = (
    """concat('{"header":{"actor":"', t.actor, '","id":"', t.id,"""
    """ '","idempotency_key":', coalesce('"' || t.idempotency_key || '"', 'null'),"""
    """ ',"kind":"', t.kind, '","metadata":', t.metadata_json,"""
    f""" ',"occurred_at":"', {_INSTANT.format("t.occurred_at")},"""
    """ 'Z","outlet_id":', coalesce('"' || t.outlet_id || '"', 'null'),"""
    f""" ',"recorded_at":"', {_INSTANT.format("t.recorded_at")},"""
    """ 'Z","reverses_id":', coalesce('"' || t.reverses_id || '"', 'null'),"""
    """ ',"rule_version":', coalesce(t.rule_version::text, 'null'),"""
    """ ',"scheme_id":', coalesce('"' || t.scheme_id || '"', 'null'),"""
    """ '},"postings":[', l.lines, ']}')"""
)
_HEADER_STRINGS = "concat(t.actor, t.id, t.idempotency_key, t.kind, t.outlet_id, t.reverses_id, t.scheme_id)"
# Vouched for: no string needs escaping, the canonical form hashes to the stored hash, and the postings,
# all in one unit, sum to zero. Anything else (NULL too, e.g. a transaction left without postings) is
# checked exactly in Python.
VOUCHED = (
    f"(NOT l.escaped AND {_HEADER_STRINGS} !~ {_ESCAPED} "
    f"AND encode(sha256(convert_to({CANONICAL_FORM}, 'UTF8')), 'hex') = t.content_hash "
    "AND l.total = 0 AND l.low_unit = l.high_unit AND l.first_line = 0 AND l.last_line = l.n - 1)"
)
# The postings of a transaction, aggregated from `q` (a subquery sorted by line, which PostgreSQL
# aggregates in that order, without a sort per transaction): their JSON text, whether a string in them
# needs escaping, their sum, their units, and their lines, which VOUCHED wants to be exactly 0..n-1.
POSTING_LINES = (
    """string_agg(concat('["', q.account_id, '","', q.unit, '",', q.amount_minor, ']'), ',') AS lines, """
    f"bool_or(concat(q.account_id, q.unit) ~ {_ESCAPED}) AS escaped, sum(q.amount_minor) AS total, "
    'min(q.unit COLLATE "C") AS low_unit, max(q.unit COLLATE "C") AS high_unit, '
    "count(*) AS n, min(q.line) AS first_line, max(q.line) AS last_line"
)
# What the server vouched for embeds the stored metadata text as it is: the worker still checks that
# text is canonical (what ledger.journal would have written) before it takes the server's word.
_METADATA = "CASE WHEN t.metadata_json <> '{}' THEN t.metadata_json END AS metadata"
# The sealed transactions at positions [start, end): one row of aggregates, leaves in position order (the
# caller checks the positions come back increasing), the positions the server did not vouch for, and
# the positions and metadata of those it vouched for that carry metadata.
_IN_RANGE = "s.position >= %(start)s AND s.position < %(end)s"
SEALED_PART = f"""
WITH lines AS (
  SELECT q.position, {POSTING_LINES} FROM (
    SELECT s.position, p.line, p.account_id, p.unit, p.amount_minor
    FROM seals s JOIN postings p ON p.transaction_id = s.transaction_id
    WHERE {_IN_RANGE} ORDER BY s.position, p.line
  ) q GROUP BY q.position
)
SELECT count(*), string_agg(int8send(x.position), ''),
  string_agg(coalesce(x.leaf, decode(repeat('00', 32), 'hex')), ''),
  coalesce(array_agg(x.position) FILTER (WHERE x.leaf IS NULL), '{{}}'),
  coalesce(array_agg(x.position) FILTER (WHERE x.leaf IS NOT NULL AND x.metadata IS NOT NULL), '{{}}'),
  coalesce(array_agg(x.metadata) FILTER (WHERE x.leaf IS NOT NULL AND x.metadata IS NOT NULL), '{{}}')
FROM (
  SELECT s.position, {_METADATA},
    CASE WHEN {VOUCHED} THEN sha256('\\x00'::bytea || decode(t.content_hash, 'hex')) END AS leaf
  FROM seals s JOIN transactions t ON t.id = s.transaction_id LEFT JOIN lines l ON l.position = s.position
  WHERE {_IN_RANGE} ORDER BY s.position
) x
"""
# Transactions not sealed yet, with a seal key in [low, high) and an id hashing to `part` (of mask + 1
# parts): few as a rule, so each one's postings are read by key. Returns how many there are, the ids
# the server did not vouch for, and the ids and metadata of those it vouched for that carry metadata.
UNSEALED_PART = f"""
SELECT count(*), coalesce(array_agg(x.id) FILTER (WHERE NOT x.vouched), '{{}}'),
  coalesce(array_agg(x.id) FILTER (WHERE x.vouched AND x.metadata IS NOT NULL), '{{}}'),
  coalesce(array_agg(x.metadata) FILTER (WHERE x.vouched AND x.metadata IS NOT NULL), '{{}}')
FROM (
  SELECT t.id, {_METADATA}, coalesce({VOUCHED}, false) AS vouched
  FROM transactions t LEFT JOIN LATERAL (
    SELECT {POSTING_LINES} FROM (
      SELECT p.line, p.account_id, p.unit, p.amount_minor FROM postings p
      WHERE p.transaction_id = t.id ORDER BY p.line
    ) q
  ) l ON true
  WHERE t.seal_key >= %(low)s AND t.seal_key < %(high)s AND (hashtext(t.id) & %(mask)s) = %(part)s
    AND NOT EXISTS (SELECT 1 FROM seals s WHERE s.transaction_id = t.id)
) x
"""


def canonical_metadata(metadata_json: str) -> bool:
    """True when stored metadata text is exactly the canonical JSON ledger.journal writes for it."""
    try:
        return canonical_json(json.loads(metadata_json)).decode() == metadata_json
    except ValueError:
        return False


# Characters json.dumps escapes in a str (with ensure_ascii=False); text without them is quoted as is.
_NEEDS_ESCAPE = re.compile(r'["\\\x00-\x1f]')


def _text(value: Any) -> str:
    assert value is None or isinstance(value, str)
    return "null" if value is None else encode_basestring(value)


def canonical_transaction(
    header: Sequence[Any], metadata_json: str, lines: Sequence[tuple[str, str, int]]
) -> bytes:
    """ledger.journal.canonical_json({"header": ..., "postings": ...}) from plain column values, fast.

    `header` is (id, kind, occurred_at, recorded_at, actor, idempotency_key, outlet_id, scheme_id,
    rule_version, reverses_id) with both timestamps already as ledger.clock.rfc3339 text, and
    `metadata_json` is the canonical JSON of the metadata. Keys are written in sorted order, strings
    escaped by the same function json.dumps uses, integers as int.__repr__: byte for byte the same.
    """
    id_, kind, occurred, recorded, actor, key, outlet, scheme, version, reverses = header
    assert isinstance(version, int | None) and not isinstance(version, bool)
    postings = ",".join(f"[{encode_basestring(a)},{encode_basestring(u)},{int(m)!r}]" for a, u, m in lines)
    return (
        f'{{"header":{{"actor":{_text(actor)},"id":{_text(id_)},"idempotency_key":{_text(key)},'
        f'"kind":{_text(kind)},"metadata":{metadata_json},"occurred_at":{_text(occurred)},'
        f'"outlet_id":{_text(outlet)},"recorded_at":{_text(recorded)},"reverses_id":{_text(reverses)},'
        f'"rule_version":{"null" if version is None else repr(version)},"scheme_id":{_text(scheme)}}},'
        f'"postings":[{postings}]}}'
    ).encode()


def stamp(value: str, cache: dict[str, str]) -> str:
    """PostgreSQL's UTC timestamptz text ('2026-11-01 09:00:00.5+00') as ledger.clock.rfc3339 text."""
    found = cache.get(value)
    if found is None:
        at = dt.datetime.fromisoformat(value.replace(" ", "T") + ":00")
        found = cache[value] = rfc3339(at)
    return found


def row_hash(row: Sequence[Any], lines: Sequence[tuple[str, str, int]], stamps: dict[str, str]) -> bytes:
    """The content hash of a HEADER_COLUMNS row and its (account, unit, amount) postings in line order."""
    id_, kind, occurred, recorded, actor, key, outlet, scheme, version, reverses, metadata = row[:11]
    strings = [v for v in (id_, kind, actor, key, outlet, scheme, reverses) if v is not None]
    strings.extend(a + u for a, u, _ in lines)
    if metadata != "{}" or _NEEDS_ESCAPE.search("".join(strings)) is not None:
        metadata = canonical_json(json.loads(metadata)).decode()
        header = (id_, kind, stamp(occurred, stamps), stamp(recorded, stamps), actor, key, outlet, scheme)
        return hashlib.sha256(canonical_transaction((*header, version, reverses), metadata, lines)).digest()

    def q(value: str | None) -> str:
        """A plain string value as JSON (or null)."""
        return "null" if value is None else f'"{value}"'

    postings = ",".join(f'["{a}","{u}",{m!r}]' for a, u, m in lines)
    canonical_text = (
        f'{{"header":{{"actor":"{actor}","id":"{id_}","idempotency_key":{q(key)},"kind":"{kind}",'
        f'"metadata":{{}},"occurred_at":"{stamp(occurred, stamps)}","outlet_id":{q(outlet)},'
        f'"recorded_at":"{stamp(recorded, stamps)}","reverses_id":{q(reverses)},'
        f'"rule_version":{"null" if version is None else repr(version)},"scheme_id":{q(scheme)}}},'
        f'"postings":[{postings}]}}'
    )
    return hashlib.sha256(canonical_text.encode()).digest()


def row_problem(
    row: Sequence[Any], lines: Sequence[tuple[str, str, int]], stamps: dict[str, str]
) -> str | None:
    """What is wrong with a HEADER_COLUMNS row and its postings in line order, exactly; None if sound."""
    if row_hash(row, lines, stamps).hex() != row[STORED_HASH]:
        return "content hash does not match"
    if unbalanced_units((unit, amount_minor) for _, unit, amount_minor in lines):
        return "postings do not sum to zero per unit"
    return None
