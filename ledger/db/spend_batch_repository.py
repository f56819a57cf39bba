"""Set-based statements for a batch of spends: a fixed handful of round trips, whatever the batch size.

Each method does for many rows what the single-spend repositories do for one, with the same locks in the
same order (wallet locks, then lot balance rows by account id, then the hot payable shards last), so a batch
and a single spend can run side by side without deadlocking each other.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, Table, bindparam, insert, select, text, tuple_, update
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from ledger.db.lots_repository import MAX_LOTS_PER_WALLET, LotsRepository, _lot
from ledger.db.registry_repository import _outlet as outlet_from_row
from ledger.db.tables import (
    accounts,
    balances,
    cards,
    distrusted_card_keys,
    holds,
    idempotency_keys,
    lots,
    outlets,
    postings,
    spend_counters,
    transactions,
)
from ledger.journal import TransactionDraft, canonical_json
from ledger.records import LotRecord

Wallet = tuple[str, str]  # (owner id, scheme id)

# The PostgreSQL array type of each column a batch inserts (columns in the tables' order).
_HEADER_TYPES = {
    "id": "text",
    "kind": "text",
    "idempotency_key": "text",
    "occurred_at": "timestamptz",
    "recorded_at": "timestamptz",
    "actor": "text",
    "outlet_id": "text",
    "scheme_id": "text",
    "rule_version": "integer",
    "reverses_id": "text",
    "metadata_json": "text",
    "content_hash": "text",
    "seal_key": "bigint",
}
_POSTING_TYPES = {
    "transaction_id": "text",
    "line": "smallint",
    "account_id": "text",
    "unit": "text",
    "amount_minor": "bigint",
    "recorded_at": "timestamptz",
}
_COUNTER_TYPES = {
    "owner_id": "text",
    "scheme_id": "text",
    "day_start": "timestamptz",
    "day_end": "timestamptz",
    "spent_minor": "bigint",
}
_ANSWER_TYPES = {
    "scope": "text",
    "key": "text",
    "fingerprint": "text",
    "result_json": "text",
    "created_at": "timestamptz",
}
ScopedKey = tuple[str, str]  # (idempotency scope, key)

_CLAIM_SQL = text(
    "SELECT claimed.scope, claimed.key, pg_try_advisory_xact_lock(hashtextextended(claimed.name, 0)) "
    "AS acquired, stored.fingerprint, stored.result_json "
    "FROM unnest(CAST(:names AS text[]), CAST(:scopes AS text[]), CAST(:keys AS text[])) "
    "AS claimed(name, scope, key) "
    "LEFT JOIN idempotency_keys AS stored ON stored.scope = claimed.scope AND stored.key = claimed.key"
)
# OFFSET 0 keeps the sorted subquery a fence: the locks are taken in name order, as every batch takes them.
_LOCK_WALLETS_SQL = text(
    "SELECT count(pg_advisory_xact_lock(hashtextextended(wallet.name, 0))) FROM "
    "(SELECT name FROM unnest(CAST(:names AS text[])) AS name ORDER BY name OFFSET 0) AS wallet"
)
_MOVE_CHECKED_SQL = text(
    "UPDATE balances SET balance_minor = balances.balance_minor + moved.delta "
    "FROM unnest(CAST(:ids AS text[]), CAST(:deltas AS bigint[]), CAST(:floors AS bigint[])) "
    "AS moved(id, delta, floor) "
    "WHERE balances.account_id = moved.id AND balances.shard = 0 "
    "AND balances.balance_minor + moved.delta >= moved.floor"
)
_CREDIT_SHARDS_SQL = text(
    "UPDATE balances SET balance_minor = balances.balance_minor + credited.delta "
    "FROM unnest(CAST(:ids AS text[]), CAST(:shards AS smallint[]), CAST(:deltas AS bigint[])) "
    "AS credited(id, shard, delta) "
    "WHERE balances.account_id = credited.id AND balances.shard = credited.shard"
)


class SpendBatchRepository:
    """The statements of one batch of spends, on the unit of work's connection."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self.postgresql = connection.dialect.name == "postgresql"

    def claim(self, scoped_keys: Sequence[ScopedKey]) -> dict[ScopedKey, tuple[bool, tuple[str, Any] | None]]:
        """Per key: whether it was claimed (False: still in flight elsewhere) and its stored answer, if any.

        The same advisory lock as IdempotencyRepository.claim_and_find, for every key in one statement."""
        if not scoped_keys:
            return {}
        if not self.postgresql:  # SQLite writers are serialised by BEGIN IMMEDIATE: nothing is in flight
            found = self._stored(scoped_keys)
            return {scoped: (True, found.get(scoped)) for scoped in scoped_keys}
        names = [f"{len(scope)}:{scope}{key}" for scope, key in scoped_keys]
        rows = self.connection.execute(
            _CLAIM_SQL,
            {"names": names, "scopes": [s for s, _ in scoped_keys], "keys": [k for _, k in scoped_keys]},
        )
        return {
            (row.scope, row.key): (
                bool(row.acquired),
                None if row.fingerprint is None else (row.fingerprint, json.loads(row.result_json)),
            )
            for row in rows
        }

    def _stored(self, scoped_keys: Sequence[ScopedKey]) -> dict[ScopedKey, tuple[str, Any]]:
        query = select(
            idempotency_keys.c.scope,
            idempotency_keys.c.key,
            idempotency_keys.c.fingerprint,
            idempotency_keys.c.result_json,
        ).where(tuple_(idempotency_keys.c.scope, idempotency_keys.c.key).in_(list(scoped_keys)))
        return {
            (row.scope, row.key): (row.fingerprint, json.loads(row.result_json))
            for row in self.connection.execute(query)
        }

    def account_ids(self, names: Collection[str]) -> dict[str, str]:
        """The ids of the accounts with these names (those that exist), in one statement."""
        if not names:
            return {}
        query = select(accounts.c.name, accounts.c.id).where(accounts.c.name.in_(sorted(names)))
        return {row.name: row.id for row in self.connection.execute(query)}

    def cards(self, numbers: Collection[str]) -> dict[str, dict[str, Any]]:
        """KeysRepository.card_for_token for many card numbers, in one statement."""
        if not numbers:
            return {}
        query = (
            select(cards, distrusted_card_keys.c.key_id.is_not(None).label("key_distrusted"))
            .select_from(
                cards.outerjoin(distrusted_card_keys, distrusted_card_keys.c.key_id == cards.c.key_id)
            )
            .where(cards.c.number.in_(sorted(numbers)))
        )
        return {row.number: dict(row._mapping) for row in self.connection.execute(query)}

    def outlets(self, outlet_ids: Collection[str]) -> dict[str, dict[str, Any]]:
        """RegistryRepository.outlet for many outlets, in one statement."""
        if not outlet_ids:
            return {}
        query = select(outlets).where(outlets.c.id.in_(sorted(outlet_ids)))
        return {row.id: outlet_from_row(row) for row in self.connection.execute(query)}

    def lock_wallets(self, wallets: Collection[Wallet]) -> None:
        """ActivityRepository.lock_wallet for every wallet, in one global (name) order, in one statement."""
        if not self.postgresql or not wallets:
            return
        names = sorted(f"clubcard:wallet:{owner}:{scheme}" for owner, scheme in wallets)
        self.connection.execute(_LOCK_WALLETS_SQL, {"names": names})

    def with_timed_out_holds(self, wallets: Collection[Wallet], now: dt.datetime) -> set[Wallet]:
        """The wallets among these with a pending hold past its timeout at `now` (to be released first)."""
        if not wallets:
            return set()
        query = select(holds.c.owner_id, holds.c.scheme_id).where(
            tuple_(holds.c.owner_id, holds.c.scheme_id).in_(list(wallets)),
            holds.c.status == "pending",
            holds.c.expires_at <= now,
        )
        return {(row.owner_id, row.scheme_id) for row in self.connection.execute(query)}

    def locked_wallets(self, wallets: Collection[Wallet]) -> dict[Wallet, list[LotRecord]]:
        """Every lot of these wallets, their balance rows locked in account id order until commit."""
        found: dict[Wallet, list[LotRecord]] = {wallet: [] for wallet in wallets}
        if not wallets:
            return found
        query = (
            LotsRepository(self.connection)
            ._query()
            .where(tuple_(lots.c.owner_id, lots.c.scheme_id).in_(list(wallets)))
            .order_by(lots.c.account_id)
            .with_for_update(of=balances)
        )
        for row in self.connection.execute(query):
            lot = _lot(row)
            found[(lot.owner_id, lot.scheme_id)].append(lot)
        assert all(len(lots_of) <= MAX_LOTS_PER_WALLET for lots_of in found.values())
        return found

    def spend_counters(
        self, wallets: Collection[Wallet], earliest: dt.datetime, latest: dt.datetime
    ) -> dict[Wallet, list[tuple[dt.datetime, dt.datetime, int]]]:
        """The wallets' spend counters whose council day overlaps [earliest, latest]: (start, end, spent)."""
        found: dict[Wallet, list[tuple[dt.datetime, dt.datetime, int]]] = {wallet: [] for wallet in wallets}
        if not wallets:
            return found
        query = select(spend_counters).where(
            tuple_(spend_counters.c.owner_id, spend_counters.c.scheme_id).in_(list(wallets)),
            spend_counters.c.day_start <= latest,
            spend_counters.c.day_end > earliest,
        )
        for row in self.connection.execute(query):
            found[(row.owner_id, row.scheme_id)].append((row.day_start, row.day_end, int(row.spent_minor)))
        return found

    def move_checked(self, moves: Mapping[str, tuple[int, int]]) -> bool:
        """Move floored balances (account id -> (delta, floor)); False unless every one stays >= its floor."""
        ids = sorted(moves)
        if self.postgresql:
            result = self.connection.execute(
                _MOVE_CHECKED_SQL,
                {"ids": ids, "deltas": [moves[i][0] for i in ids], "floors": [moves[i][1] for i in ids]},
            )
            return int(result.rowcount) == len(ids)
        moved = 0
        for account_id in ids:
            delta, floor = moves[account_id]
            condition = balances.c.balance_minor + delta >= floor
            moved += self.connection.execute(
                update(balances)
                .where(balances.c.account_id == account_id, balances.c.shard == 0, condition)
                .values(balance_minor=balances.c.balance_minor + delta)
            ).rowcount
        return moved == len(ids)

    def insert_journal(self, drafts: Sequence[TransactionDraft], seal_key: int) -> None:
        """Every header in one INSERT, every posting in another (one seal key: one database transaction)."""
        lines = [
            {
                "transaction_id": draft.id,
                "line": line,
                "account_id": posting.account_id,
                "unit": posting.unit.value,
                "amount_minor": posting.amount_minor,
                "recorded_at": draft.recorded_at,
            }
            for draft in drafts
            for line, posting in enumerate(draft.postings)
        ]
        self._insert(transactions, [_header(draft, seal_key) for draft in drafts], _HEADER_TYPES)
        self._insert(postings, lines, _POSTING_TYPES)

    def _insert(
        self, table: Table, rows: list[dict[str, Any]], types: Mapping[str, str], tail: str = ""
    ) -> None:
        """One INSERT of many rows: on PostgreSQL one statement over arrays (planned once, however many)."""
        if not self.postgresql:  # in-process: many executions cost no round trips
            statement: Any = insert(table)
            if tail:  # the only tail is the counters' upsert
                statement = sqlite_insert(table)
                statement = statement.on_conflict_do_update(
                    index_elements=["owner_id", "scheme_id", "day_start"],
                    set_={"spent_minor": table.c.spent_minor + statement.excluded.spent_minor},
                )
            self.connection.execute(statement, rows)
            return
        arrays = ", ".join(f"CAST(:{column} AS {kind}[])" for column, kind in types.items())
        statement = text(
            f"INSERT INTO {table.name} ({', '.join(types)}) SELECT * FROM unnest({arrays}) {tail}"
        )
        self.connection.execute(statement, {column: [row[column] for row in rows] for column in types})

    def credit_shards(self, credits: Mapping[tuple[str, int], int]) -> None:
        """Add to floorless (payable) balances, one row per (account, shard), summed over the batch."""
        if not credits:
            return
        keys = sorted(credits)
        if self.postgresql:
            self.connection.execute(
                _CREDIT_SHARDS_SQL,
                {
                    "ids": [account for account, _ in keys],
                    "shards": [shard for _, shard in keys],
                    "deltas": [credits[k] for k in keys],
                },
            )
            return
        statement = (
            update(balances)
            .where(balances.c.account_id == bindparam("id"), balances.c.shard == bindparam("number"))
            .values(balance_minor=balances.c.balance_minor + bindparam("delta"))
        )
        self.connection.execute(
            statement, [{"id": a, "number": s, "delta": credits[(a, s)]} for a, s in keys]
        )

    def count_spends(self, counts: Mapping[tuple[str, str, dt.datetime, dt.datetime], int]) -> None:
        """Add to each wallet's counter of its council day [start, end), opening the counter if new."""
        if not counts:
            return
        assert all(amount > 0 for amount in counts.values())
        rows = [
            {"owner_id": o, "scheme_id": s, "day_start": a, "day_end": b, "spent_minor": amount}
            for (o, s, a, b), amount in sorted(counts.items())
        ]
        tail = (
            "ON CONFLICT (owner_id, scheme_id, day_start) DO UPDATE "
            "SET spent_minor = spend_counters.spent_minor + excluded.spent_minor"
        )
        self._insert(spend_counters, rows, _COUNTER_TYPES, tail)

    def store_results(self, results: Iterable[tuple[ScopedKey, str, Any, dt.datetime]]) -> None:
        """Remember each key's answer: ((scope, key), fingerprint, result, created at), in one INSERT."""
        rows = [
            {
                "scope": scope,
                "key": key,
                "fingerprint": fingerprint,
                "result_json": canonical_json(result).decode(),
                "created_at": now,
            }
            for (scope, key), fingerprint, result, now in results
        ]
        if rows:
            self._insert(idempotency_keys, rows, _ANSWER_TYPES)


def _header(draft: TransactionDraft, seal_key: int) -> dict[str, Any]:
    return {
        "id": draft.id,
        "kind": draft.kind,
        "idempotency_key": draft.idempotency_key,
        "occurred_at": draft.occurred_at,
        "recorded_at": draft.recorded_at,
        "actor": draft.actor,
        "outlet_id": draft.outlet_id,
        "scheme_id": draft.scheme_id,
        "rule_version": draft.rule_version,
        "reverses_id": draft.reverses_id,
        "metadata_json": canonical_json(dict(draft.metadata)).decode(),
        "content_hash": draft.content_hash,
        "seal_key": seal_key,
    }
