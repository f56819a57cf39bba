"""Expiry: value left in expired lots goes back to the scheme budget, one transaction per lot."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections import defaultdict
from collections.abc import Callable

from ledger.clock import Clock
from ledger.kinds import TransactionKind
from ledger.ports import UnitOfWork, UnitOfWorkFactory
from ledger.records import LotRecord
from ledger.service import run_in_transaction
from ledger.units import Unit
from ledger.usecases.common import draft, record, transfer_lines
from ledger.usecases.holds import release_if_timed_out

EXPIRY_BATCH_SIZE = 500


@dataclasses.dataclass(frozen=True)
class ExpiryReport:
    """What an expiry run returned to each scheme budget."""

    lots_expired: int
    returned_minor_by_scheme: dict[str, int]
    holds_released: int = 0


def expire_lot(uow: UnitOfWork, lot_account_id: str, now: dt.datetime, actor: str) -> int:
    """Return one expired lot's remaining value to its budget; 0 if nothing (left) to return."""
    locked = uow.lots.wallet_lot(lot_account_id, lock=True)
    if locked is None or locked.expires_at is None or locked.expires_at > now or locked.balance_minor <= 0:
        return 0
    scheme = uow.schemes.get(id=locked.scheme_id)
    # The key names the lot and the instant its value reached zero-to-be, so a rerun cannot expire twice
    # and value returned to the lot later (a refund) can still expire in a later run.
    key = f"expire:{lot_account_id}:{locked.balance_minor}:{uow.lots.expiry_count(lot_account_id)}"
    lines = transfer_lines(
        Unit(locked.unit), [(lot_account_id, locked.balance_minor)], scheme["budget_account_id"]
    )
    record(
        uow,
        draft(
            kind=TransactionKind.EXPIRE,
            postings=lines,
            now=now,
            actor=actor,
            idempotency_key=key,
            scheme_id=locked.scheme_id,
            metadata={"lot": lot_account_id},
        ),
    )
    return locked.balance_minor


def expire_all(
    uow_factory: UnitOfWorkFactory,
    clock: Clock,
    actor: str = "system:expiry",
    progress: Callable[[int], None] | None = None,
) -> ExpiryReport:
    """Release timed-out holds, then expire every expired lot with value; idempotent and restartable."""
    now = clock.now()
    holds_released = release_timed_out_holds(uow_factory, now, actor)
    returned: dict[str, int] = defaultdict(int)
    count = 0
    after = ""
    while True:
        with uow_factory() as uow:
            batch: list[LotRecord] = uow.lots.expired_with_value(now, EXPIRY_BATCH_SIZE, after)
        if not batch:
            break
        for lot in batch:
            # Each lot is its own retryable unit: a deadlock or a busy database reruns it, not the job.
            amount = run_in_transaction(uow_factory, _expiring(lot.account_id, now, actor))
            if amount:
                count += 1
                returned[lot.scheme_id] += amount
        after = batch[-1].account_id
        if progress:
            progress(count)
    return ExpiryReport(count, dict(returned), holds_released)


def release_timed_out_holds(uow_factory: UnitOfWorkFactory, now: dt.datetime, actor: str) -> int:
    """Post the release of every pending hold past its timeout that no spend has released yet."""
    released = 0
    after = ""
    while True:
        with uow_factory() as uow:
            hold_ids: list[str] = uow.holds.timed_out(now, EXPIRY_BATCH_SIZE, after)
        if not hold_ids:
            return released
        for hold_id in hold_ids:
            # Each hold is its own retryable unit; one captured, voided or released by a spend meanwhile
            # is left alone, so a hold is never released twice.
            if run_in_transaction(uow_factory, _releasing(hold_id, now, actor)):
                released += 1
        after = hold_ids[-1]


def _expiring(lot_account_id: str, now: dt.datetime, actor: str) -> Callable[[UnitOfWork], int]:
    return lambda uow: expire_lot(uow, lot_account_id, now, actor)


def _releasing(hold_id: str, now: dt.datetime, actor: str) -> Callable[[UnitOfWork], bool]:
    return lambda uow: release_if_timed_out(uow, hold_id, now, actor)
