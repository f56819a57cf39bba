"""The raw COPY baselines bench/bulk_issuance.py times the bulk job against (see its docstring)."""

from __future__ import annotations

import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy import Engine

# Every row the job writes, by table, in the order a chunk writes them (see ledger.usecases.bulk and
# bulk_allowance): the members' lot accounts, their balance rows and lots, the issue transactions and
# their postings, the stored answers to their idempotency keys; a recurring allowance's payments and the
# members refused (none in this bench) too. Each query reads the rows back in heap (insertion) order.
JOB_ROWS = {
    "accounts": "SELECT * FROM accounts WHERE kind = 'lot'",
    "balances": "SELECT b.* FROM balances b JOIN accounts a ON a.id = b.account_id WHERE a.kind = 'lot'",
    "lots": "SELECT * FROM lots",
    "transactions": "SELECT * FROM transactions WHERE kind = 'issue'",
    "postings": "SELECT p.* FROM postings p JOIN transactions t ON t.id = p.transaction_id "
    "WHERE t.kind = 'issue'",
    "idempotency_keys": "SELECT * FROM idempotency_keys WHERE key LIKE 'bulk:%'",
    "allowance_payments": "SELECT * FROM allowance_payments",
    "job_refusals": "SELECT * FROM job_refusals",
}
ROWS_PER_WALLET = {
    "accounts": 1,
    "balances": 1,
    "lots": 1,
    "transactions": 1,
    "postings": 2,
    "idempotency_keys": 1,
}
# Rows the job's rows refer to that were there before it (the scheme budget's account): put in the
# scratch tables untimed, so the foreign keys find them as the job's do.
EXISTING_ROWS = {"accounts": "SELECT * FROM accounts WHERE kind <> 'lot'"}
SPOOL_BLOCK_BYTES = 1 << 20
COPY_FORMAT = "binary"  # as the job writes its rows (ledger.db.bulk_copy)


def journal_only_copy(engine: Engine, wallets: int, *, logged: bool) -> float:
    """Seconds to COPY the job's transactions and postings again into same-shaped, indexed tables (the
    baselines of earlier runs).

    TEMP tables (as before) write no WAL, which no durable write can skip; `logged` ones are ordinary
    tables, written to the WAL as the ledger's are. Neither has the ledger's foreign keys or triggers.
    """
    kind, prefix = ("", "logged") if logged else ("TEMP", "raw")
    raw = engine.raw_connection()  # the tables are made on the connection that copies (TEMP is per session)
    try:
        with raw.cursor() as cursor:  # type: ignore[attr-defined]
            for table in ("transactions", "postings"):
                cursor.execute(f"CREATE {kind} TABLE {prefix}_{table} (LIKE {table} INCLUDING ALL)")
            raw.commit()
            headers = list(_rows(raw, "SELECT * FROM transactions WHERE kind = 'issue'"))
            lines = list(_rows(raw, "SELECT * FROM postings"))
            started = time.perf_counter()
            with cursor.copy(f"COPY {prefix}_transactions FROM STDIN") as copy:
                for row in headers:
                    copy.write_row(row)
            with cursor.copy(f"COPY {prefix}_postings FROM STDIN") as copy:
                for row in lines:
                    copy.write_row(row)
            raw.commit()
            seconds = time.perf_counter() - started
            for table in ("transactions", "postings"):
                cursor.execute(f"DROP TABLE {prefix}_{table}")
            raw.commit()
    finally:
        raw.close()
    assert len(headers) == wallets
    return seconds


