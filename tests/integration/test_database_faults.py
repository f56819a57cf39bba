"""The database goes away or stays locked: 503 problem+json with Retry-After, never a 500, and nothing lost.

PostgreSQL: the test database's own connections are killed with pg_terminate_backend while requests are in
flight (a real server restart, which would disturb everyone sharing the server, is bench/db_restart.py).
SQLite: another connection holds the write lock past the busy timeout.
"""

from __future__ import annotations

import os
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from werkzeug.test import TestResponse

from ledger.db.engine import make_engine
from ledger.db.uow import unit_of_work_factory
from ledger.errors import DatabaseUnavailable
from ledger.service import run_in_transaction
from tests.conftest import PostgresDatabases
from tests.support.api import PROBLEM, World, driver_on

REDEEM = "/api/v1/redemptions"
ISSUED_MINOR = 5_000
SPEND_MINOR = 10
IN_FLIGHT = 3
WAIT_SECONDS = 30
SPENDING = {"spending": {"outlet_categories": ["leisure-centre"]}}


class Counter:
    """Who called it and how often: a unit of work whose commit loses its connection."""

    def __init__(self) -> None:
        self.operations = 0
        self.commits = 0


class CommitLostUnitOfWork:
    """A fake unit of work whose COMMIT fails as a connection dropped mid-commit does."""

    def __init__(self, counter: Counter) -> None:
        self.counter = counter

    def __enter__(self) -> CommitLostUnitOfWork:
        return self

    def __exit__(self, *_: object) -> None:
        return None

    def commit(self) -> None:
        self.counter.commits += 1
        raise DatabaseUnavailable("the database went away while this write was being committed")


class Kiosk:
    """Redemptions at one outlet from a card with money on it, each on its own test client."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.scheme = world.scheme("leisure", "GBP", SPENDING, funded=100_000)
        self.resident = world.resident((self.scheme,))
        _, self.token = world.card(self.resident)
        issued = world.post(
            "/api/v1/issuances",
            {"scheme": "leisure", "resident_id": self.resident, "amount_minor": ISSUED_MINOR},
            world.staff("caseworker"),
        )
        assert issued.status_code == 201, issued.get_json()
        _, self.device = world.outlet(["leisure-centre"], ["leisure"])

    def redeem(self, key: str) -> TestResponse:
        """Spend SPEND_MINOR under this Idempotency-Key."""
        return self.world.app.test_client().post(
            REDEEM,
            json={"card_token": self.token, "amount_minor": SPEND_MINOR, "scheme": "leisure"},
            headers={"Authorization": f"Bearer {self.device}", "Idempotency-Key": key},
        )

    def wallet(self) -> int:
        """What is left on the card."""
        return self.world.wallet(self.resident, self.scheme)


def assert_unavailable(response: TestResponse) -> dict[str, Any]:
    """A 503 problem+json of type unavailable, telling the client when to come back."""
    assert response.status_code == 503, response.get_data(as_text=True)
    assert response.content_type == "application/problem+json"
    body = dict(response.get_json())
    assert body["type"] == PROBLEM + "unavailable" and body["status"] == 503 and body["detail"], body
    assert int(response.headers["Retry-After"]) > 0
    return body


def libpq_url(url: str) -> str:
    """The URL without SQLAlchemy's driver name, for psycopg."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def terminate_connections(databases: PostgresDatabases, url: str) -> int:
    """Kill every connection to this test's database (never another engineer's); how many were killed."""
    with databases.admin.connect() as connection:
        return int(
            connection.execute(
                text("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = :name"),
                {"name": make_url(url).database},
            ).scalar_one()
        )


def wait_for_lock_waiters(databases: PostgresDatabases, url: str, count: int) -> None:
    """Block until `count` backends of this database wait on a lock."""
    deadline = time.monotonic() + WAIT_SECONDS
    query = text("SELECT count(*) FROM pg_stat_activity WHERE datname = :name AND wait_event_type = 'Lock'")
    while time.monotonic() < deadline:
        with databases.admin.connect() as connection:
            if connection.execute(query, {"name": make_url(url).database}).scalar_one() >= count:
                return
        time.sleep(0.05)
    raise AssertionError(f"{count} requests never reached the lock")


@pytest.fixture
def postgres_url(postgres_databases: PostgresDatabases) -> Iterator[str]:
    """A fresh PostgreSQL database of this test's own, which it may cut off."""
    url = postgres_databases.create()
    yield url
    postgres_databases.drop(url)


@pytest.fixture
def postgres_world(postgres_url: str, tmp_path: Path) -> Iterator[World]:
    """The app on that database."""
    yield from driver_on(postgres_url, tmp_path)


def test_a_write_whose_commit_was_lost_is_not_run_again_behind_the_callers_back() -> None:
    counter = Counter()

    def operation(_uow: Any) -> str:
        counter.operations += 1
        return "receipt"

    with pytest.raises(DatabaseUnavailable):
        run_in_transaction(lambda **_: CommitLostUnitOfWork(counter), operation)
    assert (counter.operations, counter.commits) == (1, 1)


def test_waiting_too_long_for_a_pooled_connection_is_unavailable_not_a_crash(database_url: str) -> None:
    engine = make_engine(database_url, pool_size=1, max_overflow=0, pool_timeout=0.2)
    ran: list[str] = []
    try:
        with (
            engine.connect(),
            pytest.raises(DatabaseUnavailable, match="every database connection is in use"),
        ):
            run_in_transaction(unit_of_work_factory(engine), lambda uow: ran.append("ran"))
        assert run_in_transaction(unit_of_work_factory(engine), lambda uow: "back") == "back"
    finally:
        engine.dispose()
    assert ran == []


