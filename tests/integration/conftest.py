"""Fixtures for ledger integration tests: a unit-of-work factory and a fixed clock."""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import Engine

from ledger.clock import FixedClock
from ledger.db.uow import SqlUnitOfWork, unit_of_work_factory
from ledger.service import run_in_transaction
from ledger.units import AccountKind, Unit
from ledger.usecases import flows
from ledger.usecases.common import ensure_account
from ledger.usecases.schemes import create_scheme

START = dt.datetime(2026, 11, 1, 9, 0, tzinfo=dt.UTC)


class Books:
    """A small driver over the use cases, so tests read as what happens to the books."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.uow: Callable[..., SqlUnitOfWork] = unit_of_work_factory(engine)
        self.clock = FixedClock(START)
        self._keys = itertools.count()

    def key(self) -> str:
        """A fresh idempotency key."""
        return f"test-{next(self._keys)}"

    def run(self, operation: Callable[[Any], Any]) -> Any:
        """Run one use case in its own transaction."""
        return run_in_transaction(self.uow, operation)

    def scheme(
        self, slug: str, unit: Unit = Unit.GBP, rules: dict[str, Any] | None = None, funded_minor: int = 0
    ) -> dict[str, Any]:
        """Create (and optionally fund) a scheme."""
        scheme = self.run(
            lambda uow: create_scheme(
                uow,
                slug=slug,
                name=slug.title(),
                unit=unit,
                rules=rules or {},
                now=self.clock.now(),
                actor="test",
            )
        )
        if funded_minor:
            self.run(
                lambda uow: flows.fund(
                    uow,
                    scheme=scheme,
                    amount_minor=funded_minor,
                    now=self.clock.now(),
                    actor="finance",
                    key=self.key(),
                )
            )
        return dict(scheme)

    def payable(self, outlet: str, unit: Unit = Unit.GBP) -> str:
        """An outlet's payable account id."""
        return str(
            self.run(
                lambda uow: ensure_account(
                    uow,
                    name=f"outlet:{outlet}:payable:{unit.value}",
                    unit=unit,
                    kind=AccountKind.PAYABLE,
                    floor_minor=None,
                    now=self.clock.now(),
                )
            ).id
        )

    def balance(self, account_id: str) -> int:
        """The current balance of an account."""
        return int(self.run(lambda uow: uow.accounts.balance(account_id)))

    def wallet(self, owner_id: str, scheme: dict[str, Any]) -> int:
        """A wallet's balance in one scheme."""
        return int(self.run(lambda uow: uow.lots.owners_total(owner_id, scheme["id"])))


@pytest.fixture
def books(engine: Engine) -> Books:
    """The ledger on a fresh database."""
    return Books(engine)
