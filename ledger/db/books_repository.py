"""The auditor's pages read a page at a time: the journal filtered and keyset-paged, accounts by name with
their balances as of an instant, an account's balance through one transaction, totals per unit."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Connection, and_, func, or_, select

from ledger.db.rows import account_from_row, transaction_from_row
from ledger.db.tables import accounts, balances, outlets, postings, schemes, transactions
from ledger.records import AccountRecord, TransactionRecord

MAX_CHOICES = 1_000  # schemes or outlets offered in a filter's drop-down


class BooksRepository:
    """Bounded reads for the auditor's pages on one connection (every list is one page, never all)."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    def journal_page(
        self,
        *,
        exact: dict[str, str],
        after: dt.datetime | None,
        up_to: dt.datetime | None,
        before: tuple[dt.datetime, str] | None,
        limit: int,
    ) -> list[TransactionRecord]:
        """Transactions newest first with their postings: `exact` matches on kind, scheme_id or outlet_id,
        recorded after `after` up to and including `up_to`, older than the `before` (recorded_at, id)."""
        assert set(exact) <= {"kind", "scheme_id", "outlet_id"}, "the journal filters on these only"
        query = select(transactions).where(*(transactions.c[name] == value for name, value in exact.items()))
        if after is not None:
            query = query.where(transactions.c.recorded_at > after)
        if up_to is not None:
            query = query.where(transactions.c.recorded_at <= up_to)
        if before is not None:
            at, last_id = before
            query = query.where(
                or_(
                    transactions.c.recorded_at < at,
                    and_(transactions.c.recorded_at == at, transactions.c.id < last_id),
                )
            )
        query = query.order_by(transactions.c.recorded_at.desc(), transactions.c.id.desc()).limit(limit)
        headers = self.connection.execute(query).all()
        return self._with_postings(headers)

    def _with_postings(self, headers: Sequence[Any]) -> list[TransactionRecord]:
        grouped: dict[str, list[Any]] = {header.id: [] for header in headers}
        if grouped:
            query = select(postings).where(postings.c.transaction_id.in_(list(grouped)))
            for line in self.connection.execute(query.order_by(postings.c.transaction_id, postings.c.line)):
                grouped[line.transaction_id].append(line)
        return [transaction_from_row(header, grouped[header.id]) for header in headers]

    def transaction_position(self, transaction_id: str) -> tuple[dt.datetime, str] | None:
        """(recorded_at, id) of a transaction: the journal's order key, for cursors."""
        row = self.connection.execute(
            select(transactions.c.recorded_at, transactions.c.id).where(transactions.c.id == transaction_id)
        ).first()
        return None if row is None else (row.recorded_at, row.id)

    def balance_through(self, account_id: str, position: tuple[dt.datetime, str]) -> int:
        """The account's balance just after the transaction at `position` (in journal order)."""
        at, transaction_id = position
        total = self.connection.execute(
            select(func.coalesce(func.sum(postings.c.amount_minor), 0)).where(
                postings.c.account_id == account_id,
                or_(
                    postings.c.recorded_at < at,
                    and_(postings.c.recorded_at == at, postings.c.transaction_id <= transaction_id),
                ),
            )
        ).scalar_one()
        return int(total)

    def accounts_after(self, name: str, limit: int) -> list[AccountRecord]:
        """Accounts by name after `name` ('' for the first)."""
        query = select(accounts).where(accounts.c.name > name).order_by(accounts.c.name).limit(limit)
        return [account_from_row(row) for row in self.connection.execute(query)]

    def sums_as_of(self, account_ids: Iterable[str], at: dt.datetime) -> dict[str, int]:
        """account id -> sum of its postings recorded up to and including `at` (accounts with none left
        out); one indexed range per account."""
        ids = list(account_ids)
        if not ids:
            return {}
        query = (
            select(postings.c.account_id, func.sum(postings.c.amount_minor))
            .where(postings.c.account_id.in_(ids), postings.c.recorded_at <= at)
            .group_by(postings.c.account_id)
        )
        return {row[0]: int(row[1]) for row in self.connection.execute(query)}

    def stored_balances(self, account_ids: Iterable[str]) -> dict[str, int]:
        """account id -> its stored balance now (the sum of its shards), for the ids given."""
        ids = list(account_ids)
        if not ids:
            return {}
        query = (
            select(balances.c.account_id, func.sum(balances.c.balance_minor))
            .where(balances.c.account_id.in_(ids))
            .group_by(balances.c.account_id)
        )
        return {row[0]: int(row[1]) for row in self.connection.execute(query)}

    def sums_after(self, account_ids: Iterable[str], at: dt.datetime) -> dict[str, int]:
        """account id -> sum of its postings recorded after `at` (accounts with none left out)."""
        ids = list(account_ids)
        if not ids:
            return {}
        query = (
            select(postings.c.account_id, func.sum(postings.c.amount_minor))
            .where(postings.c.account_id.in_(ids), postings.c.recorded_at > at)
            .group_by(postings.c.account_id)
        )
        return {row[0]: int(row[1]) for row in self.connection.execute(query)}

    def transactions_after(self, at: dt.datetime, cap: int) -> int:
        """How many transactions were recorded after `at`, counting no further than `cap`."""
        later = select(transactions.c.id).where(transactions.c.recorded_at > at).limit(cap).subquery()
        return int(self.connection.execute(select(func.count()).select_from(later)).scalar_one())

    def stored_totals_by_unit(self) -> dict[str, int]:
        """unit -> sum of every account's stored balance now.

        Joining every balance row to its account is the slow part, so only the accounts outside the unit
        with the most accounts are joined; that unit's total is the sum of every balance less theirs."""
        counts = self.connection.execute(
            select(accounts.c.unit, func.count()).group_by(accounts.c.unit)
        ).all()
        if not counts:
            return {}
        most = max(counts, key=lambda row: (int(row[1]), row[0]))[0]
        everything = self.connection.execute(select(func.coalesce(func.sum(balances.c.balance_minor), 0)))
        minority = (
            select(accounts.c.unit, func.sum(balances.c.balance_minor))
            .join(balances, balances.c.account_id == accounts.c.id)
            .where(accounts.c.unit != most)
            .group_by(accounts.c.unit)
        )
        totals = {str(row[0]): int(row[1]) for row in self.connection.execute(minority)}
        totals[most] = int(everything.scalar_one()) - sum(totals.values())
        return totals

    def totals_after(self, at: dt.datetime) -> dict[str, int]:
        """unit -> sum of the postings of transactions recorded after `at` (found by their time index)."""
        query = (
            select(postings.c.unit, func.sum(postings.c.amount_minor))
            .join(transactions, transactions.c.id == postings.c.transaction_id)
            .where(transactions.c.recorded_at > at)
            .group_by(postings.c.unit)
        )
        return {row[0]: int(row[1]) for row in self.connection.execute(query)}

    def totals_by_unit(self, at: dt.datetime) -> dict[str, int]:
        """unit -> sum of every posting recorded up to and including `at`."""
        query = (
            select(postings.c.unit, func.sum(postings.c.amount_minor))
            .where(postings.c.recorded_at <= at)
            .group_by(postings.c.unit)
        )
        return {row[0]: int(row[1]) for row in self.connection.execute(query)}

    def transaction_count(self) -> int:
        """How many transactions the journal holds."""
        return int(self.connection.execute(select(func.count()).select_from(transactions)).scalar_one())

    def scheme_choices(self) -> list[tuple[str, str, str]]:
        """(id, slug, name) of schemes by name, for a filter."""
        query = select(schemes.c.id, schemes.c.slug, schemes.c.name).order_by(schemes.c.name, schemes.c.id)
        return [(row.id, row.slug, row.name) for row in self.connection.execute(query.limit(MAX_CHOICES))]

    def outlet_choices(self) -> list[tuple[str, str]]:
        """(id, name) of outlets by name, for a filter."""
        query = select(outlets.c.id, outlets.c.name).order_by(outlets.c.name, outlets.c.id)
        return [(row.id, row.name) for row in self.connection.execute(query.limit(MAX_CHOICES))]

    def outlet_names(self, outlet_ids: Iterable[str]) -> dict[str, str]:
        """outlet id -> name, for the ids given."""
        ids = sorted(set(outlet_ids))
        if not ids:
            return {}
        rows = self.connection.execute(select(outlets.c.id, outlets.c.name).where(outlets.c.id.in_(ids)))
        return {row.id: row.name for row in rows}


__all__ = ["BooksRepository"]
