"""What the benchmarks share: arguments, a throwaway database, a funded scheme, one JSON line out."""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import datetime as dt
import json
import os
import sys
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy import Engine, Table, create_engine, text
from sqlalchemy.engine import make_url

from ledger.clock import SystemClock
from ledger.db.bootstrap import open_database
from ledger.db.engine import normalise_url
from ledger.db.uow import unit_of_work_factory
from ledger.service import run_in_transaction
from ledger.units import Unit
from ledger.usecases import flows
from ledger.usecases.common import new_id
from ledger.usecases.schemes import create_scheme

DEFAULT_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"

# The floor a spend is measured against: one transfer per transaction in PL/pgSQL, one round trip each.
FLOOR_SQL = """
CREATE TABLE floor_accounts (id text PRIMARY KEY, balance_minor bigint NOT NULL);
CREATE TABLE floor_postings (
    transaction_id uuid NOT NULL, line smallint NOT NULL, account_id text NOT NULL,
    amount_minor bigint NOT NULL, PRIMARY KEY (transaction_id, line)
);
CREATE FUNCTION floor_transfer(debit text, credit text, amount bigint) RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
    available bigint;
    tx uuid := gen_random_uuid();
BEGIN
    SELECT balance_minor INTO available FROM floor_accounts WHERE id = debit FOR UPDATE;
    IF available IS NULL OR available < amount THEN
        RETURN false;
    END IF;
    INSERT INTO floor_postings VALUES (tx, 0, debit, -amount), (tx, 1, credit, amount);
    UPDATE floor_accounts SET balance_minor = balance_minor - amount WHERE id = debit;
    UPDATE floor_accounts SET balance_minor = balance_minor + amount WHERE id = credit;
    RETURN true;
END
$$;
"""


def arguments(description: str) -> argparse.Namespace:
    """--quick and --database-url (the admin URL: a fresh database is created next to it)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--quick", action="store_true", help="a short run")
    parser.add_argument(
        "--database-url",
        default=os.environ.get("CLUBCARD_BENCH_DATABASE_URL", DEFAULT_ADMIN_URL),
        help="admin URL of a PostgreSQL server; the run creates and drops its own database there",
    )
    parser.add_argument("--keep", action="store_true", help="keep the bench database (for inspection)")
    return parser.parse_args()


@contextlib.contextmanager
def fresh_database(admin_url: str, label: str, *, keep: bool = False) -> Iterator[Engine]:
    """A new migrated database clubcard_bench_<label>_<random>, dropped afterwards."""
    base = make_url(normalise_url(admin_url))
    name = f"clubcard_bench_{label}_{uuid.uuid4().hex[:8]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT", pool_size=1)
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    engine = open_database(base.set(database=name).render_as_string(hide_password=False))
    try:
        yield engine
    finally:
        engine.dispose()
        if not keep:
            with admin.connect() as connection:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def funded_scheme(engine: Engine, slug: str, amount_minor: int) -> dict[str, Any]:
    """A GBP scheme whose budget holds `amount_minor`."""
    factory = unit_of_work_factory(engine)
    now = SystemClock().now()
    scheme: dict[str, Any] = run_in_transaction(
        factory,
        lambda uow: create_scheme(uow, slug=slug, name=slug, unit=Unit.GBP, rules={}, now=now, actor="bench"),
    )
    run_in_transaction(
        factory,
        lambda uow: flows.fund(
            uow, scheme=scheme, amount_minor=amount_minor, now=now, actor="bench", key=f"fund-{slug}"
        ),
    )
    return scheme


def cpu_seconds(belongs: Callable[[str, int], bool]) -> float:
    """CPU seconds (user and system) used so far by every process for which belongs(name, group) holds,
    read from Linux's /proc: a benchmark's figure of work done, steadier than a rate on a shared machine."""
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue  # the process ended meanwhile
        head, _, tail = text.rpartition(")")  # "pid (name" and, from the state on, the fields
        fields = tail.split()  # group at 2, utime and stime at 11 and 12
        if belongs(head.partition("(")[2], int(fields[2])):
            total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def postgres_cpu_seconds() -> float:
    """CPU seconds used so far by the local PostgreSQL server's processes (backends, WAL writer and all)."""
    return cpu_seconds(lambda name, _group: name.startswith("postgres"))


