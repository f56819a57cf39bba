"""Writing a planned batch of spends: on PostgreSQL one statement, whatever the batch size.

The statement's parts are data-modifying CTEs over typed arrays, one per column, sent in binary: the
floor-checked UPDATE of the lots, the headers (with this transaction's id as seal key), the postings, the
spend counters (upserted), the idempotency answers, and the outlets' payable shards, summed per account.
PostgreSQL runs every part to completion once and checks the postings' foreign keys at the end of the
statement. SQLite, in process and serialised by BEGIN IMMEDIATE, runs the same writes as one statement per
table.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, bindparam, func, insert, select, text, update
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from ledger.batch_writes import BatchWrites
from ledger.db.spend_batch_pipeline import run_all
from ledger.db.tables import balances, idempotency_keys, postings, spend_counters, transactions
from ledger.journal import canonical_json

_HEADER_COLUMNS = {
    "id": "text",
    "kind": "text",
    "idempotency_key": "text",
    "occurred_at": "timestamptz",
    "recorded_at": "timestamptz",
    "actor": "text",
    "outlet_id": "text",
    "scheme_id": "text",
    "rule_version": "integer",
    "reverses_id": "text",
    "metadata_json": "text",
    "content_hash": "text",
}
_POSTING_COLUMNS = {
    "transaction_id": "text",
    "line": "smallint",
    "account_id": "text",
    "unit": "text",
    "amount_minor": "bigint",
    "recorded_at": "timestamptz",
}
_COUNTER_COLUMNS = {
    "owner_id": "text",
    "scheme_id": "text",
    "day_start": "timestamptz",
    "day_end": "timestamptz",
    "spent_minor": "bigint",
}
_ANSWER_COLUMNS = {
    "scope": "text",
    "key": "text",
    "fingerprint": "text",
    "result_json": "text",
    "created_at": "timestamptz",
}


def _rows_of(prefix: str, columns: Mapping[str, str]) -> str:
    """A table's rows from one typed array parameter per column (binary: nothing to quote or to parse)."""
    arrays = ", ".join(f"CAST(:{prefix}_{column} AS {kind}[])" for column, kind in columns.items())
    return f"unnest({arrays}) AS {prefix}({', '.join(columns)})"


def _columns(prefix: str, columns: Mapping[str, str]) -> str:
    return ", ".join(f"{prefix}.{column}" for column in columns)


def _column_parameters(
    prefix: str, columns: Mapping[str, str], rows: Sequence[Mapping[str, Any]]
) -> dict[str, list[Any]]:
    """The parameters `_rows_of(prefix, columns)` reads: one list per column, in row order."""
    return {f"{prefix}_{column}": [row[column] for row in rows] for column in columns}


_WRITE_SQL = text(
    "WITH moved AS ("
    " UPDATE balances SET balance_minor = balances.balance_minor + moved_by.delta"
    " FROM unnest(CAST(:move_ids AS text[]), CAST(:move_deltas AS bigint[]), CAST(:move_floors AS bigint[]))"
    " AS moved_by(id, delta, floor)"
    " WHERE balances.account_id = moved_by.id AND balances.shard = 0"
    " AND balances.balance_minor + moved_by.delta >= moved_by.floor RETURNING 1"
    f"), headers AS (INSERT INTO transactions ({', '.join(_HEADER_COLUMNS)}, seal_key)"
    f" SELECT {_columns('header', _HEADER_COLUMNS)}, pg_current_xact_id()::text::bigint"
    f" FROM {_rows_of('header', _HEADER_COLUMNS)}"
    f"), lines AS (INSERT INTO postings ({', '.join(_POSTING_COLUMNS)})"
    f" SELECT {_columns('posting', _POSTING_COLUMNS)} FROM {_rows_of('posting', _POSTING_COLUMNS)}"
    f"), counted AS (INSERT INTO spend_counters ({', '.join(_COUNTER_COLUMNS)})"
    f" SELECT {_columns('counter', _COUNTER_COLUMNS)} FROM {_rows_of('counter', _COUNTER_COLUMNS)}"
    " ON CONFLICT (owner_id, scheme_id, day_start)"
    " DO UPDATE SET spent_minor = spend_counters.spent_minor + excluded.spent_minor"
    f"), answered AS (INSERT INTO idempotency_keys ({', '.join(_ANSWER_COLUMNS)})"
    f" SELECT {_columns('answer', _ANSWER_COLUMNS)} FROM {_rows_of('answer', _ANSWER_COLUMNS)}"
    "), credited AS ("
    " UPDATE balances SET balance_minor = balances.balance_minor + credited_by.delta"
    " FROM unnest(CAST(:credit_ids AS text[]), CAST(:credit_shards AS smallint[]),"
    " CAST(:credit_deltas AS bigint[])) AS credited_by(id, shard, delta)"
    " WHERE balances.account_id = credited_by.id AND balances.shard = credited_by.shard"
    ") SELECT count(*) FROM moved"
)
_TABLES = (
    ("header", "headers", _HEADER_COLUMNS),
    ("posting", "postings", _POSTING_COLUMNS),
    ("counter", "counters", _COUNTER_COLUMNS),
    ("answer", "answers", _ANSWER_COLUMNS),
)


