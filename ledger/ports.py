"""What use cases need from persistence: a unit of work (ledger.db.uow.SqlUnitOfWork implements it)."""

from __future__ import annotations

from collections.abc import Callable
from types import TracebackType
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    # Types only: the use cases see the repositories' real signatures, and nothing imports SQL at run time.
    from ledger.db.accounts_repository import AccountsRepository
    from ledger.db.audit_repository import AuditRepository
    from ledger.db.books_repository import BooksRepository
    from ledger.db.bulk_repository import BulkRepository
    from ledger.db.export_repository import ExportRepository
    from ledger.db.holds_repository import HoldsRepository
    from ledger.db.insight_repository import InsightRepository
    from ledger.db.journal_repository import IdempotencyRepository
    from ledger.db.keys_repository import KeysRepository
    from ledger.db.lots_repository import LotsRepository
    from ledger.db.offline_shortfalls_repository import OfflineShortfallsRepository
    from ledger.db.oversight_repository import OversightRepository
    from ledger.db.registry_repository import RegistryRepository
    from ledger.db.resident_access_repository import ResidentAccessRepository
    from ledger.db.settlements_repository import SettlementsRepository
    from ledger.db.staff_repository import StaffRepository
    from ledger.db.topups_repository import StripeEventsRepository
    from ledger.db.verify_repository import VerifyRepository


# Still Any: some of their callers use an optional result (a scheme, a job, a card that may be None) without
# checking, and those callers belong to work in progress (spend_batch: its repository is not yet committed);
# typing these makes mypy name each such line.
UNTYPED_REPOSITORIES = (
    "journal",
    "schemes",
    "jobs",
    "people",
    "activity",
    "street_pot",
    "topups",
    "spend_batch",
)


class UnitOfWork(Protocol):
    """One atomic database transaction and the repositories bound to it."""

    dialect: str
    accounts: AccountsRepository
    journal: Any  # see UNTYPED_REPOSITORIES
    lots: LotsRepository
    holds: HoldsRepository
    audit: AuditRepository
    books: BooksRepository
    idempotency: IdempotencyRepository
    schemes: Any  # see UNTYPED_REPOSITORIES
    bulk: BulkRepository
    verify: VerifyRepository
    export: ExportRepository
    registry: RegistryRepository
    jobs: Any  # see UNTYPED_REPOSITORIES
    people: Any  # see UNTYPED_REPOSITORIES
    activity: Any  # see UNTYPED_REPOSITORIES
    keys: KeysRepository
    offline_shortfalls: OfflineShortfallsRepository
    oversight: OversightRepository
    staff: StaffRepository
    resident_access: ResidentAccessRepository
    insight: InsightRepository
    spend_batch: Any  # see UNTYPED_REPOSITORIES
    street_pot: Any  # see UNTYPED_REPOSITORIES
    topups: Any  # see UNTYPED_REPOSITORIES
    stripe_events: StripeEventsRepository
    settlements: SettlementsRepository

    def __enter__(self) -> UnitOfWork:
        """Begin (or join) the transaction."""
        ...

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        """Roll back unless committed; close."""
        ...

    def commit(self) -> None:
        """Commit the transaction."""
        ...


UnitOfWorkFactory = Callable[..., UnitOfWork]
