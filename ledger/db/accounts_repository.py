"""Accounts and their balances: O(1) reads, atomic floor checks, lock-free credits to hot accounts."""

from __future__ import annotations

import datetime as dt
import zlib
from collections import defaultdict
from collections.abc import Iterable, Sequence

from sqlalchemy import Connection, and_, func, insert, select, update

from ledger.db.rows import account_from_row
from ledger.db.tables import accounts, balances, postings
from ledger.errors import InsufficientFunds, NotFound
from ledger.journal import Posting
from ledger.records import AccountRecord
from ledger.units import AccountKind, Unit

# Unconstrained accounts (an outlet's payable, the bank) spread their balance over shards so that
# concurrent credits update different rows and never queue behind one row lock.
UNCONSTRAINED_SHARD_COUNT = 64

# Accounts never change once opened, so a process-wide cache by id is always correct.
_ACCOUNT_CACHE: dict[str, AccountRecord] = {}
_ACCOUNT_CACHE_LIMIT = 200_000


class AccountsRepository:
    """Reads and writes accounts and balances on one connection."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    def open(
        self, *, id: str, name: str, unit: Unit, kind: AccountKind, floor_minor: int | None, now: dt.datetime
    ) -> AccountRecord:
        """Open an account with a zero balance."""
        shard_count = 1 if floor_minor is not None else UNCONSTRAINED_SHARD_COUNT
        self.connection.execute(
            insert(accounts).values(
                id=id,
                name=name,
                unit=unit.value,
                kind=kind.value,
                floor_minor=floor_minor,
                shard_count=shard_count,
                created_at=now,
            )
        )
        self.connection.execute(
            insert(balances),
            [{"account_id": id, "shard": shard, "balance_minor": 0} for shard in range(shard_count)],
        )
        return AccountRecord(id, name, unit, kind, floor_minor, shard_count)

    def get(self, account_id: str) -> AccountRecord:
        """The account with this id, or NotFound."""
        cached = _ACCOUNT_CACHE.get(account_id)
        if cached is not None:
            return cached
        row = self.connection.execute(select(accounts).where(accounts.c.id == account_id)).first()
        if row is None:
            raise NotFound(f"no account {account_id}")
        return _remember(account_from_row(row))

    def get_many(self, account_ids: Iterable[str]) -> dict[str, AccountRecord]:
        """The accounts with these ids (all must exist)."""
        wanted = set(account_ids)
        found = {i: _ACCOUNT_CACHE[i] for i in wanted if i in _ACCOUNT_CACHE}
        missing = sorted(wanted - found.keys())
        for start in range(0, len(missing), 10_000):  # bound parameters per statement are limited
            chunk = missing[start : start + 10_000]
            for row in self.connection.execute(select(accounts).where(accounts.c.id.in_(chunk))):
                found[row.id] = _remember(account_from_row(row))
        if len(found) != len(wanted):
            raise NotFound(f"no account {sorted(wanted - found.keys())[0]}")
        return found

    def by_name(self, name: str) -> AccountRecord | None:
        """The account with this name, if any."""
        row = self.connection.execute(select(accounts).where(accounts.c.name == name)).first()
        return None if row is None else _remember(account_from_row(row))

    def balance(self, account_id: str) -> int:
        """The current balance: a sum over at most 16 shard rows, whatever the history."""
        total = self.connection.execute(
            select(func.coalesce(func.sum(balances.c.balance_minor), 0)).where(
                balances.c.account_id == account_id
            )
        ).scalar_one()
        return int(total)

    def balance_at(self, account_id: str, at: dt.datetime) -> int:
        """The balance as of an instant: the sum of postings recorded up to and including it."""
        total = self.connection.execute(
            select(func.coalesce(func.sum(postings.c.amount_minor), 0)).where(
                and_(postings.c.account_id == account_id, postings.c.recorded_at <= at)
            )
        ).scalar_one()
        return int(total)

    def apply_constrained(self, lines: Sequence[Posting]) -> None:
        """Move the balances that have a floor, each checked atomically against it."""
        deltas = _deltas(lines)
        known = self.get_many(deltas)
        # Sorted by account id so concurrent transactions take row locks in one global order.
        for account_id in sorted(deltas):
            account = known[account_id]
            if deltas[account_id] != 0 and account.floor_minor is not None:
                self._move_checked(account, deltas[account_id])

    def apply_unconstrained(self, transaction_id: str, lines: Sequence[Posting]) -> None:
        """Credit or debit the floorless (hot) accounts on one of their shards; call it last, just before
        commit, so the shard row stays locked as briefly as possible."""
        deltas = _deltas(lines)
        known = self.get_many(deltas)
        shard_seed = zlib.crc32(transaction_id.encode())
        for account_id in sorted(deltas):
            account = known[account_id]
            if deltas[account_id] != 0 and account.floor_minor is None:
                self._credit_shard(account, shard_seed % account.shard_count, deltas[account_id])

    def _credit_shard(self, account: AccountRecord, shard: int, delta: int) -> None:
        self.connection.execute(
            update(balances)
            .where(balances.c.account_id == account.id, balances.c.shard == shard)
            .values(balance_minor=balances.c.balance_minor + delta)
        )

    def _move_checked(self, account: AccountRecord, delta: int) -> None:
        assert account.floor_minor is not None
        condition = balances.c.balance_minor + delta >= account.floor_minor
        result = self.connection.execute(
            update(balances)
            .where(balances.c.account_id == account.id, balances.c.shard == 0, condition)
            .values(balance_minor=balances.c.balance_minor + delta)
        )
        if result.rowcount != 1:
            raise InsufficientFunds(
                f"{account.name} would go below its floor", account_id=account.id, account_kind=account.kind
            )

    def all_balances(self) -> dict[str, int]:
        """Every account's current balance (for the audit check)."""
        query = select(balances.c.account_id, func.sum(balances.c.balance_minor)).group_by(
            balances.c.account_id
        )
        return {row[0]: int(row[1]) for row in self.connection.execute(query)}


def _deltas(lines: Sequence[Posting]) -> dict[str, int]:
    deltas: dict[str, int] = defaultdict(int)
    for line in lines:
        deltas[line.account_id] += line.amount_minor
    return deltas


def remember(account: AccountRecord) -> AccountRecord:
    """Cache an account record (accounts never change once opened)."""
    return _remember(account)


def _remember(account: AccountRecord) -> AccountRecord:
    if len(_ACCOUNT_CACHE) >= _ACCOUNT_CACHE_LIMIT:
        _ACCOUNT_CACHE.clear()
    _ACCOUNT_CACHE[account.id] = account
    return account
