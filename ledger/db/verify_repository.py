"""Fast reads for `audit verify`: canonical bytes built straight from rows, hashed in parallel workers.

On PostgreSQL the work is split into independent tasks run by a process pool, every task reading the
same exported snapshot: content-hash tasks (transactions and postings partitioned by a hash of the
transaction id, joined in the worker) and Merkle tasks (stored content hashes in seal order, one
aligned block of seal positions each, returning the block's leaf hashes and perfect-subtree root).
Rows come out of COPY ... TO STDOUT and are parsed as bytes, never as Python objects per column.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import multiprocessing
import os
import re
from collections.abc import Iterator, Sequence
from json.encoder import encode_basestring  # what json.dumps(ensure_ascii=False) uses for every str
from typing import Any

from sqlalchemy import Connection, text

from ledger.clock import rfc3339
from ledger.journal import canonical_json
from ledger.merkle import leaf_hash, root_hash
from ledger.records import CheckpointRecord

BLOCK_LEAVES = 1 << 16  # Merkle tasks cover aligned blocks of this many seal positions
ROWS_PER_PARTITION = 250_000  # content-hash tasks hold about this many transactions in memory
INLINE_BELOW = 50_000  # fewer transactions than this: run the tasks in this process, one by one
HEADER_COLUMNS = (
    "id, kind, occurred_at, recorded_at, actor, idempotency_key, outlet_id, scheme_id, rule_version, "
    "reverses_id, metadata_json, content_hash"
)
# A raw COPY text line whose values need no escaping in JSON: no quote, no control character other
# than the tab between columns, and no backslash except in a NULL (\N) column.
_NEEDS_CARE = re.compile(rb'["\x00-\x08\x0a-\x1f]|\\(?!N(?:\t|$))')
_NULL = b"\\N"
_COPY_ESCAPES = {b"b": b"\b", b"f": b"\f", b"n": b"\n", b"r": b"\r", b"t": b"\t", b"v": b"\v"}


def _text(value: str | None) -> str:
    return "null" if value is None else encode_basestring(value)


def canonical_transaction(
    header: Sequence[str | int | None], metadata_json: str, lines: Sequence[tuple[str, str, int]]
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


@dataclasses.dataclass(frozen=True)
class HashTaskResult:
    """What one content-hash task found: how many it checked and its first bad (recorded_at, id)."""

    checked: int
    first_bad: tuple[str, str] | None


@dataclasses.dataclass(frozen=True)
class BlockResult:
    """One block of seal positions: its leaf hashes (32 bytes each), root if full, ids at asked positions."""

    start: int
    leaves: bytes
    root: bytes | None
    ids: dict[int, str]
    gap_at: int | None


@dataclasses.dataclass(frozen=True)
class Overview:
    """The exported snapshot and what verification reads up front in it."""

    snapshot: str
    transactions: int
    seals: int
    sealed_positions: int  # highest seal position + 1: equals `seals` unless positions have a gap
    checkpoints: list[CheckpointRecord]


class VerifyRepository:
    """Streams what verification needs on one connection (and on worker connections on PostgreSQL)."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self.dialect = connection.dialect.name

    @property
    def parallel(self) -> bool:
        """True when the work can be spread over worker processes (PostgreSQL)."""
        return self.dialect == "postgresql"

    def begin(self) -> Overview:
        """Export this transaction's snapshot, and read counts and checkpoints in that very snapshot."""
        # One statement: in READ COMMITTED too, every part of it sees the snapshot that is exported.
        row = self.connection.execute(
            text(
                "SELECT pg_export_snapshot(), (SELECT count(*) FROM transactions), "
                "(SELECT count(*) FROM seals), (SELECT coalesce(max(position) + 1, 0) FROM seals), "
                "(SELECT coalesce(json_agg(json_build_array(tree_size, root_hash, "
                "to_char(signed_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US'), key_id, "
                "public_key, signature, frontier_json) ORDER BY tree_size), '[]')::text FROM checkpoints)"
            )
        ).one()
        checkpoints = [
            CheckpointRecord(
                int(size), root, dt.datetime.fromisoformat(at).replace(tzinfo=dt.UTC), key_id, public_key,
                signature, tuple(json.loads(frontier)),
            )
            for size, root, at, key_id, public_key, signature, frontier in json.loads(row[4])
        ]  # fmt: skip
        return Overview(str(row[0]), int(row[1]), int(row[2]), int(row[3]), checkpoints)

    def run_parallel(
        self, overview: Overview, wanted: set[int], workers: int | None = None
    ) -> Iterator[HashTaskResult | BlockResult]:
        """Run every task on a process pool over the overview's snapshot; results as they finish."""
        snapshot, transactions, sealed = overview.snapshot, overview.transactions, overview.sealed_positions
        url = self.connection.engine.url.set(drivername="postgresql")
        conninfo = url.render_as_string(hide_password=False)
        partitions = 1
        while partitions * ROWS_PER_PARTITION < transactions:
            partitions *= 2
        tasks: list[tuple[Any, ...]] = [
            ("hash", conninfo, snapshot, partitions, k) for k in range(partitions)
        ]
        for start in range(0, sealed, BLOCK_LEAVES):
            end = min(start + BLOCK_LEAVES, sealed)
            asked = sorted(p for p in wanted if start <= p < end)
            tasks.append(("block", conninfo, snapshot, start, end, asked))
        if workers is None and transactions < INLINE_BELOW:
            yield from map(_run_task, tasks)  # small ledgers: starting processes would cost more
            return
        count = workers or min(len(tasks), os.cpu_count() or 2)
        with multiprocessing.get_context("fork").Pool(count) as pool:
            yield from pool.imap_unordered(_run_task, tasks)