def test_requests_in_flight_when_postgresql_drops_its_connections_get_503_and_the_service_recovers(
    postgres_world: World, postgres_url: str, postgres_databases: PostgresDatabases
) -> None:
    kiosk = Kiosk(postgres_world)
    staff = postgres_world.staff("scheme_manager")
    acknowledged = {kiosk.redeem("before").get_json()["transaction_id"]}
    in_flight: dict[str, TestResponse] = {}
    reads: list[TestResponse] = []
    stop_reading = threading.Event()

    def spend(key: str) -> None:
        in_flight[key] = kiosk.redeem(key)

    def read() -> None:
        client = postgres_world.app.test_client()
        while not stop_reading.is_set():
            reads.append(client.get("/api/v1/schemes", headers={"Authorization": f"Bearer {staff}"}))

    # Writes queue behind a table lock, so they are certainly inside the database when it drops them.
    locker = psycopg.connect(libpq_url(postgres_url))
    try:
        locker.execute("LOCK TABLE postings IN EXCLUSIVE MODE")
        spenders = [threading.Thread(target=spend, args=(f"in-flight-{n}",)) for n in range(IN_FLIGHT)]
        reader = threading.Thread(target=read)
        for thread in [*spenders, reader]:
            thread.start()
        # Group commit: the first write's batch waits in the database; the others queue behind it in process.
        wait_for_lock_waiters(postgres_databases, postgres_url, 1)
        assert terminate_connections(postgres_databases, postgres_url) >= 1
        for thread in spenders:
            thread.join(WAIT_SECONDS)
    finally:
        stop_reading.set()
        locker.close()  # killed with the others: its lock went with it
    reader.join(WAIT_SECONDS)

    assert sorted(in_flight) == [f"in-flight-{n}" for n in range(IN_FLIGHT)]
    dropped = [response for response in in_flight.values() if response.status_code != 201]
    assert dropped, "the batch inside the database when it dropped its connections was answered 503"
    for response in dropped:
        assert "lost" in assert_unavailable(response)["detail"]
    assert reads and {response.status_code for response in reads} <= {200, 503}
    for response in reads:
        if response.status_code == 503:
            assert_unavailable(response)
    # The same app, no restart: new writes work, and each dropped write, repeated under its key, is made once.
    after = kiosk.redeem("after")
    assert after.status_code == 201, after.get_json()
    acknowledged.add(after.get_json()["transaction_id"])
    for key in in_flight:
        repeated = kiosk.redeem(key)
        assert repeated.status_code == 201, repeated.get_json()
        assert kiosk.redeem(key).get_json() == repeated.get_json()
        acknowledged.add(repeated.get_json()["transaction_id"])
    assert kiosk.wallet() == ISSUED_MINOR - SPEND_MINOR * len(acknowledged)
    postgres_world.assert_audit_ok()


def test_while_postgresql_refuses_connections_every_request_is_503_until_it_is_back(
    postgres_world: World, postgres_url: str, postgres_databases: PostgresDatabases
) -> None:
    kiosk = Kiosk(postgres_world)
    staff = postgres_world.staff("scheme_manager")
    name = make_url(postgres_url).database
    with postgres_databases.admin.connect() as connection:
        connection.execute(text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false'))
    try:
        terminate_connections(postgres_databases, postgres_url)
        refused = assert_unavailable(kiosk.redeem("while-down"))
        assert "cannot connect to the database" in refused["detail"]
        assert_unavailable(postgres_world.get("/api/v1/schemes", staff))
    finally:
        with postgres_databases.admin.connect() as connection:
            connection.execute(text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true'))
    assert postgres_world.get("/api/v1/schemes", staff).status_code == 200
    assert kiosk.redeem("while-down").status_code == 201
    assert kiosk.wallet() == ISSUED_MINOR - SPEND_MINOR
    postgres_world.assert_audit_ok()


def test_a_write_waiting_past_the_sqlite_busy_timeout_gets_503_and_changes_nothing(
    sqlite_template: Path, tmp_path: Path
) -> None:
    path = tmp_path / "clubcard.sqlite3"
    path.write_bytes(sqlite_template.read_bytes())
    world = World.on(f"sqlite:///{path}?timeout=0.2", tmp_path)
    try:
        kiosk = Kiosk(world)
        books = world.books()
        other_writer = sqlite3.connect(path, isolation_level=None)
        other_writer.execute("BEGIN IMMEDIATE")
        try:
            assert "busy" in assert_unavailable(kiosk.redeem("locked-out"))["detail"]
            assert world.get(f"/api/v1/cards/{kiosk.token}/entitlements", kiosk.device).status_code == 200
        finally:
            other_writer.execute("ROLLBACK")
            other_writer.close()
        assert world.books() == books and kiosk.wallet() == ISSUED_MINOR
        assert kiosk.redeem("locked-out").status_code == 201  # the key was not used up by the refused write
        assert kiosk.wallet() == ISSUED_MINOR - SPEND_MINOR
        world.assert_audit_ok()
    finally:
        world.close()


def test_a_cli_command_against_a_database_that_is_down_prints_one_line(tmp_path: Path) -> None:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("CLUBCARD_")}
    environment["CLUBCARD_DATA_DIR"] = str(tmp_path)
    made = subprocess.run(
        [sys.executable, "-m", "admin.cli", "keys", "create", "--role", "auditor", "--label", "keys on disk"],
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert made.returncode == 0, made.stderr
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    environment["CLUBCARD_DATABASE_URL"] = f"postgresql://postgres@127.0.0.1:{closed_port}/clubcard"
    checked = subprocess.run(
        [sys.executable, "-m", "admin.cli", "audit", "check"],
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert checked.returncode == 1
    assert checked.stderr.splitlines() == [
        "error: cannot connect to the database (Connection refused); try again in a few seconds"
    ]
