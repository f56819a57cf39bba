"""Group commit: concurrent writes in one process share one database transaction and one durable commit.

A leader/follower queue, no extra thread: the first writer to arrive leads. It takes up to `max_items`
queued writes, runs each in its own savepoint of one unit of work (a refusal rolls back only its own
savepoint, so batch-mates are neither failed nor changed), commits once, then wakes each writer with its
answer, so nothing is acknowledged before its batch is durable. Leadership passes to the next writer in the
queue. A lone writer is never delayed: the leader waits for company (at most `max_wait_seconds`) only
while the previous batch had some. If the batch itself fails (a deadlock, a conflict, a bug), nothing of
it was committed and each write is run again alone, in its own transaction, exactly as without batching.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from typing import Any, Generic, TypeVar

from ledger.errors import DatabaseUnavailable, LedgerError, RetryableConflict, ValidationFailed
from ledger.ports import UnitOfWork
from ledger.service import run_in_transaction

T = TypeVar("T")
Savepoint = Callable[[Any], AbstractContextManager[None]]
DEFAULT_MAX_ITEMS = 64
DEFAULT_MAX_WAIT_SECONDS = 0.002


def limits_from_environment(environment: Mapping[str, str]) -> tuple[int, float]:
    """(max items, max wait seconds) from CLUBCARD_BATCH_MAX_ITEMS and CLUBCARD_BATCH_MAX_WAIT_MS."""
    try:
        max_items = int(environment.get("CLUBCARD_BATCH_MAX_ITEMS") or DEFAULT_MAX_ITEMS)
        wait_milliseconds = float(
            environment.get("CLUBCARD_BATCH_MAX_WAIT_MS") or DEFAULT_MAX_WAIT_SECONDS * 1000
        )
    except ValueError as error:
        raise ValidationFailed(
            "CLUBCARD_BATCH_MAX_ITEMS and CLUBCARD_BATCH_MAX_WAIT_MS are numbers"
        ) from error
    if not 1 <= max_items <= 1000 or not 0 <= wait_milliseconds <= 1000:
        raise ValidationFailed(
            "CLUBCARD_BATCH_MAX_ITEMS is 1 to 1000; CLUBCARD_BATCH_MAX_WAIT_MS is 0 to 1000"
        )
    return max_items, wait_milliseconds / 1000


class _Pending(Generic[T]):
    """One queued write and, once its batch has committed, its answer."""

    def __init__(self, operation: Callable[[UnitOfWork], T]) -> None:
        self.operation = operation
        self.result: T | None = None
        self.error: BaseException | None = None
        self.alone = False  # run again in its own transaction after the batch
        self.leads = False
        self.woken = threading.Event()


class GroupCommit:
    """Gathers concurrent writes of one process into one database transaction (see the module)."""

    def __init__(
        self,
        uow_factory: Callable[..., Any],
        savepoint: Savepoint,
        *,
        max_items: int = DEFAULT_MAX_ITEMS,
        max_wait_seconds: float = DEFAULT_MAX_WAIT_SECONDS,
    ) -> None:
        assert max_items >= 1 and 0 <= max_wait_seconds <= 1
        self.uow_factory = uow_factory
        self.savepoint = savepoint
        self.max_items = max_items
        self.max_wait_seconds = max_wait_seconds
        self._queue: list[_Pending[Any]] = []
        self._leading = False
        self._arrived = threading.Condition()
        self._last_batch_size = 0
        self.batch_sizes: list[int] = []  # for tests and benchmarks: how writes were gathered

    def run(self, operation: Callable[[UnitOfWork], T]) -> T:
        """Run a write in the next batch; return its result (or raise its error) once the batch commits."""
        pending: _Pending[T] = _Pending(operation)
        with self._arrived:
            self._queue.append(pending)
            self._arrived.notify_all()
            if not self._leading:
                self._leading = pending.leads = True
        if not pending.leads:
            pending.woken.wait()
        if pending.leads:
            self._lead()
        if pending.error is not None:
            raise pending.error
        return pending.result  # type: ignore[return-value]

    def queued(self) -> int:
        """How many writes wait for the next batch."""
        with self._arrived:
            return len(self._queue)

    def _lead(self) -> None:
        """Take one batch, commit it, answer it, and hand the lead to the next writer waiting."""
        batch = self._take()
        self._commit(batch)
        with self._arrived:
            if self._queue:
                successor = self._queue[0]
                successor.leads = True
                successor.woken.set()
            else:
                self._leading = False
        for pending in batch:
            pending.woken.set()

    def _take(self) -> list[_Pending[Any]]:
        with self._arrived:
            if self._last_batch_size > 1 and len(self._queue) < self.max_items:
                # Under load, wait a moment for company; a lone writer (last batch of one) never waits.
                self._arrived.wait_for(lambda: len(self._queue) >= self.max_items, self.max_wait_seconds)
            batch, self._queue = self._queue[: self.max_items], self._queue[self.max_items :]
            self._last_batch_size = len(batch)
            self.batch_sizes.append(len(batch))
            return batch

    def _commit(self, batch: list[_Pending[Any]]) -> None:
        try:
            with self.uow_factory() as uow:
                for pending in batch:
                    self._run_one(uow, pending)
                uow.commit()
        except DatabaseUnavailable as error:
            for pending in batch:  # the commit may or may not have happened: never rerun behind the caller
                pending.error, pending.result, pending.alone = error, None, False
            return
        except BaseException:  # nothing of the batch was committed: each runs again alone
            for pending in batch:
                pending.error, pending.result, pending.alone = None, None, True
        for pending in batch:
            if pending.alone:
                self._run_alone(pending)

    def _run_one(self, uow: Any, pending: _Pending[Any]) -> None:
        try:
            with self.savepoint(uow):
                pending.result = pending.operation(uow)
        except RetryableConflict:
            pending.alone = True
        except DatabaseUnavailable:
            raise
        except LedgerError as refusal:  # insufficient funds, a limit, a replay mismatch: this write only
            pending.error = refusal
        except Exception:  # a bug in one write must not take its batch-mates down: it runs again alone
            pending.alone = True

    def _run_alone(self, pending: _Pending[Any]) -> None:
        try:
            pending.result = run_in_transaction(self.uow_factory, pending.operation)
        except BaseException as error:
            pending.error = error
