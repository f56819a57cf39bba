"""Fast reads for `audit verify`: content hashes recomputed by the server, in parallel worker processes.

On PostgreSQL the journal is split into parts, each checked by a worker process (ledger.db.verify_worker)
that reads the one snapshot the caller exported: sealed transactions by ranges of seal position aligned
to Merkle blocks, one range per worker (each table is scanned once per range), so each part's leaves
come back as one run in log order with the roots of its whole blocks; the rest, not sealed yet, by
their seal key (normally above the last sealed one) and a hash of their id.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import itertools
import json
import multiprocessing
import os
from collections.abc import Iterator
from typing import Any

from sqlalchemy import Connection, text

from ledger.db.verify_hashing import HEADER_COLUMNS, row_problem
from ledger.db.verify_worker import HashTaskResult, run_task
from ledger.records import CheckpointRecord

ROWS_PER_PARTITION = 1_000_000  # transactions one worker query aggregates (in work_mem) at a time
INLINE_BELOW = 50_000  # fewer transactions than this: run the tasks in this process, one by one
FETCH_ROWS = 20_000
SEAL_KEYS = (-(2**63), 2**63 - 1)  # every seal key (a bigint) lies in [SEAL_KEYS[0], SEAL_KEYS[1])


@dataclasses.dataclass(frozen=True)
class Overview:
    """The exported snapshot and what verification reads up front in it."""

    snapshot: str
    transactions: int
    seals: int
    sealed_positions: int  # highest seal position + 1: equals `seals` unless positions have a gap
    checkpoints: list[CheckpointRecord]
    seal_key_floor: int  # the seal key of the newest sealed transaction: later ones are at or above it


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
                "public_key, signature, frontier_json) ORDER BY tree_size), '[]')::text FROM checkpoints), "
                "(SELECT t.seal_key FROM seals s JOIN transactions t ON t.id = s.transaction_id "
                "ORDER BY s.position DESC LIMIT 1)"
            )
        ).one()
        checkpoints = [
            CheckpointRecord(
                int(size), root, dt.datetime.fromisoformat(at).replace(tzinfo=dt.UTC), key_id, public_key,
                signature, tuple(json.loads(frontier)),
            )
            for size, root, at, key_id, public_key, signature, frontier in json.loads(row[4])
        ]  # fmt: skip
        floor = SEAL_KEYS[0] if row[5] is None else int(row[5])
        return Overview(str(row[0]), int(row[1]), int(row[2]), int(row[3]), checkpoints, floor)

    def sealed_since(self, start: int) -> Iterator[tuple[int, str, str | None, str | None]]:
        """(position, transaction id, stored content hash or None if gone, what is wrong) from `start` on.

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
                yield position, sealed_id, None, "missing"
                continue
            lines = [line[1:] for line in sorted(postings.pop(sealed_id, []))]
            yield position, sealed_id, header[11], row_problem(header, lines, stamps)

    def run_parallel(
        self, overview: Overview, wanted: set[int], workers: int | None = None, block_size: int = 1
    ) -> Iterator[HashTaskResult]:
        """Run every partition on a process pool over the overview's snapshot; results as they finish.

        Sealed ranges start at multiples of `block_size` (a power of two), so each worker can hash the
        Merkle subtrees of its whole blocks (RFC 6962 subtrees at power-of-two boundaries).
        """
        url = self.connection.engine.url.set(drivername="postgresql")
        conninfo = url.render_as_string(hide_password=False)
        inline = workers is None and overview.transactions < INLINE_BELOW
        cores = 1 if inline else workers or os.cpu_count() or 2
        asked = sorted(wanted)
        ranges = max(cores, -(-overview.sealed_positions // ROWS_PER_PARTITION))
        step = -(-max(1, -(-overview.sealed_positions // ranges)) // block_size) * block_size
        bounds = [*range(0, overview.sealed_positions, step), overview.sealed_positions]
        bounds[0] = -(2**62)  # the first range also takes any position below 0 (tampered with)
        parts: list[tuple[Any, ...]] = [("sealed", start, end) for start, end in itertools.pairwise(bounds)]
        unsealed = max(0, overview.transactions - overview.seals)
        parts += _unsealed_parts(overview.seal_key_floor, SEAL_KEYS[1], unsealed)
        checked = 0
        for result in self._run(conninfo, overview.snapshot, parts, asked, block_size, cores, inline):
            checked += result.checked
            yield result
        if checked < overview.transactions:
            # Some transaction not sealed has a seal key below the newest sealed one (tampered with, or
            # written around sealing): check those too, so that every transaction is checked once.
            missing = _unsealed_parts(SEAL_KEYS[0], overview.seal_key_floor, overview.transactions - checked)
            yield from self._run(conninfo, overview.snapshot, missing, asked, block_size, cores, inline)

    @staticmethod
    def _run(
        conninfo: str,
        snapshot: str,
        parts: list[tuple[Any, ...]],
        asked: list[int],
        block_size: int,
        cores: int,
        inline: bool,
    ) -> Iterator[HashTaskResult]:
        """Each part's result, from this process (inline) or a pool of worker processes."""
        tasks = [(conninfo, snapshot, part, asked, block_size) for part in parts]
        if inline or len(tasks) == 1:
            yield from map(run_task, tasks)  # starting processes would cost more than they save
            return
        with multiprocessing.get_context("fork").Pool(min(len(tasks), cores)) as pool:
            yield from pool.imap_unordered(run_task, tasks)


def _unsealed_parts(low: int, high: int, expected: int) -> list[tuple[Any, ...]]:
    """Parts for the transactions not sealed with a seal key in [low, high): by a hash of their id."""
    partitions = 1
    while partitions * ROWS_PER_PARTITION < expected:
        partitions *= 2
    return [("unsealed", low, high, partitions, k) for k in range(partitions)]
