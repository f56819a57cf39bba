"""One worker's pass through a bulk allowance job: chunks read, paid and committed in order, restartably.

See ledger.usecases.bulk_allowance for the job as a whole. Each chunk's payments, the members it refused
and the job's progress commit in one database transaction; on PostgreSQL the next chunk is read and
written while one commits, and debits the budget only once the chunk before it has committed.
"""

from __future__ import annotations

import collections
import datetime as dt
import functools
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from ledger.clock import Clock, parse_rfc3339
from ledger.errors import BudgetExhausted, NotEligible
from ledger.ports import UnitOfWork, UnitOfWorkFactory
from ledger.rules import Rules, local_date
from ledger.service import read_only, run_in_transaction
from ledger.units import Unit, format_amount
from ledger.usecases.bulk import BulkPlan, issue_chunk
from ledger.usecases.memberships import check_eligibility
from ledger.usecases.requests import scheme_and_rules

CHUNK_SIZE = 5_000  # measured: 5,000 beat 1,000 and 2,500 (fewer statements per member; memory still bounded)
# Chunks in flight at once: on PostgreSQL the next is read and written while one commits; SQLite has one
# writer at a time.
PIPELINE_DEPTH = {"postgresql": 2}


class JobLost(Exception):
    """Another worker advanced this job meanwhile (this one's lease ran out): stop, change nothing."""


class Restart(Exception):
    """The chunks in flight were given up (the budget covered only part of one): read on from the cursor."""


class _Abandoned(Exception):
    """The chunk before this one did not commit, so this one rolls back before it pays anyone."""


Position = tuple[dict[str, Any], str, int]  # a job's state, last member done and count done, as committed
InFlight = collections.deque[tuple[list[dict[str, Any]], Future[Position]]]


