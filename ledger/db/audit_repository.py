"""Audit queries: sums of postings, unbalanced transactions, seals and signed checkpoints."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from typing import Any

from sqlalchemy import Connection, func, insert, select, text

from ledger.db.rows import transaction_from_row
from ledger.db.tables import accounts, checkpoint_leaves, checkpoints, postings, seals, transactions
from ledger.records import CheckpointRecord, TransactionRecord

STREAM_BATCH_SIZE = 20_000


class AuditRepository:
    """Read-mostly audit queries, plus appending seals and checkpoints."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self.dialect = connection.dialect.name

    def sums_by_account(self, at: dt.datetime | None = None) -> list[tuple[str, str, str, int]]:
        """(account id, name, unit, sum of postings) for every account with postings, as of `at`."""
        query = (
            select(accounts.c.id, accounts.c.name, postings.c.unit, func.sum(postings.c.amount_minor))
            .join(accounts, accounts.c.id == postings.c.account_id)
            .group_by(accounts.c.id, accounts.c.name, postings.c.unit)
            .order_by(accounts.c.name)
        )
        if at is not None:
            query = query.where(postings.c.recorded_at <= at)
        return [(row[0], row[1], row[2], int(row[3])) for row in self.connection.execute(query)]

    def unbalanced_transactions(self, limit: int = 10) -> list[str]:
        """Ids of transactions whose postings do not sum to zero in some unit (should be none)."""
        query = (
            select(postings.c.transaction_id)
            .group_by(postings.c.transaction_id, postings.c.unit)
            .having(func.sum(postings.c.amount_minor) != 0)
            .limit(limit)
        )
        return list(self.connection.execute(query).scalars())

    def mixed_unit_postings(self, limit: int = 10) -> list[str]:
        """Transactions with a posting whose unit differs from its account's unit (should be none)."""
        query = (
            select(postings.c.transaction_id)
            .join(accounts, accounts.c.id == postings.c.account_id)
            .where(accounts.c.unit != postings.c.unit)
            .limit(limit)
        )
        return list(self.connection.execute(query).scalars())

    def try_lock_sealer(self) -> bool:
        """Only one sealer at a time (PostgreSQL advisory lock; SQLite writers are serialised)."""
        if self.dialect != "postgresql":
            return True
        return bool(
            self.connection.execute(
                text("SELECT pg_try_advisory_xact_lock(hashtextextended('clubcard-sealer', 0))")
            ).scalar_one()
        )

    def safe_horizon(self) -> int | None:
        """Seal keys below this belong to finished transactions only; None means all are final."""
        if self.dialect != "postgresql":
            return None
        value = self.connection.execute(
            text("SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint")
        ).scalar_one()
        return int(value)

    def unsealed(self, horizon: int | None, limit: int) -> list[tuple[str, str]]:
        """(id, content hash) of committed transactions not yet sealed, in sealing order."""
        sealed = select(seals.c.transaction_id).where(seals.c.transaction_id == transactions.c.id)
        query = (
            select(transactions.c.id, transactions.c.content_hash)
            .where(~sealed.exists())
            .order_by(transactions.c.seal_key, transactions.c.id)
            .limit(limit)
        )
        if horizon is not None:
            query = query.where(transactions.c.seal_key < horizon)
        if self.dialect == "postgresql":
            query = query.where(transactions.c.seal_key >= self._sealed_key_floor())
        return [(row.id, row.content_hash) for row in self.connection.execute(query)]

    def _sealed_key_floor(self) -> int:
        # Everything below the last sealed key is sealed already: skip it via the seal_key index.
        last = self.connection.execute(
            select(transactions.c.seal_key)
            .join(seals, seals.c.transaction_id == transactions.c.id)
            .order_by(seals.c.position.desc())
            .limit(1)
        ).scalar_one_or_none()
        return int(last) if last is not None else 0

    def sealed_count(self) -> int:
        """How many transactions are sealed."""
        return int(self.connection.execute(select(func.count()).select_from(seals)).scalar_one())

    def append_seals(self, first_position: int, transaction_ids: list[str]) -> None:
        """Seal these transactions at consecutive positions."""
        self.connection.execute(
            insert(seals),
            [{"position": first_position + i, "transaction_id": t} for i, t in enumerate(transaction_ids)],
        )

    def latest_checkpoint(self) -> CheckpointRecord | None:
        """The most recent signed tree head."""
        row = self.connection.execute(
            select(checkpoints).order_by(checkpoints.c.tree_size.desc()).limit(1)
        ).first()
        return None if row is None else _checkpoint(row)

    def checkpoints(self) -> list[CheckpointRecord]:
        """Every signed tree head, oldest first."""
        rows = self.connection.execute(select(checkpoints).order_by(checkpoints.c.tree_size))
        return [_checkpoint(row) for row in rows]

    def checkpoint_covering(self, position: int) -> CheckpointRecord | None:
        """The first checkpoint whose tree includes this seal position."""
        row = self.connection.execute(
            select(checkpoints)
            .where(checkpoints.c.tree_size > position)
            .order_by(checkpoints.c.tree_size)
            .limit(1)
        ).first()
        return None if row is None else _checkpoint(row)

    def insert_checkpoint(self, checkpoint: CheckpointRecord) -> None:
        """Store a signed tree head."""
        self.connection.execute(
            insert(checkpoints).values(
                tree_size=checkpoint.tree_size,
                root_hash=checkpoint.root_hash,
                signed_at=checkpoint.signed_at,
                key_id=checkpoint.key_id,
                public_key=checkpoint.public_key,
                signature=checkpoint.signature,
                frontier_json=json.dumps(list(checkpoint.frontier)),
            )
        )

    def insert_checkpoint_leaves(self, tree_size: int, content_hashes: bytes) -> None:
        """Store the raw content hashes a checkpoint sealed, in position order."""
        self.connection.execute(
            insert(checkpoint_leaves).values(tree_size=tree_size, content_hashes=content_hashes)
        )

    def checkpoint_leaves(self, tree_size: int) -> bytes | None:
        """The raw content hashes the checkpoint of this size sealed; None if none were stored."""
        value = self.connection.execute(
            select(checkpoint_leaves.c.content_hashes).where(checkpoint_leaves.c.tree_size == tree_size)
        ).scalar_one_or_none()
        return None if value is None else bytes(value)

    def seal_records(self, from_position: int = 0) -> Iterator[tuple[int, str, str | None]]:
        """(position, transaction id, stored content hash or None if that transaction is gone), streamed.

        Unlike `sealed_hashes`, a seal record whose transaction was deleted still shows, and nothing
        assumes the positions are consecutive: verify reports what is missing instead.
        """
        position = from_position
        while True:
            rows = self.connection.execute(
                select(seals.c.position, seals.c.transaction_id, transactions.c.content_hash)
                .outerjoin(transactions, transactions.c.id == seals.c.transaction_id)
                .where(seals.c.position >= position)
                .order_by(seals.c.position)
                .limit(STREAM_BATCH_SIZE)
            ).all()
            if not rows:
                return
            for row in rows:
                yield int(row[0]), row[1], row[2]
            position = int(rows[-1][0]) + 1

    def sealed_transactions(self, from_position: int) -> Iterator[tuple[int, str, TransactionRecord | None]]:
        """(position, transaction id, the transaction with postings or None if gone) from a position on."""
        position = from_position
        while True:
            rows = self.connection.execute(
                select(seals.c.position, seals.c.transaction_id.label("sealed_id"), transactions)
                .outerjoin(transactions, transactions.c.id == seals.c.transaction_id)
                .where(seals.c.position >= position)
                .order_by(seals.c.position)
                .limit(STREAM_BATCH_SIZE)
            ).all()
            if not rows:
                return
            grouped: dict[str, list[Any]] = {row.sealed_id: [] for row in rows}
            lines = select(postings).where(postings.c.transaction_id.in_(list(grouped)))
            for line in self.connection.execute(lines.order_by(postings.c.transaction_id, postings.c.line)):
                grouped[line.transaction_id].append(line)
            for row in rows:
                found = None if row.id is None else transaction_from_row(row, grouped[row.sealed_id])
                yield int(row.position), row.sealed_id, found
            position = int(rows[-1].position) + 1

    def seals_at(self, positions: list[int]) -> dict[int, tuple[str, str | None]]:
        """position -> (transaction id, its stored content hash or None if gone), where a seal record is."""
        rows = self.connection.execute(
            select(seals.c.position, seals.c.transaction_id, transactions.c.content_hash)
            .outerjoin(transactions, transactions.c.id == seals.c.transaction_id)
            .where(seals.c.position.in_(positions))
        )
        return {int(row[0]): (row[1], row[2]) for row in rows}

    def transactions_with_content_hashes(self, content_hashes: list[str]) -> dict[str, str]:
        """content hash -> id of a transaction storing it (a scan: only for reporting tampering)."""
        if not content_hashes:
            return {}
        rows = self.connection.execute(
            select(transactions.c.content_hash, transactions.c.id).where(
                transactions.c.content_hash.in_(content_hashes)
            )
        )
        return {row[0]: row[1] for row in rows}

    def seal_position(self, transaction_id: str) -> int | None:
        """Where this transaction sits in the sealed order, if sealed."""
        return self.connection.execute(
            select(seals.c.position).where(seals.c.transaction_id == transaction_id)
        ).scalar_one_or_none()

    def sealed_hashes(self, limit: int | None = None) -> Iterator[tuple[int, str, str]]:
        """(position, transaction id, stored content hash) in sealed order, streamed."""
        position = 0
        while limit is None or position < limit:
            batch = STREAM_BATCH_SIZE if limit is None else min(STREAM_BATCH_SIZE, limit - position)
            rows = self.connection.execute(
                select(seals.c.position, seals.c.transaction_id, transactions.c.content_hash)
                .join(transactions, transactions.c.id == seals.c.transaction_id)
                .where(seals.c.position >= position)
                .order_by(seals.c.position)
                .limit(batch)
            ).all()
            if not rows:
                return
            for row in rows:
                yield int(row[0]), row[1], row[2]
            position = int(rows[-1][0]) + 1


def _checkpoint(row: Any) -> CheckpointRecord:
    return CheckpointRecord(
        tree_size=int(row.tree_size),
        root_hash=row.root_hash,
        signed_at=row.signed_at,
        key_id=row.key_id,
        public_key=row.public_key,
        signature=row.signature,
        frontier=tuple(json.loads(row.frontier_json)),
    )