def _run_task(task: tuple[Any, ...]) -> HashTaskResult | BlockResult:
    """Worker entry point: open a connection on the shared snapshot and run one task."""
    import psycopg  # only the worker needs the driver directly

    kind, conninfo, snapshot, *arguments = task
    with psycopg.connect(conninfo) as connection:
        connection.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        connection.read_only = True
        connection.execute(f"SET TRANSACTION SNAPSHOT '{snapshot}'")
        connection.execute("SET LOCAL TIME ZONE 'UTC'")
        if kind == "hash":
            return _hash_partition(connection, *arguments)
        return _block(connection, *arguments)


def _copy_lines(connection: Any, query: str) -> Iterator[bytes]:
    """The rows of a query as raw COPY text lines (without the newline)."""
    rest = b""
    with connection.cursor() as cursor, cursor.copy(f"COPY ({query}) TO STDOUT") as copy:
        for chunk in copy:
            lines = (rest + bytes(chunk)).split(b"\n")
            rest = lines.pop()
            yield from lines
    assert not rest, "COPY output ends with a newline"


def _hash_partition(connection: Any, partitions: int, k: int) -> HashTaskResult:
    """Recompute the content hash of every transaction whose id hashes into partition k."""
    where = f"(hashtext(%s) & {partitions - 1}) = {k}"
    postings: dict[bytes, list[tuple[int, bytes]]] = {}
    query = f"SELECT transaction_id, line, account_id, unit, amount_minor FROM postings WHERE {where}"
    for line in _copy_lines(connection, query % "transaction_id"):
        transaction_id, number, rest = line.split(b"\t", 2)
        postings.setdefault(transaction_id, []).append((int(number), rest))
    checked = 0
    first_bad: tuple[str, str] | None = None
    stamps: dict[bytes, bytes] = {}
    for line in _copy_lines(connection, f"SELECT {HEADER_COLUMNS} FROM transactions WHERE {where}" % "id"):
        fields = line.split(b"\t")
        lines = [rest for _, rest in sorted(postings.pop(fields[0], ()))]
        checked += 1
        if _NEEDS_CARE.search(line) is None and all(_NEEDS_CARE.search(r) is None for r in lines):
            ok = _fast_check(fields, lines, stamps)
        else:
            ok = _careful_check(fields, lines)
        if not ok:
            bad = (_stamp(fields[3], stamps).decode(), fields[0].decode())
            first_bad = bad if first_bad is None else min(first_bad, bad)
    return HashTaskResult(checked, first_bad)


def _stamp(value: bytes, cache: dict[bytes, bytes]) -> bytes:
    """PostgreSQL's UTC timestamptz text ('2026-11-01 09:00:00.5+00') as ledger.clock.rfc3339 bytes."""
    found = cache.get(value)
    if found is None:
        found = cache[value] = rfc3339(_parse_stamp(value)).encode()
    return found


def _parse_stamp(value: bytes) -> dt.datetime:
    return dt.datetime.fromisoformat(value.decode().replace(" ", "T") + ":00")


