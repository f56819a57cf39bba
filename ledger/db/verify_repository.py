"""Fast reads for `audit verify`: canonical bytes built straight from rows, hashed in parallel workers.

On PostgreSQL the journal is split into parts, each checked by a worker process that reads the one
snapshot the caller exported: sealed transactions by ranges of seal position (so each part's Merkle
leaves come back as one run in log order), the rest by a hash of their id. A worker streams its
transactions and their postings, joins them itself, recomputes every content hash and hands back the
leaf of each sealed transaction with its seal position, for the caller to build the tree.
"""

from __future__ import annotations

import array
import dataclasses
import datetime as dt
import hashlib
import itertools
import json
import multiprocessing
import os
import re
from collections.abc import Iterable, Iterator, Sequence
from json.encoder import encode_basestring  # what json.dumps(ensure_ascii=False) uses for every str
from typing import Any

from sqlalchemy import Connection, text

from ledger.clock import rfc3339
from ledger.journal import canonical_json
from ledger.merkle import leaf_hash
from ledger.records import CheckpointRecord

ROWS_PER_PARTITION = 250_000  # content-hash tasks hold about this many transactions in memory
INLINE_BELOW = 50_000  # fewer transactions than this: run the tasks in this process, one by one
HEADER_COLUMNS = (
    "t.id, t.kind, t.occurred_at::text, t.recorded_at::text, t.actor, t.idempotency_key, t.outlet_id, "
    "t.scheme_id, t.rule_version, t.reverses_id, t.metadata_json, t.content_hash"
)
FETCH_ROWS = 20_000
# Each posting as its canonical JSON text, written by the server (to_json escapes as JSON requires).
POSTING_TEXT = (
    "SELECT p.transaction_id, p.line, '[' || to_json(p.account_id)::text || ',' || "
    "to_json(p.unit)::text || ',' || p.amount_minor::text || ']' FROM postings p"
)
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


