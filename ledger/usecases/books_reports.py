"""The auditor's reports in bounded memory: the trial balance at an instant a page (or a stream) of accounts
at a time with its totals per unit, and the signed checkpoints with their verify status.

A page reads a balance as of an instant the cheaper of two exact ways: for a recent instant, the stored
balance now less the postings recorded after it (a few index lookups, however long the history); for an
older one, the sum of the postings recorded up to it. The CSV download always sums the postings, so it
checks the stored balances as `clubcard audit check` does. Totals are for every unit, zero included.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import io
from collections.abc import Iterator

from ledger.errors import ValidationFailed
from ledger.merkle import fold_peaks
from ledger.ports import UnitOfWork
from ledger.records import CheckpointRecord
from ledger.signing import SigningKey
from ledger.units import Unit
from ledger.usecases.audit import TrialBalanceLine
from ledger.usecases.checkpoints import checkpoint_signature_valid
from ledger.usecases.trusted_heads import TreeHead, published_head

ACCOUNTS_PER_BATCH = 500
MAX_ACCOUNTS_SCANNED = 5_000  # per page: accounts with a zero balance are skipped, but not forever
MAX_PAGE_SIZE = 200
# Fewer transactions than this after the instant: count back from the balances now instead of summing the
# whole history up to it (both are exact; this one reads only what came later).
RECENT_TRANSACTIONS = 50_000


@dataclasses.dataclass(frozen=True)
class TrialBalancePage:
    """The totals per unit at an instant, and one page of accounts with a non-zero balance, by name."""

    at: dt.datetime
    totals_by_unit: dict[str, int]
    lines: tuple[TrialBalanceLine, ...]
    next_after_name: str | None  # where the next page starts; None on the last page
    counted_back: bool  # balances now less later postings (True), or postings summed up to `at`

    @property
    def balanced(self) -> bool:
        """True when every unit totals zero."""
        return all(total == 0 for total in self.totals_by_unit.values())


def _recent(uow: UnitOfWork, at: dt.datetime) -> bool:
    return uow.books.transactions_after(at, RECENT_TRANSACTIONS) < RECENT_TRANSACTIONS


def _totals(uow: UnitOfWork, at: dt.datetime, counted_back: bool) -> dict[str, int]:
    totals = {unit.value: 0 for unit in Unit}
    if not counted_back:
        return totals | uow.books.totals_by_unit(at)
    later = uow.books.totals_after(at)
    for unit, total in uow.books.stored_totals_by_unit().items():
        totals[unit] = total - later.get(unit, 0)
    return totals


def _sums(uow: UnitOfWork, account_ids: list[str], at: dt.datetime, counted_back: bool) -> dict[str, int]:
    if not counted_back:
        found: dict[str, int] = uow.books.sums_as_of(account_ids, at)
        return found
    now, later = uow.books.stored_balances(account_ids), uow.books.sums_after(account_ids, at)
    return {account_id: now.get(account_id, 0) - later.get(account_id, 0) for account_id in account_ids}


def _batches(
    uow: UnitOfWork, at: dt.datetime, after_name: str, counted_back: bool, size: int = ACCOUNTS_PER_BATCH
) -> Iterator[list[TrialBalanceLine]]:
    """Accounts by name after `after_name`, `size` at a time, each with its balance at `at` (zeros too)."""
    while True:
        accounts = uow.books.accounts_after(after_name, size)
        if not accounts:
            return
        sums = _sums(uow, [a.id for a in accounts], at, counted_back)
        yield [TrialBalanceLine(a.id, a.name, a.unit.value, sums.get(a.id, 0)) for a in accounts]
        if len(accounts) < size:
            return
        after_name = accounts[-1].name


def trial_balance_page(
    uow: UnitOfWork, *, at: dt.datetime, after_name: str = "", limit: int = 100
) -> TrialBalancePage:
    """The totals per unit at `at` and up to `limit` accounts with a non-zero balance after
    `after_name`; a page may stop short after scanning many zero balances (next_after_name says where)."""
    if not 1 <= limit <= MAX_PAGE_SIZE:
        raise ValidationFailed(f"limit is 1 to {MAX_PAGE_SIZE}")
    if len(after_name) > 200 or not after_name.isprintable():
        raise ValidationFailed("after: not an account name")
    lines: list[TrialBalanceLine] = []
    scanned, last_name, exhausted = 0, after_name, True
    counted_back = _recent(uow, at)
    # A page reads barely more accounts than it shows (an outlet's payable has 64 balance shards).
    for batch in _batches(uow, at, after_name, counted_back, size=min(ACCOUNTS_PER_BATCH, limit + 1)):
        for line in batch:
            if len(lines) == limit or scanned == MAX_ACCOUNTS_SCANNED:
                exhausted = False
                break
            scanned += 1
            last_name = line.name
            if line.balance_minor != 0:
                lines.append(line)
        if not exhausted:
            break
    totals = _totals(uow, at, counted_back)
    return TrialBalancePage(at, totals, tuple(lines), None if exhausted else last_name, counted_back)


def trial_balance_lines(uow: UnitOfWork, at: dt.datetime) -> Iterator[TrialBalanceLine]:
    """Every account with a non-zero balance at `at` summed from its postings, by name, streamed (the
    caller keeps `uow` open)."""
    for batch in _batches(uow, at, "", counted_back=False):
        yield from (line for line in batch if line.balance_minor != 0)


TRIAL_BALANCE_COLUMNS = ("account_id", "account_name", "unit", "balance_minor")
_FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def _cell(text: str) -> str:
    """Neutralise spreadsheet formula injection in a text cell (OWASP): prefix a quote."""
    return "'" + text if text.startswith(_FORMULA_PREFIXES) else text


def trial_balance_csv(uow: UnitOfWork, at: dt.datetime) -> Iterator[str]:
    """The trial balance at `at` as CSV text chunks: a header, every non-zero account by name, then one
    `total` row per unit summed from the lines above it (zero when the books balance)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(TRIAL_BALANCE_COLUMNS)
    totals = {unit.value: 0 for unit in Unit}
    for count, line in enumerate(trial_balance_lines(uow, at), start=1):
        writer.writerow((line.account_id, _cell(line.name), line.unit, line.balance_minor))
        totals[line.unit] += line.balance_minor
        if count % ACCOUNTS_PER_BATCH == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    for unit, total in totals.items():
        writer.writerow(("", "total", unit, total))
    yield buffer.getvalue()


