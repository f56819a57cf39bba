"""Auditor exports: the journal between two instants and the accounts it touches, streamed by keyset;
signed tree heads a page at a time, newest first."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator, Sequence
from typing import Any

from sqlalchemy import Connection, and_, exists, or_, select

from ledger.db.rows import transaction_from_row
from ledger.db.tables import accounts, checkpoints, postings, transactions
from ledger.records import CheckpointRecord, TransactionRecord

EXPORT_BATCH_SIZE = 1_000


class ExportRepository:
    """Bounded-memory reads for journal exports and checkpoint listings on one connection."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    def transactions(
        self,
        *,
        after: dt.datetime | None = None,
        up_to: dt.datetime | None = None,
        batch_size: int = EXPORT_BATCH_SIZE,
    ) -> Iterator[tuple[TransactionRecord, dict[str, str]]]:
        """Transactions recorded in (after, up_to], in (recorded_at, id) order, each with the names of
        the accounts its postings touch; one batch of headers and postings in memory at a time."""
        last: tuple[dt.datetime, str] | None = None
        while True:
            query = _in_range(select(transactions), transactions.c.recorded_at, after, up_to)
            if last is not None:
                query = query.where(
                    or_(
                        transactions.c.recorded_at > last[0],
                        and_(transactions.c.recorded_at == last[0], transactions.c.id > last[1]),
                    )
                )
            order = (transactions.c.recorded_at, transactions.c.id)
            headers = self.connection.execute(query.order_by(*order).limit(batch_size)).all()
            if not headers:
                return
            yield from self._with_postings(headers)
            if len(headers) < batch_size:
                return
            last = (headers[-1].recorded_at, headers[-1].id)

    def _with_postings(self, headers: Sequence[Any]) -> Iterator[tuple[TransactionRecord, dict[str, str]]]:
        grouped: dict[str, list[Any]] = {h.id: [] for h in headers}
        names: dict[str, str] = {}
        query = (
            select(postings, accounts.c.name.label("account_name"))
            .join(accounts, accounts.c.id == postings.c.account_id)
            .where(postings.c.transaction_id.in_(list(grouped)))
            .order_by(postings.c.transaction_id, postings.c.line)
        )
        for line in self.connection.execute(query):
            grouped[line.transaction_id].append(line)
            names[line.account_id] = line.account_name
        for header in headers:
            lines = grouped[header.id]
            yield transaction_from_row(header, lines), {p.account_id: names[p.account_id] for p in lines}

    def accounts_used(
        self,
        *,
        after: dt.datetime | None = None,
        up_to: dt.datetime | None = None,
        batch_size: int = EXPORT_BATCH_SIZE,
    ) -> Iterator[tuple[str, str, str]]:
        """(id, name, unit) of every account with a posting recorded in (after, up_to], by name."""
        used = exists().where(postings.c.account_id == accounts.c.id)
        used = _in_range(used, postings.c.recorded_at, after, up_to)
        last_name: str | None = None
        while True:
            query = select(accounts.c.id, accounts.c.name, accounts.c.unit).where(used)
            if last_name is not None:
                query = query.where(accounts.c.name > last_name)
            rows = self.connection.execute(query.order_by(accounts.c.name).limit(batch_size)).all()
            for row in rows:
                yield row.id, row.name, row.unit
            if len(rows) < batch_size:
                return
            last_name = rows[-1].name

    def checkpoints_page(self, *, limit: int, before_size: int | None) -> list[CheckpointRecord]:
        """Signed tree heads, newest (largest) first, strictly below `before_size` when given."""
        query = select(checkpoints).order_by(checkpoints.c.tree_size.desc()).limit(limit)
        if before_size is not None:
            query = query.where(checkpoints.c.tree_size < before_size)
        return [
            CheckpointRecord(
                tree_size=int(row.tree_size),
                root_hash=row.root_hash,
                signed_at=row.signed_at,
                key_id=row.key_id,
                public_key=row.public_key,
                signature=row.signature,
                frontier=tuple(json.loads(row.frontier_json)),
            )
            for row in self.connection.execute(query)
        ]


def _in_range(query: Any, column: Any, after: dt.datetime | None, up_to: dt.datetime | None) -> Any:
    """Restrict to after < column <= up_to (either bound optional): periods tile with no gap or overlap."""
    if after is not None:
        query = query.where(column > after)
    if up_to is not None:
        query = query.where(column <= up_to)
    return query


__all__ = ["EXPORT_BATCH_SIZE", "ExportRepository"]