def _fast_check(fields: list[bytes], lines: list[bytes], stamps: dict[bytes, bytes]) -> bool:
    """Canonical bytes by concatenation: every value is plain text, so JSON needs only quotes."""
    id_, kind, occurred, recorded, actor, key, outlet, scheme, version, reverses, metadata, stored = fields
    if metadata != b"{}":
        return _careful_check(fields, lines)

    def q(value: bytes) -> bytes:
        return b"null" if value == _NULL else b'"' + value + b'"'

    postings = b",".join(
        b'["' + a + b'","' + u + b'",' + m + b"]" for a, u, m in (r.split(b"\t") for r in lines)
    )
    canonical = (
        b'{"header":{"actor":' + q(actor) + b',"id":' + q(id_) + b',"idempotency_key":' + q(key)
        + b',"kind":' + q(kind) + b',"metadata":{},"occurred_at":"' + _stamp(occurred, stamps)
        + b'","outlet_id":' + q(outlet) + b',"recorded_at":"' + _stamp(recorded, stamps)
        + b'","reverses_id":' + q(reverses) + b',"rule_version":' + (b"null" if version == _NULL else version)
        + b',"scheme_id":' + q(scheme) + b'},"postings":[' + postings + b"]}"
    )  # fmt: skip
    return hashlib.sha256(canonical).hexdigest().encode() == stored


def _careful_check(fields: list[bytes], lines: list[bytes]) -> bool:
    """The general path: unescape COPY text, then the exact canonical form (metadata re-serialised)."""
    values = [_unescape(f) for f in fields]
    id_, kind, occurred, recorded, actor, key, outlet, scheme, version, reverses, metadata, stored = values
    assert id_ is not None and occurred is not None and recorded is not None and metadata is not None
    parsed = [[_unescape(v) for v in r.split(b"\t")] for r in lines]
    header = (id_, kind, rfc3339(_parse_stamp(occurred.encode())), rfc3339(_parse_stamp(recorded.encode())))
    header += (actor, key, outlet, scheme, None if version is None else int(version), reverses)
    postings = [(str(a), str(u), int(str(m))) for a, u, m in parsed]
    canonical = canonical_transaction(header, canonical_json(json.loads(metadata)).decode(), postings)
    return hashlib.sha256(canonical).hexdigest() == stored


def _unescape(value: bytes) -> str | None:
    """One COPY text column as text (None for NULL)."""
    if value == _NULL:
        return None
    if b"\\" not in value:
        return value.decode()
    out, i = bytearray(), 0
    while i < len(value):
        if value[i : i + 1] != b"\\":
            out += value[i : i + 1]
            i += 1
            continue
        nxt = value[i + 1 : i + 2]
        if nxt in _COPY_ESCAPES:
            out += _COPY_ESCAPES[nxt]
            i += 2
        elif nxt.isdigit():  # up to three octal digits
            digits = re.match(rb"[0-7]{1,3}", value[i + 1 :])
            assert digits is not None
            out.append(int(digits.group(), 8))
            i += 1 + len(digits.group())
        else:
            out += nxt
            i += 2
    return out.decode()


def _block(connection: Any, start: int, end: int, asked: list[int]) -> BlockResult:
    """Leaf hashes of the stored content hashes at seal positions start..end-1, in order."""
    query = (
        "SELECT s.position, s.transaction_id, t.content_hash FROM seals s "
        f"JOIN transactions t ON t.id = s.transaction_id WHERE s.position >= {start} "
        f"AND s.position < {end} ORDER BY s.position"
    )
    leaves: list[bytes] = []
    ids: dict[int, str] = {}
    wanted = set(asked)
    gap_at: int | None = None
    for line in _copy_lines(connection, query):
        position, transaction_id, stored = line.split(b"\t")
        expected = start + len(leaves)
        if int(position) != expected and gap_at is None:
            gap_at = expected
        if expected in wanted:
            ids[expected] = transaction_id.decode()
        leaves.append(leaf_hash(bytes.fromhex(stored.decode())))
    if len(leaves) != end - start and gap_at is None:
        gap_at = start + len(leaves)
    full = len(leaves) == BLOCK_LEAVES and gap_at is None
    return BlockResult(start, b"".join(leaves), root_hash(leaves) if full else None, ids, gap_at)