@dataclasses.dataclass(frozen=True)
class HashTaskResult:
    """One partition: transactions checked, first bad (recorded_at, id), and its sealed leaves.

    `positions` (an array of int64) and `leaves` (32 bytes each) give the Merkle leaf hash of every
    sealed transaction in the partition; `ids` names the transactions at the positions asked for.
    """

    checked: int
    first_bad: tuple[str, str] | None
    positions: bytes
    leaves: bytes
    ids: dict[int, str]
    run_start: int | None = None  # the leaves are of positions run_start, run_start + 1, ... in order


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

    def sealed_since(self, start: int) -> Iterator[tuple[int, str, str | None, bool]]:
        """(position, transaction id, stored content hash or None if gone, hash matches) from `start` on.

        Two sequential reads of only the seals from `start` on (postings, then headers in position order),
        hashed from plain column values as the workers do: time proportional to what was sealed since.
        """
        self.connection.execute(text("SET LOCAL TIME ZONE 'UTC'"))  # timestamptz text in UTC, as hashed
        postings: dict[str, list[tuple[int, str, str, int]]] = {}
        for row in self.connection.execute(
            text(
                "SELECT p.transaction_id, p.line, p.account_id, p.unit, p.amount_minor FROM postings p "
                "JOIN seals s ON s.transaction_id = p.transaction_id WHERE s.position >= :start"
            ),
            {"start": start},
        ):
            postings.setdefault(row[0], []).append(tuple(row[1:]))
        stamps: dict[str, str] = {}
        rows = self.connection.execution_options(yield_per=FETCH_ROWS).execute(
            text(
                f"SELECT s.position, s.transaction_id, {HEADER_COLUMNS} FROM seals s "
                "LEFT JOIN transactions t ON t.id = s.transaction_id "
                "WHERE s.position >= :start ORDER BY s.position"
            ),
            {"start": start},
        )
        for row in rows:
            position, sealed_id, header = int(row[0]), row[1], tuple(row[2:])
            if header[0] is None:  # a seal record whose transaction was deleted
                yield position, sealed_id, None, False
                continue
            lines = [line[1:] for line in sorted(postings.pop(sealed_id, []))]
            yield position, sealed_id, header[11], _hash(header, lines, stamps).hex() == header[11]

    def run_parallel(
        self, overview: Overview, wanted: set[int], workers: int | None = None
    ) -> Iterator[HashTaskResult]:
        """Run every partition on a process pool over the overview's snapshot; results as they finish."""
        url = self.connection.engine.url.set(drivername="postgresql")
        conninfo = url.render_as_string(hide_password=False)
        inline = workers is None and overview.transactions < INLINE_BELOW
        cores = 1 if inline else workers or os.cpu_count() or 2
        asked = sorted(wanted)
        # Sealed transactions by ranges of seal position, so each task's leaves arrive as one run in
        # log order; the rest (not yet sealed) by a hash of their id. At least one range per worker.
        ranges = max(cores, -(-overview.sealed_positions // ROWS_PER_PARTITION))
        step = max(1, -(-overview.sealed_positions // ranges))
        bounds = [*range(0, overview.sealed_positions, step), overview.sealed_positions]
        bounds[0] = -(2**62)  # the first range also takes any position below 0 (tampered with)
        tasks: list[tuple[Any, ...]] = [
            (conninfo, overview.snapshot, ("sealed", start, end), asked)
            for start, end in itertools.pairwise(bounds)
        ]
        unsealed = max(0, overview.transactions - overview.seals)
        partitions = 1
        while partitions * ROWS_PER_PARTITION < unsealed:
            partitions *= 2
        tasks += [
            (conninfo, overview.snapshot, ("unsealed", partitions, k), asked) for k in range(partitions)
        ]
        if inline:
            yield from map(_run_task, tasks)  # small ledgers: starting processes would cost more
            return
        count = min(len(tasks), cores)
        with multiprocessing.get_context("fork").Pool(count) as pool:
            yield from pool.imap_unordered(_run_task, tasks)


def _run_task(task: tuple[Any, ...]) -> HashTaskResult:
    """Worker entry point: open a connection on the shared snapshot and check one partition."""
    import psycopg  # only the worker needs the driver directly

    conninfo, snapshot, *arguments = task
    with psycopg.connect(conninfo) as connection:
        connection.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        connection.read_only = True
        connection.execute(f"SET TRANSACTION SNAPSHOT '{snapshot}'")
        connection.execute("SET LOCAL TIME ZONE 'UTC'")
        # Plan cursors for reading every row (not the first tenth), and hash-join a partition (a large
        # share of the table, not the few rows the planner guesses for hashtext()) to seals.
        connection.execute("SET LOCAL cursor_tuple_fraction = 1.0")
        connection.execute("SET LOCAL enable_nestloop = off")
        connection.execute("SET LOCAL work_mem = '256MB'")
        connection.execute("SET LOCAL jit = off")
        return _hash_partition(connection, *arguments)


def _rows(connection: Any, query: str) -> Iterator[tuple[Any, ...]]:
    """A query's rows through a server-side cursor, FETCH_ROWS at a time (bounded memory)."""
    with connection.cursor(name=f"verify_{id(query)}") as cursor:
        cursor.execute(query)
        while rows := cursor.fetchmany(FETCH_ROWS):
            yield from rows


def _hash_partition(connection: Any, part: tuple[str, int, int], asked: list[int]) -> HashTaskResult:
    """Recompute the content hash of every transaction in one part of the journal.

    A part is ("sealed", start, end): the transactions sealed at positions [start, end), in position
    order; or ("unsealed", partitions, k): those not sealed whose id hashes to k. The server writes each
    posting as its canonical JSON text (strings through to_json, so always a valid encoding of the
    stored values); this process puts them in line order after the header and hashes. A transaction
    whose fast hash does not match is hashed again exactly from its posting rows before it is called
    bad, so a difference between the two encoders costs time but never blames a sound transaction.
    """
    kind, first, second = part
    if kind == "sealed":
        where = f"s.position >= {int(first)} AND s.position < {int(second)}"
        headers = _rows(
            connection,
            f"SELECT {HEADER_COLUMNS}, s.position FROM transactions t "
            f"JOIN seals s ON s.transaction_id = t.id WHERE {where} ORDER BY s.position",
        )
        postings = _posting_texts(
            _rows(
                connection,
                f"{POSTING_TEXT} JOIN seals s ON s.transaction_id = p.transaction_id WHERE {where}",
            )
        )
    else:
        # Not sealed yet: few, as a rule, so their postings are read by key once their ids are known.
        unsealed = list(
            _rows(
                connection,
                f"SELECT {HEADER_COLUMNS}, NULL FROM transactions t "
                f"WHERE (hashtext(t.id) & {int(first) - 1}) = {int(second)} "
                "AND NOT EXISTS (SELECT 1 FROM seals s WHERE s.transaction_id = t.id)",
            )
        )
        headers = iter(unsealed)
        postings = {}
        for start in range(0, len(unsealed), FETCH_ROWS):
            batch = [row[0] for row in unsealed[start : start + FETCH_ROWS]]
            found = connection.execute(f"{POSTING_TEXT} WHERE p.transaction_id = ANY(%s)", (batch,))
            postings.update(_posting_texts(found))
    checked = 0
    first_bad: tuple[str, str] | None = None
    stamps: dict[str, str] = {}
    positions, leaves, ids, wanted = array.array("q"), bytearray(), {}, set(asked)
    for row in headers:
        checked += 1
        mine = postings.pop(row[0], [])
        mine.sort()
        lines = ",".join([text_ for _, text_ in mine])
        stored = row[11]
        if _fast_hash(row, lines, stamps) != stored and _exact_hash(connection, row, stamps).hex() != stored:
            bad = (_stamp(row[3], stamps), row[0])
            first_bad = bad if first_bad is None else min(first_bad, bad)
        if row[12] is not None:  # sealed: its leaf, from the stored hash (equal to digest unless bad)
            positions.append(row[12])
            leaves += leaf_hash(bytes.fromhex(stored))
            if row[12] in wanted:
                ids[row[12]] = row[0]
    # Unique positions in order, none below the range's start and as many as it holds: exactly a run.
    lower = max(first, 0)
    whole = kind == "sealed" and len(positions) == second - lower and (not positions or positions[0] >= lower)
    run_start = lower if whole else None
    return HashTaskResult(checked, first_bad, positions.tobytes(), bytes(leaves), ids, run_start)


def _posting_texts(rows: Iterable[tuple[Any, ...]]) -> dict[str, list[tuple[int, str]]]:
    """{transaction id: [(line, the posting's JSON text)]} from POSTING_TEXT rows."""
    postings: dict[str, list[tuple[int, str]]] = {}
    for transaction_id, line, text_ in rows:
        found = postings.get(transaction_id)
        if found is None:
            postings[transaction_id] = [(line, text_)]
        else:
            found.append((line, text_))
    return postings


def _fast_hash(row: tuple[Any, ...], lines: str, stamps: dict[str, str]) -> str | None:
    """The hex content hash from the header and the postings' JSON text; None if the header needs escaping."""
    id_, kind, occurred, recorded, actor, key, outlet, scheme, version, reverses, metadata = row[:11]
    strings = [v for v in (id_, kind, actor, key, outlet, scheme, reverses) if v is not None]
    if metadata != "{}" or _NEEDS_ESCAPE.search("".join(strings)) is not None:
        return None

    def q(value: str | None) -> str:
        """A plain string value as JSON (or null)."""
        return "null" if value is None else f'"{value}"'

    canonical_text = (
        f'{{"header":{{"actor":"{actor}","id":"{id_}","idempotency_key":{q(key)},"kind":"{kind}",'
        f'"metadata":{{}},"occurred_at":"{_stamp(occurred, stamps)}","outlet_id":{q(outlet)},'
        f'"recorded_at":"{_stamp(recorded, stamps)}","reverses_id":{q(reverses)},'
        f'"rule_version":{"null" if version is None else repr(version)},"scheme_id":{q(scheme)}}},'
        f'"postings":[{lines}]}}'
    )
    return hashlib.sha256(canonical_text.encode()).hexdigest()


def _exact_hash(connection: Any, row: tuple[Any, ...], stamps: dict[str, str]) -> bytes:
    """The content hash from the transaction's posting rows, encoded as ledger.journal encodes them."""
    lines = connection.execute(
        "SELECT account_id, unit, amount_minor FROM postings WHERE transaction_id = %s ORDER BY line",
        (row[0],),
    ).fetchall()
    return _hash(row, [tuple(line) for line in lines], stamps)


def _stamp(value: str, cache: dict[str, str]) -> str:
    """PostgreSQL's UTC timestamptz text ('2026-11-01 09:00:00.5+00') as ledger.clock.rfc3339 text."""
    found = cache.get(value)
    if found is None:
        at = dt.datetime.fromisoformat(value.replace(" ", "T") + ":00")
        found = cache[value] = rfc3339(at)
    return found


def _hash(row: tuple[Any, ...], lines: list[tuple[str, str, int]], stamps: dict[str, str]) -> bytes:
    """The content hash of one transaction row: by plain concatenation when no value needs escaping."""
    id_, kind, occurred, recorded, actor, key, outlet, scheme, version, reverses, metadata = row[:11]
    strings = [v for v in (id_, kind, actor, key, outlet, scheme, reverses) if v is not None]
    strings.extend(a + u for a, u, _ in lines)
    if metadata != "{}" or _NEEDS_ESCAPE.search("".join(strings)) is not None:
        metadata = canonical_json(json.loads(metadata)).decode()
        header = (id_, kind, _stamp(occurred, stamps), _stamp(recorded, stamps), actor, key, outlet, scheme)
        canonical = canonical_transaction((*header, version, reverses), metadata, lines)
        return hashlib.sha256(canonical).digest()

    def q(value: str | None) -> str:
        """A plain string value as JSON (or null)."""
        return "null" if value is None else f'"{value}"'

    postings = ",".join(f'["{a}","{u}",{m!r}]' for a, u, m in lines)
    canonical_text = (
        f'{{"header":{{"actor":"{actor}","id":"{id_}","idempotency_key":{q(key)},"kind":"{kind}",'
        f'"metadata":{{}},"occurred_at":"{_stamp(occurred, stamps)}","outlet_id":{q(outlet)},'
        f'"recorded_at":"{_stamp(recorded, stamps)}","reverses_id":{q(reverses)},'
        f'"rule_version":{"null" if version is None else repr(version)},"scheme_id":{q(scheme)}}},'
        f'"postings":[{postings}]}}'
    )
    return hashlib.sha256(canonical_text.encode()).digest()
