"""Bulk issuance: credit many wallets from a scheme budget, in batches, resumable after a crash."""

from __future__ import annotations

import collections
import dataclasses
import datetime as dt
import itertools
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from ledger.clock import Clock, rfc3339
from ledger.errors import BudgetExhausted, IdempotencyMismatch, ValidationFailed
from ledger.journal import canonical_json, request_fingerprint
from ledger.ports import UnitOfWork, UnitOfWorkFactory
from ledger.receipts import Receipt
from ledger.rules import parse_rules
from ledger.service import run_in_transaction
from ledger.units import MAX_AMOUNT_MINOR, Unit, format_amount
from ledger.usecases.bulk_rendering import JsonTemplate, hole, json_text
from ledger.usecases.bulk_rows import check_template, journal_rows, open_lots, receipt_template
from ledger.usecases.common import check_idempotency_key
from ledger.usecases.schemes import get_scheme

BATCH_SIZE = 1_000
WORKERS = 2


@dataclasses.dataclass(frozen=True)
class BulkReport:
    """What a bulk issuance did: wallets credited now, wallets a previous run had credited, value moved,
    and (recurring allowances) members another run had already paid for this period."""

    issued: int
    skipped_already_done: int
    total_minor: int
    already_paid: int = 0


@dataclasses.dataclass(frozen=True)
class ChunkCounts:
    """One chunk's outcome: wallets paid now, wallets this job had paid before (a resumed run replays
    them), and members another run had already paid for this period."""

    paid: int
    replayed: int
    already_paid: int


@dataclasses.dataclass(frozen=True)
class BulkPlan:
    """What every wallet of a bulk issuance gets, fixed once for the whole job."""

    scheme: Mapping[str, Any]
    amount_minor: int
    expires_at: dt.datetime | None
    category: str | None
    actor: str
    job_key: str
    period: str | None  # a recurring allowance's period: each member is paid once in it, whatever the key

    def key(self, owner_id: str) -> str:
        """The idempotency key of this job's transaction for one wallet."""
        return f"{self.job_key}:{owner_id}"

    def fingerprint(self, owner_id: str) -> str:
        """The request fingerprint stored with that key."""
        return request_fingerprint(self.fingerprinted_request(owner_id))

    def fingerprinted_request(self, owner_id: str) -> dict[str, Any]:
        """What the fingerprint hashes for one wallet."""
        # Exactly the request flows.issue fingerprints, so a single issue with the same key replays.
        return {
            "op": "issue",
            "scheme": self.scheme["id"],
            "owner": owner_id,
            "amount_minor": self.amount_minor,
            "category": self.category,
            "expires_at": self.expires_at and rfc3339(self.expires_at),
            "metadata": {},
        }


def bulk_issue(
    uow_factory: UnitOfWorkFactory,
    clock: Clock,
    scheme: str | Mapping[str, Any],
    owner_ids: Iterable[str],
    amount_minor: int,
    expires_at: dt.datetime | None,
    category: str | None,
    actor: str,
    job_key: str,
    progress: Callable[[int], None] | None = None,
    batch_size: int = BATCH_SIZE,
    workers: int = WORKERS,
) -> BulkReport:
    """Issue `amount_minor` to each owner, `batch_size` wallets per database transaction, in bounded memory.

    Each wallet gets its own transaction keyed f"{job_key}:{owner_id}", so rerunning the same job after a
    crash skips the wallets already credited. A batch the budget cannot cover is refused whole
    (BudgetExhausted) and the job stops; batches committed before it stay committed. Up to `workers`
    batches are in flight at once, each in its own database transaction.
    """
    if type(amount_minor) is not int or not 0 < amount_minor <= MAX_AMOUNT_MINOR:
        raise ValidationFailed("amount_minor is a positive integer within limits")
    if batch_size < 1 or workers < 1:
        raise ValidationFailed("batch_size and workers are at least 1")
    if isinstance(scheme, str):
        slug = scheme
        scheme = run_in_transaction(uow_factory, lambda uow: get_scheme(uow, slug))
    period = parse_rules(scheme["rules"]).issuing.allowance_period(clock.now(), clock.zone)
    job = BulkPlan(scheme, amount_minor, expires_at, category, actor, job_key, period)
    owners = iter(owner_ids)
    counts = [0, 0, 0]  # issued, skipped (this job did them before), already paid (by another run)

    def run(batch: list[str]) -> ChunkCounts:
        """One batch in its own database transaction, retried on a retryable conflict."""
        return run_in_transaction(uow_factory, lambda uow: issue_chunk(uow, job, batch, clock.now()))

    def collect(future: Future[ChunkCounts]) -> None:
        """Count a finished batch (or raise its error) and report progress."""
        for index, count in enumerate(dataclasses.astuple(future.result())):
            counts[index] += count
        if progress is not None:
            progress(sum(counts))

    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="bulk-issue") as pool:
        in_flight: collections.deque[Future[ChunkCounts]] = collections.deque()
        try:
            while batch := list(itertools.islice(owners, batch_size)):
                in_flight.append(pool.submit(run, batch))
                if len(in_flight) >= workers:
                    collect(in_flight.popleft())
            while in_flight:
                collect(in_flight.popleft())
        finally:
            for future in in_flight:  # a batch failed: let the others finish (or fail) before raising
                future.exception()
    return BulkReport(counts[0], counts[1], counts[0] * amount_minor, counts[2])


