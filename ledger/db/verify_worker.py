"""One worker process of `audit verify` on PostgreSQL: check one part of the journal in a shared snapshot.

A part is a range of seal positions or a slice of the transactions not sealed yet. The server
recomputes every content hash of the part in one query (ledger.db.verify_hashing) and sends back one
row of aggregates: the Merkle leaves in position order, and what it did not vouch for. This process
checks exactly what the server left, hashes the Merkle subtrees of the part's whole blocks, and hands
the leaves back for the caller's tree.
"""

from __future__ import annotations

import array
import dataclasses
import itertools
import re
import sys
from collections.abc import Sequence
from typing import Any

from ledger.db.verify_hashing import (
    HEADER_COLUMNS,
    RECORDED_AT,
    SEALED_PART,
    STORED_HASH,
    UNSEALED_PART,
    canonical_metadata,
    row_problem,
    stamp,
)
from ledger.merkle import HASH_SIZE, leaf_hash, root_hash

FETCH_ROWS = 20_000  # rows the exact recheck reads at a time
_HEX_DIGEST = re.compile("[0-9a-f]{64}")
Problem = tuple[str, str, str]  # (recorded_at, transaction id, what is wrong): ordered as verify names


@dataclasses.dataclass(frozen=True)
class HashTaskResult:
    """One partition: transactions checked, the first bad one, and its sealed leaves.

    `positions` (an array of int64) and `leaves` (32 bytes each) give the Merkle leaf hash of every
    sealed transaction in the partition; `ids` names the transactions at the positions asked for. When
    the leaves are one run from `run_start` on, a multiple of the block size, `block_roots` holds the
    root of each whole block of it, in order.
    """

    checked: int
    first_bad: Problem | None
    positions: bytes
    leaves: bytes
    ids: dict[int, str]
    run_start: int | None = None  # the leaves are of positions run_start, run_start + 1, ... in order
    block_roots: tuple[bytes, ...] = ()
    rechecked: int = 0  # transactions the server did not vouch for, checked exactly here


def run_task(task: tuple[Any, ...]) -> HashTaskResult:
    """Worker entry point: open a connection on the shared snapshot and check one partition."""
    import psycopg  # only the worker needs the driver directly

    conninfo, snapshot, part, asked, block_size = task
    with psycopg.connect(conninfo) as connection:
        connection.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        connection.read_only = True
        connection.execute(f"SET TRANSACTION SNAPSHOT '{snapshot}'")
        connection.execute("SET LOCAL TIME ZONE 'UTC'")  # timestamps written in UTC, as hashed
        # One query per part, hash-joining and sorting a large share of the tables in memory; the
        # parallelism is ours (one worker per core), so no parallel plan on top of it.
        connection.execute("SET LOCAL work_mem = '256MB'")
        connection.execute("SET LOCAL max_parallel_workers_per_gather = 0")
        connection.execute("SET LOCAL jit = off")
        if part[0] == "sealed":
            return _check_sealed(connection, part[1], part[2], asked, block_size)
        return _check_unsealed(connection, *part[1:])


def _check_sealed(connection: Any, start: int, end: int, asked: list[int], block_size: int) -> HashTaskResult:
    """Check the transactions sealed at positions [start, end), as one run of leaves where it can."""
    row = connection.execute(SEALED_PART, {"start": start, "end": end}).fetchone()
    count, position_bytes, leaf_bytes, unvouched, with_metadata, metadata = row
    positions = array.array("q", position_bytes or b"")
    if sys.byteorder == "little":
        positions.byteswap()  # int8send writes big-endian
    leaves = bytearray(leaf_bytes or b"")
    assert len(positions) == count and len(leaves) == HASH_SIZE * count
    unvouched = [*unvouched, *_not_canonical(with_metadata, metadata)]
    first_bad = _recheck_sealed(connection, unvouched, positions, leaves)
    if any(a >= b for a, b in itertools.pairwise(positions)):
        # Rows aggregate in the order the subquery sorted them, as PostgreSQL does; should they not, sort.
        pairs = sorted(zip(positions, _split(bytes(leaves)), strict=True))
        positions = array.array("q", [position for position, _ in pairs])
        leaves = bytearray(b"".join(leaf for _, leaf in pairs))
    ids: dict[int, str] = {}
    if wanted := [position for position in asked if start <= position < end]:
        found = connection.execute(
            "SELECT position, transaction_id FROM seals WHERE position = ANY(%s)", (wanted,)
        )
        ids = {int(position): transaction_id for position, transaction_id in found}
    # Unique positions in order, none below the range's start and as many as it holds: exactly a run.
    lower = max(start, 0)
    whole = len(positions) == end - lower and (not positions or positions[0] >= lower)
    blocks: tuple[bytes, ...] = ()
    if whole and lower % block_size == 0:  # the roots of its whole blocks, for the caller's tree
        split = _split(bytes(leaves))
        blocks = tuple(
            root_hash(split[first : first + block_size])
            for first in range(0, len(split) - block_size + 1, block_size)
        )
    return HashTaskResult(
        count,
        first_bad,
        positions.tobytes(),
        bytes(leaves),
        ids,
        lower if whole else None,
        blocks,
        len(unvouched),
    )


