"""Group commit: concurrent writes in one process share one database transaction and one durable commit.

A leader/follower queue, no extra thread: the first writer to arrive leads. It takes up to `max_items`
queued writes into one unit of work. Writes that carry a batchable item (a redemption) go through the
set-based executor together: a fixed handful of statements for the whole batch, every refusal decided by
the planner before anything is written (ledger.usecases.redemption_batch). Any other write runs in its own
savepoint (a refusal rolls back only its own savepoint). Either way batch-mates are neither failed nor
changed by one refusal. The leader commits once, then wakes each writer with its answer, so nothing is
acknowledged before its batch is durable.

As soon as a leader has taken its batch, the first writer still queued may lead the next one (up to
`max_batches_in_flight` batches at once), so one batch is planned in Python while the one before it waits
on the database. Batches lock wallets in one global order, so they wait for each other, never deadlock.
With `overlap_commits` a batch that has done all its work and only waits for its COMMIT (the durable
flush) no longer counts as in flight: the next batch is taken and planned meanwhile, and waits for the
committing one only where they share a row.

A lone writer is never delayed: the leader waits for company only while the previous batch had some, and
only until as many writers as it had have queued, at most `max_wait_seconds`. If the batch itself fails
(a deadlock, a conflict, a bug), nothing of it was committed and each write is run again alone, in its own
transaction, exactly as without batching.
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
# Runs many batchable items in one unit of work: per item its result, its refusal, or RUN_ALONE.
SetBased = Callable[[Any, list[Any]], list[Any]]
DEFAULT_MAX_ITEMS = 64
DEFAULT_MAX_WAIT_SECONDS = 0.002
DEFAULT_BATCHES_IN_FLIGHT = 1


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

    def __init__(self, operation: Callable[[UnitOfWork], T], item: Any = None) -> None:
        self.operation = operation
        self.item = item  # for the set-based executor; `operation` stays its single path
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
        set_based: SetBased | None = None,
        run_alone: object = None,
        max_batches_in_flight: int = DEFAULT_BATCHES_IN_FLIGHT,
        prepare: Callable[[Any], None] | None = None,
        overlap_commits: bool = False,
    ) -> None:
        assert max_items >= 1 and 0 <= max_wait_seconds <= 1 and 1 <= max_batches_in_flight <= 16
        assert (set_based is None) == (run_alone is None), "a set-based executor names its RUN_ALONE"
        self.uow_factory = uow_factory
        self.savepoint = savepoint
        self.set_based = set_based
        self.run_alone = run_alone
        self.max_items = max_items
        self.max_wait_seconds = max_wait_seconds
        self.max_batches_in_flight = max_batches_in_flight
        self.prepare = prepare  # per item, in the writer's thread: work that needs no database
        # A batch that has done its work and only waits for its COMMIT no longer counts as in flight.
        self.overlap_commits = overlap_commits
        self._queue: list[_Pending[Any]] = []
        self._leaders = 0  # batches being taken or committed
        self._taking = False  # a leader is gathering its batch: newcomers join it rather than lead
        self._arrived = threading.Condition()
        self._last_batch_size = 0
        self._company = 0  # how many queued writes the leader waiting for company wants (0: none waits)
        self.batch_sizes: list[int] = []  # for tests and benchmarks: how writes were gathered

    def run(self, operation: Callable[[UnitOfWork], T], item: Any = None) -> T:
        """Run a write in the next batch; return its result (or raise its error) once the batch commits.

        With an `item`, the write goes through the set-based executor with its batch-mates' items, and
        `operation` (the same write on the single path) runs only if the batch hands it back or fails."""
        assert item is None or self.set_based is not None
        if item is not None and self.prepare is not None:
            self.prepare(item)  # off the leader's path: it holds the batch's connection meanwhile
        pending: _Pending[T] = _Pending(operation, item)
        with self._arrived:
            self._queue.append(pending)
            if len(self._queue) == self._company:  # wake the leader waiting for company, once
                self._arrived.notify_all()
            if not self._taking and self._leaders < self.max_batches_in_flight:
                self._appoint(pending)
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
        """Take one batch, let the next writer lead the next, commit this one, answer it."""
        batch = self._take()
        handed_over = False

        def hand_over() -> None:
            nonlocal handed_over
            if not handed_over:
                handed_over = True
                with self._arrived:
                    self._leaders -= 1
                    self._appoint_next()

        self._commit(batch, hand_over if self.overlap_commits else None)
        hand_over()
        for pending in batch:
            pending.woken.set()

    def _appoint(self, pending: _Pending[Any]) -> None:
        """Make `pending` the leader gathering the next batch (call with the condition held)."""
        assert not self._taking and self._leaders < self.max_batches_in_flight
        self._leaders += 1
        self._taking = pending.leads = True

    def _appoint_next(self) -> None:
        """The first writer waiting leads next, if another batch may be in flight (condition held)."""
        if self._queue and not self._taking and self._leaders < self.max_batches_in_flight:
            successor = self._queue[0]
            assert not successor.leads, "the writer first in the queue is not yet leading"
            self._appoint(successor)
            successor.woken.set()

    def _take(self) -> list[_Pending[Any]]:
        with self._arrived:
            company = min(self._last_batch_size, self.max_items)
            if company > 1 and len(self._queue) < company:
                # Under load, wait a moment for as much company as the last batch had (its writers are
                # on their way back); a lone writer (last batch of one) never waits.
                # Only the arrival that completes the company wakes it: a wake-up per arrival cost each
                # batch a thread switch per writer, all to find the queue still short.
                self._company = company
                self._arrived.wait_for(lambda: len(self._queue) >= company, self.max_wait_seconds)
                self._company = 0
            batch, self._queue = self._queue[: self.max_items], self._queue[self.max_items :]
            self._last_batch_size = len(batch)
            self.batch_sizes.append(len(batch))
            self._taking = False
            self._appoint_next()
            return batch

    def _commit(self, batch: list[_Pending[Any]], before_commit: Callable[[], None] | None) -> None:
        try:
            with self.uow_factory() as uow:
                self._run_set_based(uow, [pending for pending in batch if pending.item is not None])
                for pending in batch:
                    if pending.item is None:
                        self._run_one(uow, pending)
                if before_commit is not None:
                    before_commit()
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

    def _run_set_based(self, uow: Any, batch: list[_Pending[Any]]) -> None:
        """The batchable writes together; any failure of the whole is raised (the batch then runs alone)."""
        if not batch:
            return
        assert self.set_based is not None
        outcomes = self.set_based(uow, [pending.item for pending in batch])
        assert len(outcomes) == len(batch), "one outcome per batched write"
        for pending, outcome in zip(batch, outcomes, strict=True):
            if outcome is self.run_alone:
                pending.alone = True
            elif isinstance(outcome, LedgerError):
                pending.error = outcome
            else:
                pending.result = outcome

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
