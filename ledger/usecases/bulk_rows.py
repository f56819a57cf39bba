"""The rows one chunk of a bulk issuance writes: its lots (accounts, balances, lots), its journal rows,
their ids, and the receipt template its answers are rendered from."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Collection, Sequence
from typing import TYPE_CHECKING, Any

from ledger.journal import Posting, TransactionDraft
from ledger.ports import UnitOfWork
from ledger.units import AccountKind, Unit

if TYPE_CHECKING:
    from ledger.usecases.bulk import BulkPlan


def journal_rows(
    job: BulkPlan, budget_id: str, todo: Sequence[tuple[str, str]], lot_ids: Sequence[str], now: dt.datetime
) -> list[tuple[Any, ...]]:
    """One issue transaction per wallet, as JournalRow tuples (see ledger.db.bulk_repository)."""
    unit, amount, scheme_id, version = (
        job.scheme["unit"],
        job.amount_minor,
        job.scheme["id"],
        job.scheme["version"],
    )
    return [
        (transaction_id, "issue", key, now, now, job.actor, None, scheme_id, version, None, "{}",
         ((budget_id, unit, -amount), (lot_id, unit, amount)))
        for (_, key), lot_id, transaction_id in zip(todo, lot_ids, new_ids(len(todo)), strict=True)
    ]  # fmt: skip


def new_ids(count: int) -> list[str]:
    """`count` random UUIDs (version 4) as text, as new_id makes them, from one read of the OS's random
    source rather than a UUID object each (that was 3% of a bulk job's time)."""
    digits = os.urandom(16 * count).hex()
    ids = []
    for start in range(0, 32 * count, 32):
        one = digits[start : start + 32]
        # The version nibble is 4; the variant's two top bits are 10 (RFC 9562).
        ids.append(f"{one[:8]}-{one[8:12]}-4{one[13:16]}-{_VARIANT[one[16]]}{one[17:20]}-{one[20:]}")
    return ids


_VARIANT = {digit: "89ab"[int(digit, 16) & 3] for digit in "0123456789abcdef"}


def check_template(row: tuple[Any, ...], stored_hash: str) -> None:
    """Every row of a batch has one shape: validate it as a TransactionDraft and compare its content hash."""
    transaction_id, kind, key, occurred, recorded, actor, outlet, scheme_id, version, reverses, _, lines = row
    draft = TransactionDraft(
        id=transaction_id,
        kind=kind,
        postings=tuple(Posting(account, Unit(unit), amount) for account, unit, amount in lines),
        occurred_at=occurred,
        recorded_at=recorded,
        actor=actor,
        idempotency_key=key,
        outlet_id=outlet,
        scheme_id=scheme_id,
        rule_version=version,
        reverses_id=reverses,
    )
    assert draft.content_hash == stored_hash, "the bulk path's canonical form drifted from ledger.journal"


def receipt_template(
    job: BulkPlan, transaction_id: str, lot_id: str, balance: int | str, recorded_at: str
) -> dict[str, Any]:
    """Receipt(...).to_dict() of what flows.issue returns, as data with holes for the JSON template (each
    chunk checks its first rendered receipt against the Receipt itself)."""
    return {
        "transaction_id": transaction_id,
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


def open_lots(
    uow: UnitOfWork, job: BulkPlan, owners: Sequence[str], now: dt.datetime, have_lots: Collection[str]
) -> list[str]:
    """The lot each owner is credited to, already holding the amount (as flows.new_lot chooses it).

    Only owners with a lot in the scheme (`have_lots`) can have a main wallet already: flows.main_lot
    opens it with its lot, so the others' names are not looked up (one created meanwhile is a unique
    violation, and the chunk reruns).
    """
    slug, unit = job.scheme["slug"], job.scheme["unit"]
    if job.category is None and job.expires_at is None:
        names = [f"wallet:{owner}:{slug}:main" for owner in owners]
        existing = uow.bulk.accounts_by_name(
            [name for owner, name in zip(owners, names, strict=True) if owner in have_lots]
        )
        floor = min(0, int(job.scheme["rules"].get("spending", {}).get("overdraft_floor_minor", 0)))
        ids = [
            existing[name].id if name in existing else fresh_id
            for name, fresh_id in zip(names, new_ids(len(names)), strict=True)
        ]
        uow.bulk.move_balances({(existing[name].id, 0): job.amount_minor for name in existing})
        fresh = [(o, n, i) for o, n, i in zip(owners, names, ids, strict=True) if n not in existing]
    else:
        floor = 0
        ids = new_ids(len(owners))
        fresh = [(o, f"wallet:{o}:{slug}:lot:{i}", i) for o, i in zip(owners, ids, strict=True)]
    lot_kind = AccountKind.LOT.value
    uow.bulk.insert_tuples(
        "accounts",
        ("id", "name", "unit", "kind", "floor_minor", "shard_count", "created_at"),
        [(i, name, unit, lot_kind, floor, 1, now) for _, name, i in fresh],
    )
    uow.bulk.insert_tuples(
        "balances", ("account_id", "shard", "balance_minor"), [(i, 0, job.amount_minor) for _, _, i in fresh]
    )
    uow.bulk.insert_tuples(
        "lots",
        ("account_id", "owner_id", "scheme_id", "category", "expires_at", "created_at"),
        [(i, owner, job.scheme["id"], job.category, job.expires_at, now) for owner, _, i in fresh],
    )
    return ids