def _check_unsealed(connection: Any, low: int, high: int, partitions: int, part: int) -> HashTaskResult:
    """Check the transactions not sealed yet with a seal key in [low, high) whose id hashes to `part`."""
    count, unvouched, with_metadata, metadata = connection.execute(
        UNSEALED_PART, {"low": low, "high": high, "mask": partitions - 1, "part": part}
    ).fetchone()
    unvouched = [*unvouched, *_not_canonical(with_metadata, metadata)]
    first_bad = None
    for start in range(0, len(unvouched), FETCH_ROWS):
        rows = connection.execute(
            f"SELECT {HEADER_COLUMNS} FROM transactions t WHERE t.id = ANY(%s)",
            (unvouched[start : start + FETCH_ROWS],),
        ).fetchall()
        first_bad = _earliest(first_bad, _first_problem(connection, rows))
    return HashTaskResult(int(count), first_bad, b"", b"", {}, None, (), len(unvouched))


def _not_canonical(keys: Sequence[Any], metadata: Sequence[str]) -> list[Any]:
    """The keys whose metadata text is not the canonical JSON the server's hash took it for."""
    return [key for key, text_ in zip(keys, metadata, strict=True) if not canonical_metadata(text_)]


def _recheck_sealed(
    connection: Any, unvouched: Sequence[int], positions: array.array[int], leaves: bytearray
) -> Problem | None:
    """Check exactly the sealed positions the server did not vouch for, filling in their leaves."""
    first_bad = None
    index = {position: i for i, position in enumerate(positions)} if unvouched else {}
    for start in range(0, len(unvouched), FETCH_ROWS):
        rows = connection.execute(
            f"SELECT {HEADER_COLUMNS}, s.position FROM transactions t "
            "JOIN seals s ON s.transaction_id = t.id WHERE s.position = ANY(%s)",
            (list(unvouched[start : start + FETCH_ROWS]),),
        ).fetchall()
        first_bad = _earliest(first_bad, _first_problem(connection, rows))
        for row in rows:  # the leaf from the stored hash, as sealing made it (a bad one fails anyway)
            offset = index[row[-1]] * HASH_SIZE
            if _HEX_DIGEST.fullmatch(row[STORED_HASH]):
                leaves[offset : offset + HASH_SIZE] = leaf_hash(bytes.fromhex(row[STORED_HASH]))
    return first_bad


def _first_problem(connection: Any, rows: Sequence[Sequence[Any]]) -> Problem | None:
    """The first of these HEADER_COLUMNS rows, in (recorded_at, id) order, that fails an exact check."""
    ids = [row[0] for row in rows]
    lines: dict[str, list[tuple[str, str, int]]] = {transaction_id: [] for transaction_id in ids}
    found = connection.execute(
        "SELECT transaction_id, account_id, unit, amount_minor FROM postings "
        "WHERE transaction_id = ANY(%s) ORDER BY transaction_id, line",
        (ids,),
    )
    for transaction_id, account_id, unit, amount_minor in found:
        lines[transaction_id].append((account_id, unit, amount_minor))
    stamps: dict[str, str] = {}
    problems = [
        (stamp(row[RECORDED_AT], stamps), row[0], problem)
        for row in rows
        if (problem := row_problem(row, lines[row[0]], stamps)) is not None
    ]
    return min(problems, default=None)


def _earliest(first: Problem | None, second: Problem | None) -> Problem | None:
    """The earlier of two problems (either may be None)."""
    return min((p for p in (first, second) if p is not None), default=None)


def _split(leaves: bytes) -> list[bytes]:
    """32-byte leaf hashes laid end to end, one by one."""
    return [leaves[i : i + HASH_SIZE] for i in range(0, len(leaves), HASH_SIZE)]
