"""The journal: inserting and reading immutable transactions and postings; idempotency records."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator, Sequence
from typing import Any

from sqlalchemy import Connection, func, insert, literal_column, select, text

from ledger.db.rows import transaction_from_row
from ledger.db.tables import idempotency_keys, postings, transactions
from ledger.errors import IdempotencyInFlight
from ledger.journal import TransactionDraft, canonical_json
from ledger.records import TransactionRecord

STREAM_BATCH_SIZE = 5_000
SEAL_KEY_SQL: Any = literal_column("pg_current_xact_id()::text::bigint")


class JournalRepository:
    """Appends to and reads the journal on one connection."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self.dialect = connection.dialect.name

    def next_seal_key(self) -> int:
        """This transaction's sealing order key (see tables.transactions.seal_key)."""
        if self.dialect == "postgresql":
            return int(
                self.connection.execute(text("SELECT pg_current_xact_id()::text::bigint")).scalar_one()
            )
        # SQLite writers hold the database lock from BEGIN IMMEDIATE, so max + 1 is race-free.
        current = self.connection.execute(select(func.max(transactions.c.seal_key))).scalar_one()
        return int(current or 0) + 1

    def insert(self, draft: TransactionDraft, seal_key: int | None = None) -> None:
        """Insert the header and postings of a balanced draft (seal key computed unless given)."""
        seal: Any = seal_key
        if seal is None:
            # On PostgreSQL the transaction id is read inside the INSERT itself: one round trip fewer.
            seal = SEAL_KEY_SQL if self.dialect == "postgresql" else self.next_seal_key()
        self.connection.execute(
            insert(transactions).values(
                id=draft.id,
                kind=draft.kind,
                idempotency_key=draft.idempotency_key,
                occurred_at=draft.occurred_at,
                recorded_at=draft.recorded_at,
                actor=draft.actor,
                outlet_id=draft.outlet_id,
                scheme_id=draft.scheme_id,
                rule_version=draft.rule_version,
                reverses_id=draft.reverses_id,
                metadata_json=canonical_json(dict(draft.metadata)).decode(),
                content_hash=draft.content_hash,
                seal_key=seal,
            )
        )
        self.connection.execute(
            insert(postings),
            [
                {
                    "transaction_id": draft.id,
                    "line": line,
                    "account_id": p.account_id,
                    "unit": p.unit.value,
                    "amount_minor": p.amount_minor,
                    "recorded_at": draft.recorded_at,
                }
                for line, p in enumerate(draft.postings)
            ],
        )

    def get(self, transaction_id: str) -> TransactionRecord | None:
        """The transaction with this id, with its postings."""
        row = self.connection.execute(select(transactions).where(transactions.c.id == transaction_id)).first()
        if row is None:
            return None
        lines = self.connection.execute(
            select(postings).where(postings.c.transaction_id == transaction_id).order_by(postings.c.line)
        ).all()
        return transaction_from_row(row, list(lines))

    def reversal_of(self, transaction_id: str) -> str | None:
        """The id of the transaction that reversed this one, if any."""
        return self.connection.execute(
            select(transactions.c.id).where(transactions.c.reverses_id == transaction_id)
        ).scalar_one_or_none()

    def entries(
        self, account_id: str, *, limit: int, before: tuple[dt.datetime, str] | None = None
    ) -> list[tuple[TransactionRecord, int]]:
        """An account's history, newest first: (transaction, this account's net amount)."""
        query = (
            select(transactions, func.sum(postings.c.amount_minor).label("net"))
            .join(postings, postings.c.transaction_id == transactions.c.id)
            .where(postings.c.account_id == account_id)
            .group_by(transactions.c.id)
            .order_by(transactions.c.recorded_at.desc(), transactions.c.id.desc())
            .limit(limit)
        )
        if before is not None:
            at, last_id = before
            query = query.where(
                (transactions.c.recorded_at < at)
                | ((transactions.c.recorded_at == at) & (transactions.c.id < last_id))
            )
        rows = self.connection.execute(query).all()
        return [(self._with_postings(row), int(row.net)) for row in rows]

    def _with_postings(self, row: Any) -> TransactionRecord:
        lines = self.connection.execute(
            select(postings).where(postings.c.transaction_id == row.id).order_by(postings.c.line)
        ).all()
        return transaction_from_row(row, list(lines))

    def stream(self, *, up_to: dt.datetime | None = None) -> Iterator[TransactionRecord]:
        """Every transaction with postings, in (recorded_at, id) order, in bounded memory."""
        last: tuple[dt.datetime, str] | None = None
        while True:
            query = select(transactions).order_by(transactions.c.recorded_at, transactions.c.id)
            if up_to is not None:
                query = query.where(transactions.c.recorded_at <= up_to)
            if last is not None:
                query = query.where(
                    (transactions.c.recorded_at > last[0])
                    | ((transactions.c.recorded_at == last[0]) & (transactions.c.id > last[1]))
                )
            headers = self.connection.execute(query.limit(STREAM_BATCH_SIZE)).all()
            if not headers:
                return
            yield from self._attach_postings(headers)
            last = (headers[-1].recorded_at, headers[-1].id)

    def _attach_postings(self, headers: Sequence[Any]) -> Iterator[TransactionRecord]:
        ids = [h.id for h in headers]
        grouped: dict[str, list[Any]] = {i: [] for i in ids}
        query = select(postings).where(postings.c.transaction_id.in_(ids))
        for line in self.connection.execute(query.order_by(postings.c.transaction_id, postings.c.line)):
            grouped[line.transaction_id].append(line)
        for header in headers:
            yield transaction_from_row(header, grouped[header.id])


