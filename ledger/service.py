"""Running use cases: one unit of work each, retried when the database asks for it."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import TypeVar

from ledger.errors import RetryableConflict
from ledger.ports import UnitOfWork, UnitOfWorkFactory

T = TypeVar("T")
MAX_ATTEMPTS = 12
BACKOFF_BASE_SECONDS = 0.002
BACKOFF_CAP_SECONDS = 0.2


def run_in_transaction(
    uow_factory: UnitOfWorkFactory, operation: Callable[[UnitOfWork], T], *, attempts: int = MAX_ATTEMPTS
) -> T:
    """Run `operation` in a fresh unit of work and commit; rerun it on a retryable conflict.

    DatabaseUnavailable is never rerun here: a connection lost during COMMIT may have lost the answer to a
    write that was applied, and after a restart the database needs seconds, not milliseconds. The caller
    retries with the same idempotency key, which replays the write if it was recorded."""
    for attempt in range(attempts):
        try:
            with uow_factory() as uow:
                result = operation(uow)
                uow.commit()
                return result
        except RetryableConflict:
            if attempt == attempts - 1:
                raise
            # Full jitter keeps colliding writers from colliding again in lockstep.
            time.sleep(random.uniform(0, min(BACKOFF_CAP_SECONDS, BACKOFF_BASE_SECONDS * 2**attempt)))
    raise AssertionError("unreachable")


def read_only(uow_factory: UnitOfWorkFactory, operation: Callable[[UnitOfWork], T]) -> T:
    """Run a read on one consistent snapshot (SERIALIZABLE READ ONLY DEFERRABLE on PostgreSQL)."""
    with uow_factory(read_only=True) as uow:
        return operation(uow)
