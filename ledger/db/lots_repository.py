"""Lots: the parts of a wallet, each with its scheme, category and expiry."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Connection, and_, func, insert, select

from ledger.db.accounts_repository import remember
from ledger.db.tables import accounts, balances, lots, postings, transactions
from ledger.kinds import TransactionKind
from ledger.records import AccountRecord, LotRecord
from ledger.units import AccountKind, Unit

MAX_LOTS_PER_WALLET = 1_000


def lot_query() -> Any:
    """Lots with their account and balance: what a LotRecord is read from (add a where clause)."""
    return select(
        lots.c.account_id,
        lots.c.owner_id,
        lots.c.scheme_id,
        lots.c.category,
        lots.c.expires_at,
        lots.c.created_at,
        accounts.c.unit,
        accounts.c.floor_minor,
        accounts.c.name,
        accounts.c.kind,
        accounts.c.shard_count,
        balances.c.balance_minor,
    ).select_from(
        lots.join(accounts, accounts.c.id == lots.c.account_id).join(
            balances, and_(balances.c.account_id == lots.c.account_id, balances.c.shard == 0)
        )
    )


class LotsRepository:
    """Reads and creates lots on one connection."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    def create(
        self,
        *,
        account_id: str,
        owner_id: str,
        scheme_id: str,
        category: str | None,
        expires_at: dt.datetime | None,
        now: dt.datetime,
    ) -> None:
        """Record that an (already opened) account is a lot in a wallet."""
        self.connection.execute(
            insert(lots).values(
                account_id=account_id,
                owner_id=owner_id,
                scheme_id=scheme_id,
                category=category,
                expires_at=expires_at,
                created_at=now,
            )
        )

    def _query(self) -> Any:
        return lot_query()

    def wallet(self, owner_id: str, scheme_id: str | None = None, *, lock: bool = False) -> list[LotRecord]:
        """The lots of one owner (optionally one scheme); `lock` holds their balance rows until commit."""
        query = self._query().where(lots.c.owner_id == owner_id)
        if scheme_id is not None:
            query = query.where(lots.c.scheme_id == scheme_id)
        query = query.order_by(lots.c.account_id).limit(MAX_LOTS_PER_WALLET)
        if lock:
            query = query.with_for_update(of=balances)
        return [_lot(row) for row in self.connection.execute(query)]

    def wallet_lot(self, account_id: str, *, lock: bool = False) -> LotRecord | None:
        """One lot by its account id; `lock` holds its balance row until commit."""
        query = self._query().where(lots.c.account_id == account_id)
        if lock:
            query = query.with_for_update(of=balances)
        row = self.connection.execute(query).first()
        return None if row is None else _lot(row)

    def expiry_count(self, account_id: str) -> int:
        """How many expiry transactions have drawn on this lot."""
        query = (
            select(func.count())
            .select_from(postings.join(transactions, transactions.c.id == postings.c.transaction_id))
            .where(postings.c.account_id == account_id, transactions.c.kind == TransactionKind.EXPIRE)
        )
        return int(self.connection.execute(query).scalar_one())

    def expired_with_value(self, now: dt.datetime, limit: int, after: str = "") -> list[LotRecord]:
        """Lots past their expiry that still hold value, by account id after `after`."""
        query = (
            self._query()
            .where(lots.c.expires_at <= now, balances.c.balance_minor > 0, lots.c.account_id > after)
            .order_by(lots.c.account_id)
            .limit(limit)
        )
        return [_lot(row) for row in self.connection.execute(query)]

    def count_expired_with_value(self, now: dt.datetime) -> int:
        """How many lots are past their expiry and still hold value (what an expiry run will go through)."""
        query = (
            select(func.count())
            .select_from(
                lots.join(balances, and_(balances.c.account_id == lots.c.account_id, balances.c.shard == 0))
            )
            .where(lots.c.expires_at <= now, balances.c.balance_minor > 0)
        )
        return int(self.connection.execute(query).scalar_one())

    def owners_total(self, owner_id: str, scheme_id: str) -> int:
        """The balance of a wallet in one scheme (the sum of its lots)."""
        query = (
            select(func.coalesce(func.sum(balances.c.balance_minor), 0))
            .select_from(lots.join(balances, balances.c.account_id == lots.c.account_id))
            .where(lots.c.owner_id == owner_id, lots.c.scheme_id == scheme_id)
        )
        return int(self.connection.execute(query).scalar_one())


def _lot(row: Any) -> LotRecord:
    # The wallet query already read the lot's account: cache it so recording the spend needs no lookup.
    remember(
        AccountRecord(
            row.account_id,
            row.name,
            Unit(row.unit),
            AccountKind(row.kind),
            row.floor_minor,
            int(row.shard_count),
        )
    )
    return LotRecord(
        account_id=row.account_id,
        owner_id=row.owner_id,
        scheme_id=row.scheme_id,
        unit=Unit(row.unit),
        category=row.category,
        expires_at=row.expires_at,
        created_at=row.created_at,
        balance_minor=int(row.balance_minor),
        floor_minor=int(row.floor_minor),
    )
