"""Settlement batches, their lines, where outlets are paid, and what each outlet's payable account owes."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from sqlalchemy import Connection, and_, func, insert, select, union_all, update

from ledger.db.tables import (
    accounts,
    balances,
    outlet_payees,
    outlets,
    postings,
    settlement_batches,
    settlement_lines,
    transactions,
)

PAYABLE_PREFIX = "outlet:"
PAYABLE_SUFFIX = ":payable:GBP"


class SettlementsRepository:
    """Reads and writes the settlement tables on one connection."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    def owed_by_outlet(self, period_end: dt.datetime, settlement_kinds: Iterable[str]) -> dict[str, int]:
        """Each outlet's GBP payable: what it earned up to `period_end`, less every settlement ever posted
        (a settlement approved after the period end was still taken out of what came before it).

        That is the stored balance less what was redeemed or refunded after the period end, so only the
        postings after it are read, whatever the history; one statement, so one snapshot."""
        payables = (
            select(accounts.c.id)
            .where(accounts.c.kind == "payable", accounts.c.name.like(f"{PAYABLE_PREFIX}%{PAYABLE_SUFFIX}"))
            .scalar_subquery()
        )
        stored = select(balances.c.account_id, balances.c.balance_minor.label("amount")).where(
            balances.c.account_id.in_(payables)
        )
        later = (
            select(postings.c.account_id, (-postings.c.amount_minor).label("amount"))
            .join(transactions, transactions.c.id == postings.c.transaction_id)
            .where(
                postings.c.account_id.in_(payables),
                postings.c.recorded_at > period_end,
                transactions.c.kind.not_in(sorted(settlement_kinds)),
            )
        )
        moves = union_all(stored, later).subquery()
        query = (
            select(accounts.c.name, func.sum(moves.c.amount))
            .join(moves, moves.c.account_id == accounts.c.id)
            .group_by(accounts.c.name)
        )
        owed: dict[str, int] = {}
        for name, total in self.connection.execute(query):
            owed[name[len(PAYABLE_PREFIX) : -len(PAYABLE_SUFFIX)]] = int(total)
        return owed

    def statement_entries(
        self,
        account_id: str,
        period_start: dt.datetime | None,
        period_end: dt.datetime,
        settlement_kinds: Iterable[str],
    ) -> list[dict[str, Any]]:
        """The redemptions and refunds (every posting but settlements) on one payable in the period."""
        conditions = [
            postings.c.account_id == account_id,
            postings.c.recorded_at <= period_end,
            transactions.c.kind.not_in(sorted(settlement_kinds)),
        ]
        if period_start is not None:
            conditions.append(postings.c.recorded_at > period_start)
        query = (
            select(
                transactions.c.id,
                transactions.c.kind,
                transactions.c.recorded_at,
                transactions.c.scheme_id,
                postings.c.amount_minor,
            )
            .select_from(postings)
            .join(transactions, transactions.c.id == postings.c.transaction_id)
            .where(and_(*conditions))
            .order_by(postings.c.recorded_at, transactions.c.id)
        )
        return [dict(row._mapping) for row in self.connection.execute(query)]

    def payee(self, outlet_id: str) -> dict[str, Any] | None:
        """Where one outlet is paid, if anyone said."""
        row = self.connection.execute(
            select(outlet_payees).where(outlet_payees.c.outlet_id == outlet_id)
        ).first()
        return None if row is None else dict(row._mapping)

    def payees(self, outlet_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
        """Where each of these outlets is paid (outlets nobody set up are missing)."""
        wanted = sorted(set(outlet_ids))
        found: dict[str, dict[str, Any]] = {}
        for start in range(0, len(wanted), 5_000):
            query = select(outlet_payees).where(outlet_payees.c.outlet_id.in_(wanted[start : start + 5_000]))
            for row in self.connection.execute(query):
                found[row.outlet_id] = dict(row._mapping)
        return found

    def save_payee(self, outlet_id: str, values: dict[str, Any]) -> None:
        """Insert or replace where an outlet is paid."""
        exists = self.payee(outlet_id) is not None
        if exists:
            self.connection.execute(
                update(outlet_payees).where(outlet_payees.c.outlet_id == outlet_id).values(**values)
            )
        else:
            self.connection.execute(insert(outlet_payees).values(outlet_id=outlet_id, **values))

    def latest_batch(self) -> dict[str, Any] | None:
        """The batch with the highest sequence, if any."""
        row = self.connection.execute(
            select(settlement_batches).order_by(settlement_batches.c.sequence.desc()).limit(1)
        ).first()
        return None if row is None else dict(row._mapping)

    def add_batch(self, batch: dict[str, Any], lines: list[dict[str, Any]]) -> None:
        """Insert a batch and its lines."""
        self.connection.execute(insert(settlement_batches).values(**batch))
        if lines:
            self.connection.execute(insert(settlement_lines), [{"batch_id": batch["id"], **x} for x in lines])

    def batch(self, batch_id: str) -> dict[str, Any] | None:
        """One batch, if it exists."""
        row = self.connection.execute(
            select(settlement_batches).where(settlement_batches.c.id == batch_id)
        ).first()
        return None if row is None else dict(row._mapping)

    def batches(self, *, limit: int, before_sequence: int | None) -> list[dict[str, Any]]:
        """Batches newest first, each with its line count and total to pay."""
        query = select(settlement_batches).order_by(settlement_batches.c.sequence.desc()).limit(limit)
        if before_sequence is not None:
            query = query.where(settlement_batches.c.sequence < before_sequence)
        return [dict(row._mapping) for row in self.connection.execute(query)]

    def lines(self, batch_id: str) -> list[dict[str, Any]]:
        """A batch's lines with each outlet's name, by name."""
        named = (
            select(settlement_lines, outlets.c.name.label("outlet_name"))
            .join(outlets, outlets.c.id == settlement_lines.c.outlet_id)
            .where(settlement_lines.c.batch_id == batch_id)
            .order_by(outlets.c.name, settlement_lines.c.outlet_id)
        )
        return [dict(row._mapping) for row in self.connection.execute(named)]

    def move_batch(self, batch_id: str, from_status: str, values: dict[str, Any]) -> bool:
        """Change a batch only if it is still in `from_status` (False: someone else moved it first)."""
        result = self.connection.execute(
            update(settlement_batches)
            .where(settlement_batches.c.id == batch_id, settlement_batches.c.status == from_status)
            .values(**values)
        )
        return result.rowcount == 1

    def move_line(self, batch_id: str, outlet_id: str, from_status: str, values: dict[str, Any]) -> bool:
        """Change a line only if it is still in `from_status`."""
        result = self.connection.execute(
            update(settlement_lines)
            .where(
                settlement_lines.c.batch_id == batch_id,
                settlement_lines.c.outlet_id == outlet_id,
                settlement_lines.c.status == from_status,
            )
            .values(**values)
        )
        return result.rowcount == 1

    def line_by_transfer(self, transfer_id: str) -> dict[str, Any] | None:
        """The line a Stripe transfer paid, if it is ours."""
        row = self.connection.execute(
            select(settlement_lines).where(settlement_lines.c.transfer_id == transfer_id)
        ).first()
        return None if row is None else dict(row._mapping)

    def lines_in_status(self, status: str, destination: str | None = None) -> list[dict[str, Any]]:
        """Every line in a status (optionally to one connected account), oldest batch first."""
        query = (
            select(settlement_lines)
            .join(settlement_batches, settlement_batches.c.id == settlement_lines.c.batch_id)
            .where(settlement_lines.c.status == status)
            .order_by(settlement_batches.c.sequence, settlement_lines.c.outlet_id)
        )
        if destination is not None:
            query = query.where(settlement_lines.c.destination == destination)
        return [dict(row._mapping) for row in self.connection.execute(query)]
