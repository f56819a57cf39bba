"""Writing a batch's accepted redemptions: lots, journal, payables, counters and answers, all at once.

The planner (ledger.usecases.redemption_batch) decided every refusal before this runs; what reaches here
is written as one set (ledger.db.spend_batch_writes), every transaction checked to balance first.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import zlib
from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

from ledger.batch_reads import Wallet
from ledger.batch_writes import BatchWrites
from ledger.journal import TransactionDraft
from ledger.ports import UnitOfWork
from ledger.records import LotRecord
from ledger.usecases.redemptions import PreparedSpend


@dataclasses.dataclass(frozen=True)
class PlannedSpend:
    """A spend the planner accepted, and what the batch writes for it."""

    index: int  # its place in the batch, for its answer
    fingerprint: str
    draft: TransactionDraft
    prepared: PreparedSpend
    body: dict[str, Any]  # the receipt it is answered with, stored under its key
    scoped_key: tuple[str, str]  # (idempotency scope, key)
    now: dt.datetime
    day: tuple[dt.datetime, dt.datetime]  # the council day it counts towards
    amount_minor: int


def write_planned(
    uow: UnitOfWork, planned: Sequence[PlannedSpend], lots: Mapping[Wallet, Sequence[LotRecord]]
) -> None:
    """Write every accepted spend: lots, journal, payables, counters and answers, one statement each."""
    if not planned:
        return
    floors = {lot.account_id: lot.floor_minor for wallet in lots.values() for lot in wallet}
    units = {lot.account_id: lot.unit for wallet in lots.values() for lot in wallet}
    moves: dict[str, int] = defaultdict(int)
    credits: dict[tuple[str, int], int] = defaultdict(int)
    counts: dict[tuple[str, str, dt.datetime, dt.datetime], int] = defaultdict(int)
    shard_of: dict[str, int] = {}
    for item in planned:
        tx = item.draft
        _assert_balanced(tx)
        payable = item.prepared.payable_account_id
        for posting in tx.postings:
            if posting.account_id == payable:
                shard = shard_of.setdefault(payable, _payable_shard(uow, payable, tx.id))
                credits[(payable, shard)] += posting.amount_minor
            else:
                assert units[posting.account_id] == posting.unit, "a spend draws on lots of its unit"
                moves[posting.account_id] += posting.amount_minor
        counts[(item.prepared.owner_id, str(item.prepared.scheme["id"]), *item.day)] += item.amount_minor
    checked = {account_id: (delta, floors[account_id]) for account_id, delta in moves.items() if delta}
    answers = [(item.scoped_key, item.fingerprint, item.body, item.now) for item in planned]
    writes = BatchWrites(checked, [item.draft for item in planned], counts, answers, credits)
    if not uow.spend_batch.write(writes):
        # The wallets are locked and planned from their locked rows, so this is a bug, never a refusal.
        raise AssertionError("a planned spend would take a lot below its floor")


def _assert_balanced(tx: TransactionDraft) -> None:
    """Every posting of a redemption is in one unit and they sum to zero, right before they are written."""
    assert len({posting.unit for posting in tx.postings}) == 1
    assert sum(posting.amount_minor for posting in tx.postings) == 0, "postings sum to zero per unit"


def _payable_shard(uow: UnitOfWork, account_id: str, transaction_id: str) -> int:
    """The shard of a payable account this batch credits (one per account per batch, as one spend would)."""
    account = uow.accounts.get(account_id)
    assert account.floor_minor is None, "an outlet's payable account has no floor"
    return zlib.crc32(transaction_id.encode()) % int(account.shard_count)