def emit(figures: dict[str, Any]) -> None:
    """Print the run's figures as one JSON line on stdout."""
    sys.stdout.write(json.dumps(figures, sort_keys=True) + "\n")
    sys.stdout.flush()


def log(message: str) -> None:
    """Progress for people, on stderr (stdout carries only the JSON line)."""
    sys.stderr.write(message + "\n")
    sys.stderr.flush()


def copy_rows(engine: Engine, table: Table, rows: list[dict[str, Any]]) -> None:
    """Rows into a table by one COPY (the bench's own seeding, beside the ledger's bulk paths)."""
    columns = list(rows[0])
    raw = engine.raw_connection()
    try:
        connection = raw.driver_connection
        assert connection is not None
        statement = f"COPY {table.name} ({', '.join(columns)}) FROM STDIN"
        with connection.cursor() as cursor, cursor.copy(statement) as copy:
            for row in rows:
                copy.write_row([row[column] for column in columns])
        connection.commit()
    finally:
        raw.close()


def install_floor(engine: Engine, wallets: list[str], wallet_minor: int, payables: list[str]) -> None:
    """The floor's own tables and function beside the ledger: funded wallets and empty payables."""
    with engine.begin() as connection:
        connection.exec_driver_sql(FLOOR_SQL)
        connection.execute(
            text("INSERT INTO floor_accounts SELECT unnest(CAST(:ids AS text[])), :minor"),
            {"ids": wallets, "minor": wallet_minor},
        )
        connection.execute(
            text("INSERT INTO floor_accounts SELECT unnest(CAST(:ids AS text[])), 0"), {"ids": payables}
        )
        connection.exec_driver_sql("ANALYZE")


def floor_client(conninfo: str, amount_minor: int) -> Callable[[str, str], None]:
    """One client's connection to the floor: each call is one transfer, durably committed."""
    connection = psycopg.connect(conninfo, autocommit=True)

    def transfer(owner: str, payable: str) -> None:
        ok = connection.execute(
            "SELECT floor_transfer(%s, %s, %s)", (owner, payable, amount_minor)
        ).fetchone()
        assert ok is not None and ok[0], "the floor refused a spend"

    return transfer


@dataclasses.dataclass(frozen=True)
class Move:
    """One two-line transaction a bench writes straight into the journal: an amount from one account's
    balance shard to another's."""

    kind: str
    key: str
    at: dt.datetime
    actor: str
    outlet_id: str | None
    debit: tuple[str, int]  # (account id, balance shard)
    credit: tuple[str, int]
    unit: str
    amount_minor: int


def append_moves(
    engine: Engine,
    scheme: dict[str, Any],
    count: int,
    move: Callable[[int], Move],
    *,
    batch_size: int,
    progress: Callable[[int], None] | None = None,
) -> None:
    """Seed history fast: moves 0..count-1 of the scheme, `batch_size` per database transaction, through
    the bulk repository (balances moved, rows appended and sealed as the ledger seals them)."""
    factory, done = unit_of_work_factory(engine), 0
    while done < count:
        size = min(batch_size, count - done)

        def batch(uow: Any, size: int = size, first: int = done) -> None:
            rows: list[tuple[Any, ...]] = []
            deltas: defaultdict[tuple[str, int], int] = defaultdict(int)
            for n in range(first, first + size):
                each = move(n)
                amount = each.amount_minor
                deltas[each.debit] -= amount
                deltas[each.credit] += amount
                lines = ((each.debit[0], each.unit, -amount), (each.credit[0], each.unit, amount))
                header = (new_id(), each.kind, each.key, each.at, each.at, each.actor, each.outlet_id)
                rows.append((*header, scheme["id"], scheme["version"], None, "{}", lines))
            uow.bulk.move_balances(deltas)
            uow.bulk.append_rows(rows, uow.journal.next_seal_key())

        run_in_transaction(factory, batch)
        done += size
        if progress is not None:
            progress(done)
