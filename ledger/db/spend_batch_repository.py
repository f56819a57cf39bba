"""Set-based statements for a batch of spends: a fixed handful of round trips, whatever the batch size.

Each method does for many rows what the single-spend repositories do for one, with the same locks in the
same order (wallet locks, then lot balance rows by account id, then the hot payable shards last), so a batch
and a single spend can run side by side without deadlocking each other.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Collection, Sequence
from typing import Any

from sqlalchemy import Connection, select, text, tuple_

from ledger.batch_writes import BatchWrites
from ledger.db.lots_repository import MAX_LOTS_PER_WALLET, LotsRepository, _lot
from ledger.db.registry_repository import _outlet as outlet_from_row
from ledger.db.spend_batch_writes import write_batch
from ledger.db.tables import (
    accounts,
    balances,
    cards,
    distrusted_card_keys,
    holds,
    idempotency_keys,
    lots,
    outlets,
    spend_counters,
)
from ledger.records import LotRecord

Wallet = tuple[str, str]  # (owner id, scheme id)
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

    def write(self, writes: BatchWrites) -> bool:
        """Write a planned batch (ledger.db.spend_batch_writes); False if a lot would go below its floor."""
        return write_batch(self.connection, writes)