@dataclasses.dataclass(frozen=True)
class CheckpointStatus:
    """A signed tree head and what checking it found."""

    checkpoint: CheckpointRecord
    signature_valid: bool  # signed by the configured ledger key over exactly this size, root and time
    frontier_rebuilds_root: bool  # its stored frontier (what the next head extends) folds to its root

    @property
    def ok(self) -> bool:
        """True when both checks pass."""
        return self.signature_valid and self.frontier_rebuilds_root


@dataclasses.dataclass(frozen=True)
class CheckpointsPage:
    """Signed tree heads newest first, the published head, and how many transactions await sealing."""

    heads: tuple[CheckpointStatus, ...]
    has_more: bool
    published: TreeHead | None
    transactions: int
    sealed: int


def checkpoint_status(checkpoint: CheckpointRecord, key: SigningKey) -> CheckpointStatus:
    """Check one head against the configured ledger key and its own frontier."""
    valid = checkpoint_signature_valid(checkpoint, {key.key_id})
    # The stored public key must be the configured one too, not merely labelled with its key id.
    valid = valid and checkpoint.public_key == key.public_key_bytes().hex()
    try:
        rebuilt = fold_peaks([bytes.fromhex(peak) for peak in checkpoint.frontier]).hex()
    except ValueError:
        rebuilt = ""
    return CheckpointStatus(checkpoint, valid, rebuilt == checkpoint.root_hash)


def checkpoints_page(
    uow: UnitOfWork, key: SigningKey, *, limit: int, before_size: int | None = None
) -> CheckpointsPage:
    """Up to `limit` signed heads below `before_size` (newest first), each checked, with the head
    published at /.well-known/clubcard-ledger and the counts of transactions and of those sealed."""
    if not 1 <= limit <= MAX_PAGE_SIZE:
        raise ValidationFailed(f"limit is 1 to {MAX_PAGE_SIZE}")
    heads: list[CheckpointRecord] = uow.export.checkpoints_page(limit=limit + 1, before_size=before_size)
    return CheckpointsPage(
        heads=tuple(checkpoint_status(head, key) for head in heads[:limit]),
        has_more=len(heads) > limit,
        published=published_head(uow, key),
        transactions=uow.books.transaction_count(),
        sealed=uow.audit.sealed_count(),
    )