def issue_chunk(
    uow: UnitOfWork,
    job: BulkPlan,
    batch: Sequence[str],
    now: dt.datetime,
    before_debit: Callable[[], None] = lambda: None,
) -> ChunkCounts:
    """Credit one chunk of wallets in the open unit of work, set at a time (COPY on PostgreSQL).

    All of the chunk or none of it: BudgetExhausted when the budget cannot cover every wallet still to pay.
    `before_debit` runs once the rows are written, just before the budget is debited (a job's chunks wait
    there for the chunk before to commit, so the budget is spent in order).
    """
    owners = list(dict.fromkeys(batch))  # a wallet named twice in a batch is credited once
    keys = [job.key(owner) for owner in owners]
    for key in keys:
        check_idempotency_key(key)
    stored = uow.bulk.stored_fingerprints(job.actor, keys)
    todo: list[tuple[str, str]] = []
    for owner, key in zip(owners, keys, strict=True):
        fingerprint = stored.get(key)
        if fingerprint is None:
            todo.append((owner, key))
        elif fingerprint != job.fingerprint(owner):
            raise IdempotencyMismatch(f"idempotency key {key} was used for a different request")
    skipped = len(batch) - len(todo)
    todo, already_paid = _unpaid_this_period(uow, job, todo, now)
    if not todo:
        return ChunkCounts(0, skipped, already_paid)
    budget = uow.accounts.get(job.scheme["budget_account_id"])
    # Read before this chunk's lots exist: most members have none yet, and then nothing more is read.
    before = uow.bulk.wallet_totals([owner for owner, _ in todo], job.scheme["id"])
    lot_ids = open_lots(uow, job, [owner for owner, _ in todo], now, have_lots=before.keys())
    rows = journal_rows(job, budget.id, todo, lot_ids, now)
    hashes = uow.bulk.append_rows(rows, uow.journal.next_seal_key())
    before_debit()
    # The whole batch's total in one conditional UPDATE, taken last so the budget row is locked only
    # until commit: all of the batch or none of it (the transaction rolls back on BudgetExhausted).
    if not uow.bulk.debit_checked(budget, job.amount_minor * len(todo)):
        needed = format_amount(job.amount_minor * len(todo), Unit(job.scheme["unit"]))
        raise BudgetExhausted(
            f"the scheme budget cannot cover {len(todo)} more wallets ({needed})",
            needed_minor=job.amount_minor * len(todo),
            unit=job.scheme["unit"],
        )
    check_template(rows[0], hashes[0])
    fingerprints = JsonTemplate(job.fingerprinted_request(hole("owner")))
    receipts = JsonTemplate(
        receipt_template(job, hole("transaction"), hole("lot"), hole("balance"), rfc3339(now))
    )
    results = [
        (
            key,
            fingerprints.sha256({"owner": json_text(owner)}),
            receipts.render(
                {
                    "transaction": json_text(row[0]),
                    "lot": json_text(lot_id),
                    "balance": json_text(before.get(owner, 0) + job.amount_minor),
                }
            ),
        )
        for (owner, key), row, lot_id in zip(todo, rows, lot_ids, strict=True)
    ]
    first_owner, first_row = todo[0][0], rows[0]
    assert results[0][1] == job.fingerprint(first_owner), "the fingerprint template drifted"
    first_receipt = Receipt(
        first_row[0], "issue", job.scheme["unit"], job.amount_minor, rfc3339(now),
        ((lot_ids[0], job.amount_minor),), before.get(first_owner, 0) + job.amount_minor, lot_ids[0],
    ).to_dict()  # fmt: skip
    assert results[0][2] == canonical_json(first_receipt).decode(), "the receipt template drifted"
    uow.bulk.store_rendered_results(job.actor, results, now)
    return ChunkCounts(len(todo), skipped, already_paid)


def _unpaid_this_period(
    uow: UnitOfWork, job: BulkPlan, todo: list[tuple[str, str]], now: dt.datetime
) -> tuple[list[tuple[str, str]], int]:
    """Record this period's payment for each (owner, key) still to pay; drop those another run paid."""
    if job.period is None or not todo:
        return todo, 0
    holders = uow.bulk.claim_allowances(job.scheme["id"], job.period, todo, job.actor, now)
    mine = [(owner, key) for owner, key in todo if holders[owner] == (job.actor, key)]
    return mine, len(todo) - len(mine)
