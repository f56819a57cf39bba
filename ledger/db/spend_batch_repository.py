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

from sqlalchemy import (
    ColumnElement,
    Connection,
    DateTime,
    Select,
    Text,
    any_,
    bindparam,
    func,
    select,
    text,
    true,
    tuple_,
)
from sqlalchemy.dialects.postgresql import ARRAY

from ledger.batch_reads import Counter, RequestReads, ScopedKey, Wallet, WalletReads
from ledger.batch_writes import BatchWrites
from ledger.db.lots_repository import MAX_LOTS_PER_WALLET, _lot, lot_query
from ledger.db.registry_repository import _outlet as outlet_from_row
from ledger.db.schemes_repository import scheme_from_row, scheme_query
from ledger.db.spend_batch_pipeline import Statement, run_all
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
    schemes,
    spend_counters,
)
from ledger.records import LotRecord

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


def _one_of(column: Any, name: str, postgresql: bool, element: Any = Text) -> ColumnElement[bool]:
    """`column` is one of the list (of `element`s) bound as `name`: on PostgreSQL `= ANY(array)`, so the
    statement's text (and its prepared plan) is the same whatever the batch size; elsewhere expanding IN."""
    if postgresql:
        return column == any_(bindparam(name, type_=ARRAY(element)))
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
    schemes: Select[Any]
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
        schemes=scheme_query().where(_one_of(schemes.c.slug, "slugs", postgresql)),
        timed_out_holds=select(holds.c.owner_id, holds.c.scheme_id).where(
            _wallet_of(holds.c.owner_id, holds.c.scheme_id, postgresql),
            holds.c.status == "pending",
            holds.c.expires_at <= bindparam("now"),
        ),
        locked_lots=lot_query()
        .where(_wallet_of(lots.c.owner_id, lots.c.scheme_id, postgresql))
        .order_by(lots.c.account_id)
        .with_for_update(of=balances),
        # By the whole primary key (the council days the batch's spends fall on), so a wallet's earlier
        # days are never read, however long its history.
        counters=select(spend_counters).where(
            _wallet_of(spend_counters.c.owner_id, spend_counters.c.scheme_id, postgresql),
            _one_of(spend_counters.c.day_start, "days", postgresql, DateTime(timezone=True)),
        ),
    )


class SpendBatchRepository:
    """The statements of one batch of spends, on the unit of work's connection."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self.postgresql = connection.dialect.name == "postgresql"
        self.statements = _statements(self.postgresql)

    def request_reads(
        self,
        scoped_keys: Sequence[ScopedKey],
        card_numbers: Collection[str],
        outlet_ids: Collection[str],
        scheme_slugs: Collection[str],
    ) -> RequestReads:
        """Claim every key (the advisory lock of IdempotencyRepository.claim_and_find) and read the cards,
        outlets and schemes the requests name: on PostgreSQL in one round trip."""
        reads: list[tuple[Statement, dict[str, Any]]] = [
            self._claim_read(scoped_keys),
            (self.statements.cards, {"numbers": sorted(card_numbers)}),
            (self.statements.outlets, {"ids": sorted(outlet_ids)}),
            (self.statements.schemes, {"slugs": sorted(scheme_slugs)}),
        ]
        claimed, found_cards, found_outlets, found_schemes = run_all(self.connection, reads)
        return RequestReads(
            self._claims(scoped_keys, claimed),
            {row.number: row._asdict() for row in found_cards},
            {row.id: outlet_from_row(row) for row in found_outlets},
            {row.slug: scheme_from_row(row) for row in found_schemes},
        )

    def _claim_read(self, scoped_keys: Sequence[ScopedKey]) -> tuple[Statement, dict[str, Any]]:
        if not self.postgresql:  # SQLite writers are serialised by BEGIN IMMEDIATE: nothing is in flight
            stored = select(
                idempotency_keys.c.scope,
                idempotency_keys.c.key,
                true().label("acquired"),
                idempotency_keys.c.fingerprint,
                idempotency_keys.c.result_json,
            )
            pairs = tuple_(idempotency_keys.c.scope, idempotency_keys.c.key)
            return stored.where(pairs.in_(list(scoped_keys))), {}
        names = [f"{len(scope)}:{scope}{key}" for scope, key in scoped_keys]
        scopes, keys = [scope for scope, _ in scoped_keys], [key for _, key in scoped_keys]
        return _CLAIM_SQL, {"names": names, "scopes": scopes, "keys": keys}

    def _claims(
        self, scoped_keys: Sequence[ScopedKey], rows: list[Any]
    ) -> dict[ScopedKey, tuple[bool, tuple[str, Any] | None]]:
        found = {
            (row.scope, row.key): (
                bool(row.acquired),
                None if row.fingerprint is None else (row.fingerprint, json.loads(row.result_json)),
            )
            for row in rows
        }
        return {scoped: found.get(scoped, (True, None)) for scoped in scoped_keys}

    def wallet_reads(
        self,
        wallets: Collection[Wallet],
        latest: dt.datetime,
        days: Collection[dt.datetime],
        payables: Collection[str],
    ) -> WalletReads:
        """Lock every wallet (ActivityRepository.lock_wallet, in one global name order), then read their
        holds timed out by `latest`, lots (balance rows locked in account id order), spend counters of the
        council days starting at `days` and the payable accounts named: on PostgreSQL in one round trip."""
        wallet_parameters = _wallet_parameters(wallets, self.postgresql)
        names = sorted(f"clubcard:wallet:{owner}:{scheme}" for owner, scheme in wallets)
        reads: list[tuple[Statement, dict[str, Any]]] = [
            (self.statements.timed_out_holds, {**wallet_parameters, "now": latest}),
            (self.statements.locked_lots, wallet_parameters),
            (self.statements.counters, {**wallet_parameters, "days": sorted(days)}),
            (self.statements.accounts, {"names": sorted(payables)}),
        ]
        if self.postgresql:
            reads.insert(0, (_LOCK_WALLETS_SQL, {"names": names}))
        *_, timed_out, locked, counted, payable_rows = run_all(self.connection, reads)
        lots_of: dict[Wallet, list[LotRecord]] = {wallet: [] for wallet in wallets}
        for row in locked:
            lot = _lot(row)
            lots_of[(lot.owner_id, lot.scheme_id)].append(lot)
        assert all(len(lots) <= MAX_LOTS_PER_WALLET for lots in lots_of.values())
        counters: dict[Wallet, list[Counter]] = {wallet: [] for wallet in wallets}
        for row in counted:
            counters[(row.owner_id, row.scheme_id)].append((row.day_start, row.day_end, int(row.spent_minor)))
        return WalletReads(
            {(row.owner_id, row.scheme_id) for row in timed_out},
            lots_of,
            counters,
            {row.name: row.id for row in payable_rows},
        )

    def write(self, writes: BatchWrites) -> bool:
        """Write a planned batch (ledger.db.spend_batch_writes); False if a lot would go below its floor."""
        return write_batch(self.connection, writes)
