"""Engines for SQLite (embedded default) and PostgreSQL, with the settings correctness depends on.

Every wait is bounded: connecting, waiting for a pooled connection, a statement, a lock held by another
SQLite writer. A database that is down, restarting or too busy raises `DatabaseUnavailable` from the
engine itself, so every caller (a request, a job, a CLI command, a migration) sees one domain error.
"""

from __future__ import annotations

from typing import Any

import psycopg
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import ExceptionContext, make_url
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError

from ledger.errors import DatabaseUnavailable, RetryableConflict, ValidationFailed

SQLITE_BUSY_TIMEOUT_SECONDS = 30.0  # an SQLite URL's ?timeout= (seconds) overrides it
POOL_SIZE = 40
POOL_TIMEOUT_SECONDS = 10  # waiting longer for a pooled connection than this means the service is overloaded
CONNECT_TIMEOUT_SECONDS = 5
STATEMENT_TIMEOUT_SECONDS = 60
# libpq settings, each overridden by the same parameter in the URL's query string. Keepalives and the TCP
# user timeout notice a server that vanished without closing its connections (a power cut, a network cut).
POSTGRES_CONNECT_DEFAULTS: dict[str, Any] = {
    "connect_timeout": CONNECT_TIMEOUT_SECONDS,
    "keepalives": 1,
    "keepalives_idle": 10,
    "keepalives_interval": 5,
    "keepalives_count": 3,
    "tcp_user_timeout": 30_000,
    "options": f"-c statement_timeout={STATEMENT_TIMEOUT_SECONDS * 1000}",
}
# SQLSTATEs after which PostgreSQL guarantees nothing was applied and the transaction may simply rerun.
RETRYABLE_SQLSTATES = {"40001", "40P01", "55P03"}
# SQLSTATE classes after which the database, not the request, is the problem: connection exception (08),
# insufficient resources (53), operator intervention such as a shutdown or a statement timeout (57),
# system error (58).
UNAVAILABLE_SQLSTATE_CLASSES = {"08", "53", "57", "58"}


def normalise_url(url: str) -> str:
    """Use psycopg 3 for plain postgresql:// URLs."""
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def make_engine(url: str, **kwargs: Any) -> Engine:
    """Create an engine; on SQLite every write transaction starts with BEGIN IMMEDIATE."""
    url = normalise_url(url)
    if make_url(url).get_backend_name() == "sqlite":
        engine = _sqlite_engine(url, **kwargs)
    else:
        engine = _postgres_engine(url, **kwargs)
    event.listen(engine, "handle_error", _raise_unavailable)
    return engine


def _postgres_engine(url: str, **kwargs: Any) -> Engine:
    query = make_url(url).query
    connect_args = {name: value for name, value in POSTGRES_CONNECT_DEFAULTS.items() if name not in query}
    connect_args.update(kwargs.pop("connect_args", {}))
    kwargs.setdefault("pool_size", POOL_SIZE)
    kwargs.setdefault("max_overflow", 10)
    kwargs.setdefault("pool_timeout", POOL_TIMEOUT_SECONDS)
    # A connection killed while idle in the pool (a restart, pg_terminate_backend) is replaced on checkout.
    kwargs.setdefault("pool_pre_ping", True)
    return create_engine(url, connect_args=connect_args, **kwargs)


def _sqlite_engine(url: str, **kwargs: Any) -> Engine:
    if ":memory:" in url or url.rstrip("/") == "sqlite:":
        raise ValueError("use an SQLite file: an in-memory database is private to one connection")
    busy_timeout_milliseconds = round(
        float(make_url(url).query.get("timeout", SQLITE_BUSY_TIMEOUT_SECONDS)) * 1000  # type: ignore[arg-type]
    )
    kwargs.setdefault("pool_timeout", POOL_TIMEOUT_SECONDS)
    engine = create_engine(url, **kwargs)

    @event.listens_for(engine, "connect")
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control away from pysqlite so we can emit BEGIN IMMEDIATE ourselves:
        # a deferred BEGIN lets two writers both read a balance and then both spend it.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout={busy_timeout_milliseconds}")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def on_begin(connection: Any) -> None:
        read_only = connection.get_execution_options().get("clubcard_read_only", False)
        connection.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")

    return engine


