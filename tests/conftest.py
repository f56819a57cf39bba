"""Databases for tests: every integration test runs on SQLite and on PostgreSQL; the API driver on each.

PostgreSQL runs when CLUBCARD_TEST_DATABASE_URL is set (CI sets it, and then a PostgreSQL that cannot be
reached is an error, not a skip). Each test gets a fresh database cloned from a migrated template.
"""

from __future__ import annotations

import itertools
import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url

from ledger.db.bootstrap import migrate
from ledger.db.engine import make_engine, normalise_url
from tests.support.api import ApiDriver, driver_on

POSTGRES_URL = os.environ.get("CLUBCARD_TEST_DATABASE_URL", "")
NO_POSTGRES_REASON = (
    "PostgreSQL tests need CLUBCARD_TEST_DATABASE_URL (e.g. postgresql://postgres@127.0.0.1/test)"
)
_counter = itertools.count()


def _worker() -> str:
    return os.environ.get("PYTEST_XDIST_WORKER", "main")


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An SQLite file migrated once; each test copies it."""
    path = tmp_path_factory.mktemp("template") / "template.sqlite3"
    engine = make_engine(f"sqlite:///{path}")
    migrate(engine)
    engine.dispose()
    return path


class PostgresDatabases:
    """Creates throwaway PostgreSQL databases from one migrated template."""

    def __init__(self, base_url: str) -> None:
        self.base_url = make_url(normalise_url(base_url))
        self.admin = create_engine(self.base_url, isolation_level="AUTOCOMMIT", pool_size=1)
        self.prefix = f"cc_{_worker()}_{uuid.uuid4().hex[:6]}"
        self.template = f"{self.prefix}_template"
        with self.admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{self.template}"'))
        engine = make_engine(self.url(self.template))
        migrate(engine)
        engine.dispose()

    def url(self, name: str) -> str:
        """The URL of database `name` on the same server."""
        return self.base_url.set(database=name).render_as_string(hide_password=False)

    def create(self) -> str:
        """A fresh migrated database; returns its URL."""
        name = f"{self.prefix}_{next(_counter)}"
        with self.admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{self.template}"'))
        return self.url(name)

    def drop(self, url: str) -> None:
        """Drop a database made by create()."""
        name = make_url(url).database
        with self.admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))

    def close(self) -> None:
        """Drop the template and let go of the server."""
        with self.admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{self.template}" WITH (FORCE)'))
        self.admin.dispose()


def pytest_configure(config: pytest.Config) -> None:
    """In CI (CLUBCARD_REQUIRE_POSTGRES=1) a missing PostgreSQL URL is an error, never a skip."""
    if os.environ.get("CLUBCARD_REQUIRE_POSTGRES") == "1" and not POSTGRES_URL:
        raise pytest.UsageError("CLUBCARD_REQUIRE_POSTGRES=1 but CLUBCARD_TEST_DATABASE_URL is not set")


@pytest.fixture(scope="session")
def postgres_databases() -> Iterator[PostgresDatabases]:
    """The PostgreSQL test server, or a skip with the reason when none is configured."""
    if not POSTGRES_URL:
        pytest.skip(NO_POSTGRES_REASON)
    databases = PostgresDatabases(POSTGRES_URL)  # fails loudly if the configured server is unreachable
    yield databases
    databases.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, migrated database URL: once on SQLite, once on PostgreSQL."""
    if request.param == "sqlite":
        if request.node.get_closest_marker("postgres_only"):
            pytest.skip("this test is about PostgreSQL behaviour")
        path = tmp_path / "clubcard.sqlite3"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
        yield f"sqlite:///{path}"
        return
    databases: PostgresDatabases = request.getfixturevalue("postgres_databases")
    url = databases.create()
    yield url
    databases.drop(url)


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    """An engine on the fresh database."""
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def api(database_url: str, tmp_path: Path) -> Iterator[ApiDriver]:
    """The API on a fresh database (SQLite, then PostgreSQL) with a fixed clock: every API test's driver."""
    yield from driver_on(database_url, tmp_path)


@pytest.fixture
def world(api: ApiDriver) -> ApiDriver:
    """The same driver, under the name the value and redemption tests read as."""
    return api
