"""Bulk issuance: credit many wallets from a scheme budget, in batches, resumable after a crash."""

from __future__ import annotations

import dataclasses
import datetime as dt
import itertools
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from ledger.clock import Clock, rfc3339
from ledger.errors import BudgetExhausted, IdempotencyMismatch, ValidationFailed
from ledger.journal import Posting, TransactionDraft, request_fingerprint
from ledger.ports import UnitOfWork, UnitOfWorkFactory
from ledger.service import run_in_transaction
from ledger.units import MAX_AMOUNT_MINOR, AccountKind, Unit
from ledger.usecases.common import check_idempotency_key, new_id
from ledger.usecases.schemes import get_scheme

BATCH_SIZE = 1_000


@dataclasses.dataclass(frozen=True)
class BulkReport:
    """What a bulk issuance did: wallets credited now, wallets a previous run had credited, value moved."""

    issued: int
    skipped_already_done: int
    total_minor: int


@dataclasses.dataclass(frozen=True)
class _Job:
    scheme: Mapping[str, Any]
    amount_minor: int
    expires_at: dt.datetime | None
    category: str | None
    actor: str
    job_key: str

    def key(self, owner_id: str) -> str:
        return f"{self.job_key}:{owner_id}"

    def fingerprint(self, owner_id: str) -> str:
        # Exactly the request flows.issue fingerprints, so a single issue with the same key replays.
        return request_fingerprint(
            {
                "op": "issue",
                "scheme": self.scheme["id"],
                "owner": owner_id,
                "amount_minor": self.amount_minor,
                "category": self.category,
                "expires_at": self.expires_at and rfc3339(self.expires_at),
                "metadata": {},
            }
        )


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
) -> BulkReport:
    """Issue `amount_minor` to each owner, `batch_size` wallets per database transaction, in bounded memory.

    Each wallet gets its own transaction keyed f"{job_key}:{owner_id}", so rerunning the same job after a
    crash skips the wallets already credited. A batch the budget cannot cover is refused whole
    (BudgetExhausted); the batches before it stay committed.
    """
    if type(amount_minor) is not int or not 0 < amount_minor <= MAX_AMOUNT_MINOR:
        raise ValidationFailed("amount_minor is a positive integer within limits")
    if batch_size < 1:
        raise ValidationFailed("batch_size is at least 1")
    if isinstance(scheme, str):
        slug = scheme
        scheme = run_in_transaction(uow_factory, lambda uow: get_scheme(uow, slug))
    job = _Job(scheme, amount_minor, expires_at, category, actor, job_key)
    owners = iter(owner_ids)
    issued = skipped = 0
    while batch := list(itertools.islice(owners, batch_size)):
        done, already = run_in_transaction(
            uow_factory, lambda uow: _issue_batch(uow, job, batch, clock.now())
        )
        issued += done
        skipped += already
        if progress is not None:
            progress(issued + skipped)
    return BulkReport(issued, skipped, issued * amount_minor)


def _issue_batch(uow: UnitOfWork, job: _Job, batch: Sequence[str], now: dt.datetime) -> tuple[int, int]:
    """Credit one batch of wallets in the open unit of work; returns (issued, skipped)."""
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
    if not todo:
        return 0, skipped
    budget = uow.accounts.get(job.scheme["budget_account_id"])
    # The whole batch's total first, in one conditional UPDATE: all of it or none of it.
    if not uow.bulk.debit_checked(budget, job.amount_minor * len(todo)):
        raise BudgetExhausted(f"the scheme budget cannot cover {len(todo)} more wallets")
    lot_ids = _open_lots(uow, job, [owner for owner, _ in todo], now)
    unit = Unit(job.scheme["unit"])
    drafts = [
        TransactionDraft(
            id=new_id(),
            kind="issue",
            postings=(Posting(budget.id, unit, -job.amount_minor), Posting(lot_id, unit, job.amount_minor)),
            occurred_at=now,
            recorded_at=now,
            actor=job.actor,
            idempotency_key=key,
            scheme_id=job.scheme["id"],
            rule_version=job.scheme["version"],
        )
        for (_, key), lot_id in zip(todo, lot_ids, strict=True)
    ]
    uow.bulk.append(drafts, uow.journal.next_seal_key())
    totals = uow.bulk.wallet_totals([owner for owner, _ in todo], job.scheme["id"])
    recorded_at = rfc3339(now)
    results = [
        (key, job.fingerprint(owner), _receipt(job, tx, lot_id, totals[owner], recorded_at))
        for (owner, key), tx, lot_id in zip(todo, drafts, lot_ids, strict=True)
    ]
    uow.bulk.store_results(job.actor, results, now)
    return len(todo), skipped


def _receipt(job: _Job, tx: TransactionDraft, lot_id: str, balance: int, recorded_at: str) -> dict[str, Any]:
    """Receipt(...).to_dict() of what flows.issue returns, built directly (asdict is slow at this volume)."""
    return {
        "transaction_id": tx.id,
        "kind": "issue",
        "unit": job.scheme["unit"],
        "amount_minor": job.amount_minor,
        "recorded_at": recorded_at,
        "taken": [[lot_id, job.amount_minor]],
        "balance_after_minor": balance,
        "lot_account_id": lot_id,
        "reverses_id": None,
        "hold_id": None,
    }


def _open_lots(uow: UnitOfWork, job: _Job, owners: Sequence[str], now: dt.datetime) -> list[str]:
    """The lot each owner is credited to, already holding the amount (as flows.new_lot chooses it)."""
    slug, unit = job.scheme["slug"], job.scheme["unit"]
    if job.category is None and job.expires_at is None:
        names = [f"wallet:{owner}:{slug}:main" for owner in owners]
        existing = uow.bulk.accounts_by_name(names)
        floor = min(0, int(job.scheme["rules"].get("spending", {}).get("overdraft_floor_minor", 0)))
        ids = [existing[name].id if name in existing else new_id() for name in names]
        uow.bulk.move_balances({(existing[name].id, 0): job.amount_minor for name in existing})
        fresh = [(o, n, i) for o, n, i in zip(owners, names, ids, strict=True) if n not in existing]
    else:
        floor = 0
        ids = [new_id() for _ in owners]
        fresh = [(o, f"wallet:{o}:{slug}:lot:{i}", i) for o, i in zip(owners, ids, strict=True)]
    account_rows = [
        {
            "id": i,
            "name": name,
            "unit": unit,
            "kind": AccountKind.LOT.value,
            "floor_minor": floor,
            "shard_count": 1,
            "created_at": now,
        }
        for _, name, i in fresh
    ]
    uow.bulk.insert_rows_named("accounts", account_rows)
    balance_rows = [{"account_id": i, "shard": 0, "balance_minor": job.amount_minor} for _, _, i in fresh]
    uow.bulk.insert_rows_named("balances", balance_rows)
    lot_rows = [
        {
            "account_id": i,
            "owner_id": owner,
            "scheme_id": job.scheme["id"],
            "category": job.category,
            "expires_at": job.expires_at,
            "created_at": now,
        }
        for owner, _, i in fresh
    ]
    uow.bulk.insert_rows_named("lots", lot_rows)
    return ids
