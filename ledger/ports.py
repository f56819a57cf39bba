"""What use cases need from persistence: a unit of work (ledger.db.uow.SqlUnitOfWork implements it)."""

from __future__ import annotations

from collections.abc import Callable
from types import TracebackType
from typing import Any, Protocol


class UnitOfWork(Protocol):
    """One atomic database transaction and the repositories bound to it."""

    dialect: str
    accounts: Any
    journal: Any
    lots: Any
    holds: Any
    audit: Any
    books: Any
    idempotency: Any
    schemes: Any
    bulk: Any
    verify: Any
    export: Any
    registry: Any
    jobs: Any
    people: Any
    activity: Any
    keys: Any
    offline_shortfalls: Any
    oversight: Any
    staff: Any
    resident_access: Any
    insight: Any
    street_pot: Any
    topups: Any
    stripe_events: Any
    settlements: Any

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