def _raise_unavailable(context: ExceptionContext) -> None:
    """Turn "the database is down, restarting or too busy" into DatabaseUnavailable; leave the rest alone."""
    if context.is_pre_ping:
        return  # the pool replaces a dead connection by itself
    reason = unavailable_reason(
        context.original_exception,
        context.dialect.loaded_dbapi,
        connecting=context.connection is None,
        disconnected=context.is_disconnect,
    )
    if reason is not None:
        raise DatabaseUnavailable(reason)


def unavailable_reason(
    error: BaseException, dbapi: Any, *, connecting: bool, disconnected: bool
) -> str | None:
    """Why the database cannot serve us now, in plain English; None when the error is about the request."""
    if getattr(error, "sqlite_errorname", "").startswith(("SQLITE_BUSY", "SQLITE_LOCKED")):
        # The busy timeout has already been waited out: waiting again here would only hold the caller longer.
        return "the database is busy with another write; try again in a few seconds"
    if not isinstance(error, dbapi.OperationalError | dbapi.InterfaceError):
        return None
    if connecting:
        return f"cannot connect to the database ({_short_cause(error)}); try again in a few seconds"
    if disconnected:
        return "the connection to the database was lost; try again in a few seconds"
    sqlstate: str | None = getattr(error, "sqlstate", "")
    if sqlstate == "":
        return None  # not PostgreSQL: SQLite's OperationalError is also "no such table", a bug, not an outage
    if sqlstate == "57014":
        return f"the database took longer than {STATEMENT_TIMEOUT_SECONDS} s to answer; try again later"
    if sqlstate is None or sqlstate[:2] in UNAVAILABLE_SQLSTATE_CLASSES:
        return "the database is not answering; try again in a few seconds"
    return None


def _short_cause(error: BaseException) -> str:
    """The driver's reason without the server's address, such as "Connection refused"."""
    first_line = (str(error).strip().splitlines() or ["no reason given"])[0]
    cause = first_line.rsplit("failed: ", 1)[-1].removeprefix("FATAL:").strip()
    return cause[:200] or "no reason given"


def translate(error: DBAPIError) -> Exception:
    """Turn retryable failures into RetryableConflict and NUL-in-text into ValidationFailed; others stay.

    An unreachable, restarting or locked database never gets here: the engine raises DatabaseUnavailable."""
    code = getattr(error.orig, "sqlstate", None)
    if code in RETRYABLE_SQLSTATES:
        return RetryableConflict(f"database asked for a retry ({code})")
    if isinstance(error, DataError) and "NUL (0x00)" in str(error.orig):
        # Any text input, from a URL or a JSON body, reaches PostgreSQL this way; it is bad input, not a bug.
        return ValidationFailed("text may not contain NUL characters")
    if isinstance(error, IntegrityError) and (
        code == "23505" or "UNIQUE constraint failed" in str(error.orig)
    ):
        # A concurrent transaction inserted the same unique row first (an account by name, a key):
        # rerunning sees its row and takes the existing-row path.
        return RetryableConflict("a concurrent write created the same row")
    return error


def translate_driver_error(error: Exception) -> Exception:
    """A driver error raised outside SQLAlchemy (pipeline mode, COPY), translated as `translate` does one
    SQLAlchemy wrapped; any other error as it is."""
    if not isinstance(error, psycopg.Error):
        return error
    wrapped = DBAPIError.instance(None, None, error, psycopg.Error)
    assert isinstance(wrapped, DBAPIError)
    return translate(wrapped)
