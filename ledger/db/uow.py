"""The SQL unit of work: one database transaction, with repositories bound to its connection."""

from __future__ import annotations

from collections.abc import Callable
from types import TracebackType
from typing import Any

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from ledger.db.accounts_repository import AccountsRepository
from ledger.db.activity_repository import ActivityRepository
from ledger.db.audit_repository import AuditRepository
from ledger.db.books_repository import BooksRepository
from ledger.db.bulk_repository import BulkRepository
from ledger.db.engine import translate
from ledger.db.export_repository import ExportRepository
from ledger.db.holds_repository import HoldsRepository
from ledger.db.insight_repository import InsightRepository
from ledger.db.jobs_repository import JobsRepository
from ledger.db.journal_repository import IdempotencyRepository, JournalRepository
from ledger.db.keys_repository import KeysRepository
from ledger.db.lots_repository import LotsRepository
from ledger.db.offline_shortfalls_repository import OfflineShortfallsRepository
from ledger.db.oversight_repository import OversightRepository
from ledger.db.people_repository import PeopleRepository
from ledger.db.registry_repository import RegistryRepository
from ledger.db.resident_access_repository import ResidentAccessRepository
from ledger.db.schemes_repository import SchemesRepository
from ledger.db.settlements_repository import SettlementsRepository
from ledger.db.spend_batch_repository import SpendBatchRepository
from ledger.db.staff_repository import StaffRepository
from ledger.db.street_pot_repository import StreetPotRepository
from ledger.db.topups_repository import StripeEventsRepository, TopUpsRepository
from ledger.db.verify_repository import VerifyRepository
from ledger.errors import DatabaseUnavailable

COMMIT_OUTCOME_UNKNOWN = (
    "the database went away while this write was being committed, so it may or may not have been recorded: "
    "repeat it with the same Idempotency-Key, which replays it if it was"
)


class SqlUnitOfWork:
    """A unit of work over one connection and one database transaction; re-entrant."""

    def __init__(self, engine: Engine, *, read_only: bool = False) -> None:
        self.engine = engine
        self.read_only = read_only
        self.dialect = engine.dialect.name
        self._depth = 0
        self._connection: Connection | None = None
        self._committed = False

    @property
    def connection(self) -> Connection:
        """The open connection; only valid inside `with`."""
        assert self._connection is not None, "use the unit of work inside a with block"
        return self._connection

    def __enter__(self) -> SqlUnitOfWork:
        self._depth += 1
        if self._depth > 1:
            return self
        try:
            connection = self._begin()
        except BaseException:
            self._depth = 0
            raise
        self._connection = connection
        self._committed = False
        self._bind_repositories(connection)
        return self

    def _begin(self) -> Connection:
        """A pooled connection with its transaction begun; DatabaseUnavailable when there is none to have."""
        try:
            connection = self.engine.connect()
        except PoolTimeoutError as error:
            raise DatabaseUnavailable(
                "every database connection is in use; try again in a few seconds"
            ) from error
        try:
            if self.read_only:
                connection = _read_only(connection)
            connection.begin()
        except BaseException as error:
            connection.close()
            if isinstance(error, DBAPIError):
                raise translate(error) from error
            raise
        return connection

    def _bind_repositories(self, connection: Connection) -> None:
        self.accounts = AccountsRepository(connection)
        self.journal = JournalRepository(connection)
        self.lots = LotsRepository(connection)
        self.holds = HoldsRepository(connection)
        self.audit = AuditRepository(connection)
        self.books = BooksRepository(connection)
        self.idempotency = IdempotencyRepository(connection)
        self.schemes = SchemesRepository(connection)
        self.bulk = BulkRepository(connection)
        self.verify = VerifyRepository(connection)
        self.export = ExportRepository(connection)
        self.registry = RegistryRepository(connection)
        self.jobs = JobsRepository(connection)
        self.people = PeopleRepository(connection)
        self.activity = ActivityRepository(connection)
        self.keys = KeysRepository(connection)
        self.offline_shortfalls = OfflineShortfallsRepository(connection)
        self.oversight = OversightRepository(connection)
        self.staff = StaffRepository(connection)
        self.resident_access = ResidentAccessRepository(connection)
        self.insight = InsightRepository(connection)
        self.spend_batch = SpendBatchRepository(connection)
        self.street_pot = StreetPotRepository(connection)
        self.topups = TopUpsRepository(connection)
        self.stripe_events = StripeEventsRepository(connection)
        self.settlements = SettlementsRepository(connection)

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self._depth -= 1
        if self._depth > 0:
            return
        connection = self.connection
        self._connection = None
        try:
            if not self._committed:
                connection.rollback()
        except DatabaseUnavailable:
            pass  # a connection that is gone has no transaction left: the server aborted it
        finally:
            connection.close()
        if isinstance(error, DBAPIError):
            raise translate(error) from error

    def commit(self) -> None:
        """Commit, unless an enclosing `with` owns the transaction."""
        if self._depth > 1:
            return
        try:
            self.connection.commit()
        except DatabaseUnavailable as error:
            # The COMMIT may have been applied before the connection went: never rerun it here.
            raise DatabaseUnavailable(COMMIT_OUTCOME_UNKNOWN) from error
        except DBAPIError as error:
            raise translate(error) from error
        self._committed = True

    def execute_now(self, statement: Any, parameters: Any = None) -> Any:
        """Run a statement on the open connection (for repositories outside ledger.db)."""
        return self.connection.execute(statement, parameters)


def _read_only(connection: Connection) -> Connection:
    if connection.dialect.name == "postgresql":
        # Auditor reads see one consistent snapshot that can never be rolled back for serialisation.
        return connection.execution_options(
            isolation_level="SERIALIZABLE", postgresql_readonly=True, postgresql_deferrable=True
        )
    return connection.execution_options(clubcard_read_only=True)


def unit_of_work_factory(engine: Engine) -> Callable[..., SqlUnitOfWork]:
    """A factory of units of work on this engine: `factory()` or `factory(read_only=True)`."""

    def make(*, read_only: bool = False) -> SqlUnitOfWork:
        return SqlUnitOfWork(engine, read_only=read_only)

    return make