def write_batch(connection: Connection, writes: BatchWrites) -> bool:
    """Write the batch; False (and the caller must roll back) if a lot would have gone below its floor."""
    rows = _rows(writes)
    if connection.dialect.name != "postgresql":
        return _write_one_table_at_a_time(connection, writes, rows)
    parameters: dict[str, Any] = {}
    for prefix, table, columns in _TABLES:
        parameters.update(_column_parameters(prefix, columns, rows[table]))
    move_ids, credit_keys = sorted(writes.moves), sorted(writes.credits)  # one row lock order for all
    parameters.update(
        move_ids=move_ids,
        move_deltas=[writes.moves[i][0] for i in move_ids],
        move_floors=[writes.moves[i][1] for i in move_ids],
        credit_ids=[account for account, _ in credit_keys],
        credit_shards=[shard for _, shard in credit_keys],
        credit_deltas=[writes.credits[k] for k in credit_keys],
    )
    (moved,) = run_all(connection, [(_WRITE_SQL, parameters)])[0]
    return int(moved[0]) == len(move_ids)


def _rows(writes: BatchWrites) -> dict[str, list[dict[str, Any]]]:
    headers = [
        {
            "id": draft.id,
            "kind": draft.kind,
            "idempotency_key": draft.idempotency_key,
            "occurred_at": draft.occurred_at,
            "recorded_at": draft.recorded_at,
            "actor": draft.actor,
            "outlet_id": draft.outlet_id,
            "scheme_id": draft.scheme_id,
            "rule_version": draft.rule_version,
            "reverses_id": draft.reverses_id,
            "metadata_json": canonical_json(dict(draft.metadata)).decode(),
            "content_hash": draft.content_hash,
        }
        for draft in writes.drafts
    ]
    lines = [
        {
            "transaction_id": draft.id,
            "line": line,
            "account_id": posting.account_id,
            "unit": posting.unit.value,
            "amount_minor": posting.amount_minor,
            "recorded_at": draft.recorded_at,
        }
        for draft in writes.drafts
        for line, posting in enumerate(draft.postings)
    ]
    counters = [
        {"owner_id": o, "scheme_id": s, "day_start": a, "day_end": b, "spent_minor": amount}
        for (o, s, a, b), amount in sorted(writes.counts.items())
    ]
    answers = [
        {
            "scope": scope,
            "key": key,
            "fingerprint": fingerprint,
            "result_json": canonical_json(answer).decode(),
            "created_at": at,
        }
        for (scope, key), fingerprint, answer, at in writes.answers
    ]
    return {"headers": headers, "postings": lines, "counters": counters, "answers": answers}


def _write_one_table_at_a_time(
    connection: Connection, writes: BatchWrites, rows: dict[str, list[dict[str, Any]]]
) -> bool:
    """The same writes on SQLite: in process, many executions of one statement cost no round trips."""
    for account_id in sorted(writes.moves):
        delta, floor = writes.moves[account_id]
        moved = connection.execute(
            update(balances)
            .where(
                balances.c.account_id == account_id,
                balances.c.shard == 0,
                balances.c.balance_minor + delta >= floor,
            )
            .values(balance_minor=balances.c.balance_minor + delta)
        )
        if moved.rowcount != 1:
            return False
    # Writers are serialised by BEGIN IMMEDIATE, so the next seal key is simply one more than the last.
    seal_key = int(
        connection.execute(select(func.coalesce(func.max(transactions.c.seal_key), 0))).scalar_one()
    )
    connection.execute(insert(transactions), [{**row, "seal_key": seal_key + 1} for row in rows["headers"]])
    connection.execute(insert(postings), rows["postings"])
    if rows["counters"]:
        upsert = sqlite_insert(spend_counters)
        upsert = upsert.on_conflict_do_update(
            index_elements=["owner_id", "scheme_id", "day_start"],
            set_={"spent_minor": spend_counters.c.spent_minor + upsert.excluded.spent_minor},
        )
        connection.execute(upsert, rows["counters"])
    connection.execute(insert(idempotency_keys), rows["answers"])
    if writes.credits:
        credit = (
            update(balances)
            .where(balances.c.account_id == bindparam("id"), balances.c.shard == bindparam("number"))
            .values(balance_minor=balances.c.balance_minor + bindparam("delta"))
        )
        connection.execute(
            credit,
            [{"id": a, "number": s, "delta": delta} for (a, s), delta in sorted(writes.credits.items())],
        )
    return True
