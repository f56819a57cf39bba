"""A batch of spends' statements in one round trip each time: psycopg's pipeline mode on PostgreSQL.

A batch's reads do not depend on each other's answers, only on the requests (keys, cards, outlets,
schemes) or on the wallets they name, so they are sent together and PostgreSQL runs them back to back in
order: a lock taken by the first is held by the time the second runs. Each statement is compiled from its
SQLAlchemy form once and executed on the unit of work's own connection and transaction, prepared on the
server. Rows come back as named tuples with every instant in UTC, as `UtcDateTime` hands them back, so the
same row readers serve them. Parameters are sent in binary (no quoting of every item of every array).
The batch's one write goes the same way, alone. SQLite, in process, has no round trips to save: it runs
them one by one through SQLAlchemy.
"""

from __future__ import annotations

import collections
import datetime as dt
import functools
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple

import psycopg
from sqlalchemy import Connection, Select, TextClause
from sqlalchemy.dialects import postgresql

from ledger.db.engine import translate_driver_error, unavailable_reason
from ledger.errors import DatabaseUnavailable

TIMESTAMPTZ_OID = 1184  # PostgreSQL's type of every instant the ledger stores (UtcDateTime)
MAX_STATEMENTS = 16  # a batch's reads are a handful; more would be a mistake, not a bigger batch
Statement = Select[Any] | TextClause
Statements = Sequence[tuple[Statement, Mapping[str, Any]]]  # statements and their parameters
_DIALECT = postgresql.dialect(paramstyle="pyformat")
_PLACEHOLDER = re.compile(r"%\((\w+)\)s")


class _Compiled(NamedTuple):
    sql: str
    literals: dict[str, Any]  # values the statement binds itself (a constant in a where clause)


@functools.lru_cache(maxsize=64)
def _compiled(statement: Statement) -> _Compiled:
    """The statement as psycopg runs it: built once, since the batch's statements are built once."""
    compiled = statement.compile(dialect=_DIALECT)
    literals = {name: value for name, value in compiled.params.items() if value is not None}
    # Parameters go in binary: a list of 32 texts dumps in ~6 us so, ~37 us as quoted text.
    sql = _PLACEHOLDER.sub(r"%(\1)b", str(compiled))
    return _Compiled(sql, literals)


def run_all(connection: Connection, statements: Statements) -> list[list[Any]]:
    """The rows of every statement, run in order: in one round trip on PostgreSQL, one by one elsewhere."""
    assert 1 <= len(statements) <= MAX_STATEMENTS
    if connection.dialect.name != "postgresql":
        return [list(connection.execute(statement, dict(parameters))) for statement, parameters in statements]
    driver = connection.connection.driver_connection
    assert isinstance(driver, psycopg.Connection)
    try:
        return _pipelined(driver, statements)
    except psycopg.Error as error:
        raise _translated(connection, driver, error) from error


def _pipelined(driver: psycopg.Connection[Any], statements: Statements) -> list[list[Any]]:
    cursors = []
    with driver.pipeline():
        for statement, parameters in statements:
            compiled = _compiled(statement)
            cursor = driver.cursor(row_factory=_utc_rows)
            cursor.execute(compiled.sql, {**compiled.literals, **parameters}, prepare=True)
            cursors.append(cursor)
    return [cursor.fetchall() for cursor in cursors]


def _utc_rows(cursor: Any) -> Callable[[Sequence[Any]], Any]:
    """Named-tuple rows whose instants are in UTC (PostgreSQL sends them in the session's time zone)."""
    description = cursor.description
    if description is None:
        return tuple
    row_type = _row_type(tuple(column.name for column in description))
    instants = [index for index, column in enumerate(description) if column.type_code == TIMESTAMPTZ_OID]
    if not instants:
        return lambda values: row_type._make(values)

    def make(values: Sequence[Any]) -> Any:
        row = list(values)
        for index in instants:
            if row[index] is not None:
                row[index] = row[index].astimezone(dt.UTC)
        return row_type._make(row)

    return make


@functools.lru_cache(maxsize=64)
def _row_type(names: tuple[str, ...]) -> Any:
    return collections.namedtuple("Row", names)


def _translated(connection: Connection, driver: psycopg.Connection[Any], error: psycopg.Error) -> Exception:
    """The errors the engine would have raised had SQLAlchemy run the statements itself."""
    disconnected = driver.closed or driver.broken
    if disconnected:
        connection.invalidate()  # the pool must not hand this connection out again
    reason = unavailable_reason(error, psycopg, connecting=False, disconnected=disconnected)
    if reason is not None:
        return DatabaseUnavailable(reason)
    return translate_driver_error(error)