class IdempotencyRepository:
    """Stored results of idempotent writes, kept in the same database transaction as their postings."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    def claim_and_find(self, scope: str, key: str) -> tuple[str, Any] | None:
        """Refuse a key still in flight (409) and return its stored result, in one round trip on PostgreSQL.

        SQLite needs no claim: its writers are already serialised by BEGIN IMMEDIATE.

        The lookup may use a snapshot from just before the lock was taken, so a twin that committed in
        between can be missed; its stored key then makes our insert fail, and the retry replays it."""
        if self.connection.dialect.name != "postgresql":
            return self.find(scope, key)
        row = self.connection.execute(
            text(
                "SELECT pg_try_advisory_xact_lock(hashtextextended(:name, 0)) AS acquired, "
                "stored.fingerprint, stored.result_json FROM (SELECT 1) AS one LEFT JOIN "
                "(SELECT fingerprint, result_json FROM idempotency_keys WHERE scope = :scope AND key = :key) "
                "AS stored ON true"
            ),
            {"name": f"{len(scope)}:{scope}{key}", "scope": scope, "key": key},
        ).one()
        if not row.acquired:
            raise IdempotencyInFlight("a request with this idempotency key is still in flight")
        return None if row.fingerprint is None else (row.fingerprint, json.loads(row.result_json))

    def find(self, scope: str, key: str) -> tuple[str, Any] | None:
        """(fingerprint, result) stored under this key, if any."""
        row = self.connection.execute(
            select(idempotency_keys.c.fingerprint, idempotency_keys.c.result_json).where(
                idempotency_keys.c.scope == scope, idempotency_keys.c.key == key
            )
        ).first()
        return None if row is None else (row.fingerprint, json.loads(row.result_json))

    def store(self, scope: str, key: str, fingerprint: str, result: Any, now: dt.datetime) -> None:
        """Remember the result of this key."""
        self.connection.execute(
            insert(idempotency_keys).values(
                scope=scope,
                key=key,
                fingerprint=fingerprint,
                result_json=canonical_json(result).decode(),
                created_at=now,
            )
        )
