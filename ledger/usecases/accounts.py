"""Reading the books one account or one transaction at a time: balances, histories, a transaction's lines."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping

from ledger.errors import NotFound, ValidationFailed
from ledger.ports import UnitOfWork
from ledger.records import AccountRecord, TransactionRecord


@dataclasses.dataclass(frozen=True)
class AccountBalance:
    """An account and its balance at an instant."""

    account: AccountRecord
    balance_minor: int
    as_of: dt.datetime


@dataclasses.dataclass(frozen=True)
class AccountEntry:
    """One transaction in an account's history and what it moved in or out of that account."""

    transaction: TransactionRecord
    net_minor: int


@dataclasses.dataclass(frozen=True)
class AccountEntries:
    """A page of an account's history, newest first."""

    account: AccountRecord
    entries: tuple[AccountEntry, ...]


@dataclasses.dataclass(frozen=True)
class TransactionView:
    """A transaction with the names of the accounts it posts to and the transaction that reversed it."""

    transaction: TransactionRecord
    account_names: Mapping[str, str]
    reversed_by: str | None


def account_balance(
    uow: UnitOfWork, account_id: str, *, at: dt.datetime | None, now: dt.datetime
) -> AccountBalance:
    """The account's balance now (kept current, O(1)) or at `at` (the sum of its postings up to then)."""
    account: AccountRecord = uow.accounts.get(account_id)
    balance: int = uow.accounts.balance(account_id) if at is None else uow.accounts.balance_at(account_id, at)
    return AccountBalance(account, balance, at or now)


def account_entries(uow: UnitOfWork, account_id: str, *, limit: int, starting_after: str) -> AccountEntries:
    """Up to `limit` transactions of the account, newest first, after the transaction `starting_after`."""
    account: AccountRecord = uow.accounts.get(account_id)
    before = None
    if starting_after:
        cursor: TransactionRecord | None = uow.journal.get(starting_after)
        if cursor is None:
            raise ValidationFailed("starting_after is not a known transaction id")
        before = (cursor.recorded_at, cursor.id)
    rows: list[tuple[TransactionRecord, int]] = uow.journal.entries(account_id, limit=limit, before=before)
    return AccountEntries(account, tuple(AccountEntry(record, net) for record, net in rows))


def visible_transaction(
    uow: UnitOfWork, transaction_id: str, *, device_outlet_id: str | None
) -> TransactionRecord:
    """The transaction if the caller may see it: a kiosk (its outlet given) sees only its own outlet's.

    Hidden and unknown ids get the same NotFound, so a kiosk cannot probe other outlets' ids."""
    record: TransactionRecord | None = uow.journal.get(transaction_id)
    if record is None or (device_outlet_id is not None and record.outlet_id != device_outlet_id):
        raise NotFound(f"no transaction {transaction_id}")
    return record


def transaction_view(
    uow: UnitOfWork, transaction_id: str, *, device_outlet_id: str | None
) -> TransactionView:
    """A visible transaction with its accounts' names and whichever transaction reversed it."""
    record = visible_transaction(uow, transaction_id, device_outlet_id=device_outlet_id)
    accounts: dict[str, AccountRecord] = uow.accounts.get_many(p.account_id for p in record.postings)
    names = {account_id: account.name for account_id, account in accounts.items()}
    return TransactionView(record, names, uow.journal.reversal_of(record.id))
