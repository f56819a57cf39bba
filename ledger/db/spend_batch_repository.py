"""Set-based statements for a batch of spends: a fixed handful of round trips, whatever the batch size.

Each method does for many rows what the single-spend repositories do for one, with the same locks in the
same order (wallet locks, then lot balance rows by account id, then the hot payable shards last), so a batch
and a single spend can run side by side without deadlocking each other.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import json
from collections.abc import Collection, Sequence
from typing import Any

from sqlalchemy import ColumnElement, Connection, Select, Text, any_, bindparam, func, select, text, tuple_
from sqlalchemy.dialects.postgresql import ARRAY

from ledger.batch_writes import BatchWrites
from ledger.db.lots_repository import MAX_LOTS_PER_WALLET, _lot, lot_query
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


def _one_of(column: Any, name: str, postgresql: bool) -> ColumnElement[bool]:
    """`column` is one of the list bound as `name`: on PostgreSQL `= ANY(array)`, so the statement's text
    (and its prepared plan) is the same whatever the batch size; elsewhere an expanding IN."""
    if postgresql:
        return column == any_(bindparam(name, type_=ARRAY(Text)))
    return column.in_(bindparam(name, expanding=True))


def _wallet_of(owner: Any, scheme: Any, postgresql: bool) -> ColumnElement[bool]:
    """(owner, scheme) is one of the wallets bound as `owners` and `schemes` (or `wallets` off PostgreSQL)."""
    if postgresql:
        pairs = select(
            func.unnest(bindparam("owners", type_=ARRAY(Text))),
            func.unnest(bindparam("schemes", type_=ARRAY(Text))),
        )
        return tuple_(owner, scheme).in_(pairs)
    return tuple_(owner, scheme).in_(bindparam("wallets", expanding=True))


def _wallet_parameters(wallets: Collection[Wallet], postgresql: bool) -> dict[str, Any]:
    ordered = sorted(wallets)
    if postgresql:
        return {"owners": [owner for owner, _ in ordered], "schemes": [scheme for _, scheme in ordered]}
    return {"wallets": ordered}


@dataclasses.dataclass(frozen=True)
class _Statements:
    """The batch's reads, built once per dialect: building a statement costs more than running it here."""

    accounts: Select[Any]
    cards: Select[Any]
    outlets: Select[Any]
    timed_out_holds: Select[Any]
    locked_lots: Select[Any]
    counters: Select[Any]


@functools.cache
def _statements(postgresql: bool) -> _Statements:
    return _Statements(
        accounts=select(accounts.c.name, accounts.c.id).where(_one_of(accounts.c.name, "names", postgresql)),
        cards=select(cards, distrusted_card_keys.c.key_id.is_not(None).label("key_distrusted"))
        .select_from(cards.outerjoin(distrusted_card_keys, distrusted_card_keys.c.key_id == cards.c.key_id))
        .where(_one_of(cards.c.number, "numbers", postgresql)),
        outlets=select(outlets).where(_one_of(outlets.c.id, "ids", postgresql)),
        timed_out_holds=select(holds.c.owner_id, holds.c.scheme_id).where(
            _wallet_of(holds.c.owner_id, holds.c.scheme_id, postgresql),
            holds.c.status == "pending",
            holds.c.expires_at <= bindparam("now"),
        ),
        locked_lots=lot_query()
        .where(_wallet_of(lots.c.owner_id, lots.c.scheme_id, postgresql))
        .order_by(lots.c.account_id)
        .with_for_update(of=balances),
        counters=select(spend_counters).where(
            _wallet_of(spend_counters.c.owner_id, spend_counters.c.scheme_id, postgresql),
            spend_counters.c.day_start <= bindparam("latest"),
            spend_counters.c.day_end > bindparam("earliest"),
        ),
    )


class SpendBatchRepository:
    """The statements of one batch of spends, on the unit of work's connection."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self.postgresql = connection.dialect.name == "postgresql"
        self.statements = _statements(self.postgresql)

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
        rows = self.connection.execute(self.statements.accounts, {"names": sorted(names)})
        return {row.name: row.id for row in rows}

    def cards(self, numbers: Collection[str]) -> dict[str, dict[str, Any]]:
        """KeysRepository.card_for_token for many card numbers, in one statement."""
        if not numbers:
            return {}
        rows = self.connection.execute(self.statements.cards, {"numbers": sorted(numbers)})
        return {row.number: dict(row._mapping) for row in rows}

    def outlets(self, outlet_ids: Collection[str]) -> dict[str, dict[str, Any]]:
        """RegistryRepository.outlet for many outlets, in one statement."""
        if not outlet_ids:
            return {}
        rows = self.connection.execute(self.statements.outlets, {"ids": sorted(outlet_ids)})
        return {row.id: outlet_from_row(row) for row in rows}

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
        parameters = {**_wallet_parameters(wallets, self.postgresql), "now": now}
        rows = self.connection.execute(self.statements.timed_out_holds, parameters)
        return {(row.owner_id, row.scheme_id) for row in rows}

    def locked_wallets(self, wallets: Collection[Wallet]) -> dict[Wallet, list[LotRecord]]:
        """Every lot of these wallets, their balance rows locked in account id order until commit."""
        found: dict[Wallet, list[LotRecord]] = {wallet: [] for wallet in wallets}
        if not wallets:
            return found
        parameters = _wallet_parameters(wallets, self.postgresql)
        for row in self.connection.execute(self.statements.locked_lots, parameters):
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
        parameters = {**_wallet_parameters(wallets, self.postgresql), "earliest": earliest, "latest": latest}
        for row in self.connection.execute(self.statements.counters, parameters):
            found[(row.owner_id, row.scheme_id)].append((row.day_start, row.day_end, int(row.spent_minor)))
        return found

    def write(self, writes: BatchWrites) -> bool:
        """Write a planned batch (ledger.db.spend_batch_writes); False if a lot would go below its floor."""
        return write_batch(self.connection, writes)