def copy_job_rows(engine: Engine, wallets: int, *, foreign_keys: bool) -> dict[str, float]:
    """Seconds to COPY every row the job wrote (JOB_ROWS) into a scratch schema of the same tables, per
    table and in all (with the commit), with or without the ledger's foreign keys and triggers."""
    schema = "copy_with_keys" if foreign_keys else "copy_without_keys"
    raw = engine.raw_connection()
    try:
        with raw.cursor() as cursor, tempfile.TemporaryDirectory() as folder:  # type: ignore[attr-defined]
            spooled = {table: _spool(cursor, query, Path(folder, table)) for table, query in JOB_ROWS.items()}
            for table, rows in spooled.items():
                assert rows == wallets * ROWS_PER_WALLET.get(table, 0), (table, rows)
            _scratch_schema(cursor, schema, foreign_keys=foreign_keys)
            for table, query in EXISTING_ROWS.items():
                _spool(cursor, query, Path(folder, f"existing-{table}"))
                _load(cursor, f"{schema}.{table}", Path(folder, f"existing-{table}"))
            raw.commit()
            seconds: dict[str, float] = {}
            started = time.perf_counter()
            for table in JOB_ROWS:
                table_started = time.perf_counter()
                _load(cursor, f"{schema}.{table}", Path(folder, table))
                seconds[table] = time.perf_counter() - table_started
            raw.commit()
            seconds["total"] = time.perf_counter() - started
            cursor.execute(f"DROP SCHEMA {schema} CASCADE")
            raw.commit()
    finally:
        raw.close()
    return seconds


def _spool(cursor: psycopg.Cursor[Any], query: str, path: Path) -> int:
    """Write a query's rows to a file as COPY data; returns how many rows."""
    with path.open("wb") as spool, cursor.copy(f"COPY ({query}) TO STDOUT (FORMAT {COPY_FORMAT})") as copy:
        for block in copy:
            spool.write(block)
    return cursor.rowcount


def _load(cursor: psycopg.Cursor[Any], table: str, path: Path) -> None:
    """COPY a spool file into a table: the client only sends the bytes."""
    with path.open("rb") as spool, cursor.copy(f"COPY {table} FROM STDIN (FORMAT {COPY_FORMAT})") as copy:
        while block := spool.read(SPOOL_BLOCK_BYTES):
            copy.write(block)


def _scratch_schema(cursor: psycopg.Cursor[Any], schema: str, *, foreign_keys: bool) -> None:
    """The job's tables again in `schema` (LIKE ... INCLUDING ALL: columns, defaults, checks, indexes);
    with `foreign_keys`, also the ledger's foreign keys and triggers, pointing at the scratch copy of a
    table the job writes and at the real one otherwise (schemes, jobs)."""
    tables = list(JOB_ROWS)
    cursor.execute(f"CREATE SCHEMA {schema}")
    for table in tables:
        cursor.execute(f"CREATE TABLE {schema}.{table} (LIKE public.{table} INCLUDING ALL)")
    if not foreign_keys:
        return
    # Read with public first on the search path, so a definition names the tables unqualified; run with
    # the scratch schema first, so those names are the scratch copies where there are copies.
    cursor.execute(
        "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) FROM pg_constraint "
        "WHERE contype = 'f' AND conrelid::regclass::text = ANY(%s)",
        (tables,),
    )
    constraints = cursor.fetchall()
    cursor.execute(
        "SELECT tgrelid::regclass::text, pg_get_triggerdef(oid) FROM pg_trigger "
        "WHERE NOT tgisinternal AND tgrelid::regclass::text = ANY(%s)",
        (tables,),
    )
    triggers = cursor.fetchall()
    assert constraints and triggers, "the ledger's tables have foreign keys and triggers"
    cursor.execute(f"SET LOCAL search_path = {schema}, public")
    for table, name, definition in constraints:
        cursor.execute(f"ALTER TABLE {schema}.{table} ADD CONSTRAINT {name} {definition}")
    for table, definition in triggers:
        cursor.execute(definition.replace(f" ON public.{table} ", f" ON {schema}.{table} "))
    cursor.execute("RESET search_path")


def _rows(raw: Any, query: str) -> Iterator[tuple[Any, ...]]:
    """The rows to copy, read before the clock starts (only the COPY is timed)."""
    with raw.cursor() as cursor:
        cursor.execute(query)
        yield from cursor.fetchall()