class AllowanceRun:
    """One worker's pass through a job: where it is, and its counts as committed with the last chunk."""

    def __init__(
        self, uow_factory: UnitOfWorkFactory, clock: Clock, job: dict[str, Any], chunk_size: int, lease: float
    ) -> None:
        self.uow_factory, self.clock, self.job_id = uow_factory, clock, job["id"]
        self.chunk_size, self.lease_seconds = chunk_size, lease
        self.state: dict[str, Any] = {**job["result"], "error": None}
        self.state.pop("error_detail", None)
        self.after: str = job["resume_after"]
        self.done: int = job["done"]
        self.scheme, self.rules = read_only(
            uow_factory, lambda uow: scheme_and_rules(uow, self.state["scheme"])
        )
        self.depth = PIPELINE_DEPTH.get(read_only(uow_factory, lambda uow: uow.dialect), 1)
        expires_at = self.state["expires_at"] and parse_rfc3339(self.state["expires_at"])
        self.plan = BulkPlan(
            self.scheme,
            self.state["amount_minor"],
            expires_at,
            self.state["category"],
            job["created_by"],
            f"bulk:{job['id']}",
            self.state["period"],
        )

    def chunks(self, pool: ThreadPoolExecutor, should_stop: Callable[[], bool]) -> bool:
        """Pay chunk after chunk from the cursor, up to `depth` in flight; True when no member is left.

        While one chunk writes, the next is read and written in its own transaction: it waits for the one
        before it to commit before it debits the budget and advances the job, and rolls back if that one
        did not, so chunks commit in order and the cursor is always the end of the last committed one.
        """
        in_flight: InFlight = collections.deque()
        after, finished = self.after, False
        try:
            while not should_stop():
                members = read_only(self.uow_factory, functools.partial(self._members_page, after=after))
                if not members:
                    finished = True
                    break
                previous = in_flight[-1][1] if in_flight else None
                start = (self.state, self.after, self.done)
                in_flight.append((members, pool.submit(self._commit, members, previous, start)))
                after = members[-1]["id"]
                if len(in_flight) >= self.depth:
                    self._collect(*in_flight.popleft())
            while in_flight:
                self._collect(*in_flight.popleft())
        finally:
            for _, future in in_flight:  # given up after a failure: each rolls back (see _Abandoned)
                future.exception()
        return finished

    def _collect(self, members: list[dict[str, Any]], future: Future[Position]) -> None:
        """Take a chunk's committed position, or pay whom the budget covers of a chunk it could not."""
        try:
            self.state, self.after, self.done = future.result()
        except BudgetExhausted:
            affordable = self._affordable_prefix(members)
            if not affordable:
                raise
            self.state, self.after, self.done = self._commit(
                affordable, None, (self.state, self.after, self.done)
            )
            raise Restart() from None  # the next chunk then stops the job

    def _members_page(self, uow: UnitOfWork, *, after: str) -> list[dict[str, Any]]:
        """The next members after a cursor: the scheme's, or only those a CSV file listed for this job
        (ledger.usecases.bulk_lists)."""
        if self.state.get("listed"):
            page: list[dict[str, Any]] = uow.oversight.listed_members_page(
                self.job_id, self.scheme["id"], after=after, limit=self.chunk_size
            )
            return page
        return list(uow.activity.members_page(self.scheme["id"], after=after, limit=self.chunk_size))

    def _commit(
        self, members: list[dict[str, Any]], previous: Future[Position] | None, start: Position
    ) -> Position:
        """Pay, record refusals and advance the job in one transaction, retried on a retryable conflict."""

        def turn() -> Position:
            """Where the job stands once the chunk before this one has committed."""
            if previous is None:
                return start
            try:
                return previous.result()
            except BaseException as error:
                raise _Abandoned() from error

        return run_in_transaction(self.uow_factory, lambda uow: self._chunk(uow, members, turn))

    def _chunk(
        self, uow: UnitOfWork, members: list[dict[str, Any]], turn: Callable[[], Position]
    ) -> Position:
        now = self.clock.now()
        on = local_date(now, self.clock.zone)
        refusals = [(m["id"], *reason) for m in members if (reason := refusal(self.rules, m, on)) is not None]
        refused = {resident for resident, _, _ in refusals}
        ready: list[Position] = []
        ids = [m["id"] for m in members if m["id"] not in refused]
        counts = issue_chunk(uow, self.plan, ids, now, before_debit=lambda: ready.append(turn()))
        state, expected_after, done = ready[0] if ready else turn()
        state = {
            **state,
            "paid": state["paid"] + counts.paid + counts.replayed,
            "already_paid": state["already_paid"] + counts.already_paid,
            "refused": state["refused"] + len(refusals),
        }
        uow.jobs.add_refusals(self.job_id, refusals)
        after, done = members[-1]["id"], done + len(members)
        lease_until = now + dt.timedelta(seconds=self.lease_seconds)
        if not uow.jobs.advance(
            self.job_id,
            expected_after=expected_after,
            after=after,
            done=done,
            state=state,
            lease_until=lease_until,
        ):
            raise JobLost(self.job_id)
        return state, after, done

    def _affordable_prefix(self, members: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The members before the first eligible one the budget can no longer cover."""
        budget = read_only(
            self.uow_factory, lambda uow: uow.accounts.balance(self.scheme["budget_account_id"])
        )
        affordable = max(0, budget) // self.plan.amount_minor
        on = local_date(self.clock.now(), self.clock.zone)
        eligible_seen = 0
        for index, member in enumerate(members):
            if refusal(self.rules, member, on) is None:
                if eligible_seen == affordable:
                    return members[:index]
                eligible_seen += 1
        return members

    def finish(self, status: str) -> str:
        """Record the end of this run (a failed job resumes when the same request is sent again)."""
        if status == "failed" and self.state["error"] == "budget-exhausted":
            needed = format_amount(self.plan.amount_minor, Unit(self.scheme["unit"]))
            self.state["error_detail"] = (
                f"the scheme budget cannot pay the next member {needed}; fund it and retry"
            )
        run_in_transaction(
            self.uow_factory,
            lambda uow: uow.jobs.finish(self.job_id, status=status, state=self.state, now=self.clock.now()),
        )
        return status


def member_pages(
    uow: UnitOfWork, scheme_id: str, *, after: str, chunk_size: int
) -> Iterator[list[dict[str, Any]]]:
    """A scheme's members page by page in resident id order: never all of them in memory."""
    while page := uow.activity.members_page(scheme_id, after=after, limit=chunk_size):
        yield page
        after = page[-1]["id"]


def refusal(rules: Rules, member: dict[str, Any], on: dt.date) -> tuple[str, str] | None:
    """(problem, reason) if this member may not be paid today (aged out, moved, erased), else None."""
    try:
        check_eligibility(rules.eligibility, member, referral=member["referral"], on=on)
    except NotEligible as error:
        return error.problem, error.detail
    return None
