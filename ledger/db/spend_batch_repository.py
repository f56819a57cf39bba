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
    select,
    text,
    true,
    tuple_,
)
from sqlalchemy.dialects.postgresql import ARRAY

from ledger.batch_reads import AskedSpend, Counter, RequestReads, ScopedKey, Wallet, WalletReads
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
from ledger.places import payable_account_name
from ledger.records import LotRecord

_CLAIM_SQL = text(
    "SELECT claimed.scope, claimed.key, pg_try_advisory_xact_lock(hashtextextended(claimed.name, 0)) "
    "AS acquired, stored.fingerprint, stored.result_json "
    "FROM unnest(CAST(:names AS text[]), CAST(:scopes AS text[]), CAST(:keys AS text[])) "
    "AS claimed(name, scope, key) "
    "LEFT JOIN idempotency_keys AS stored ON stored.scope = claimed.scope AND stored.key = claimed.key"
)
# The wallets the batch's spends name: each card's resident in each scheme (as place_spend finds them).
_ASKED_WALLETS_SQL = (
    "SELECT DISTINCT cards.resident_id AS owner_id, schemes.id AS scheme_id"
    " FROM unnest(CAST(:asked_numbers AS text[]), CAST(:asked_slugs AS text[])) AS asked(number, slug)"
    " JOIN cards ON cards.number = asked.number JOIN schemes ON schemes.slug = asked.slug"
)
# Their locks (ActivityRepository.lock_wallet's names); OFFSET 0 keeps the sorted subquery a fence, so the
# locks are taken in name order, as every batch takes them.
_LOCK_WALLETS_SQL = text(
    "SELECT count(pg_advisory_xact_lock(hashtextextended(wallet.name, 0))) FROM"
    " (SELECT 'clubcard:wallet:' || asked_wallet.owner_id || ':' || asked_wallet.scheme_id AS name"
    f" FROM ({_ASKED_WALLETS_SQL}) AS asked_wallet ORDER BY name OFFSET 0) AS wallet"
)
# The payable accounts the batch's spends credit (payable_account_name of each outlet and scheme unit).
_ASKED_PAYABLES_SQL = (
    "SELECT 'outlet:' || asked.outlet_id || ':payable:' || schemes.unit"
    " FROM unnest(CAST(:asked_outlets AS text[]), CAST(:asked_slugs AS text[])) AS asked(outlet_id, slug)"
    " JOIN schemes ON schemes.slug = asked.slug"
)


def _one_of(column: Any, name: str, postgresql: bool, element: Any = Text) -> ColumnElement[bool]:
    """`column` is one of the list (of `element`s) bound as `name`: on PostgreSQL `= ANY(array)`, so the
    statement's text (and its prepared plan) is the same whatever the batch size; elsewhere expanding IN."""
    if postgresql:
        return column == any_(bindparam(name, type_=ARRAY(element)))
    return column.in_(bindparam(name, expanding=True))


def _wallet_of(owner: Any, scheme: Any, postgresql: bool) -> ColumnElement[bool]:
    """(owner, scheme) is a wallet the batch's spends name: on PostgreSQL found by the server from the asked
    cards and schemes (so it is read in the same round trip as they are); elsewhere bound as `wallets`."""
    if postgresql:
        return tuple_(owner, scheme).in_(text(_ASKED_WALLETS_SQL).columns(owner_id=Text, scheme_id=Text))
    return tuple_(owner, scheme).in_(bindparam("wallets", expanding=True))


def _payable_of(name: Any, postgresql: bool) -> ColumnElement[bool]:
    """`name` is a payable account the batch's spends credit (found by the server on PostgreSQL)."""
    if postgresql:
        return name.in_(text(_ASKED_PAYABLES_SQL).columns(name=Text))
    return _one_of(name, "names", postgresql)


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
        accounts=select(accounts.c.name, accounts.c.id).where(_payable_of(accounts.c.name, postgresql)),
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

    def reads(
        self,
        scoped_keys: Sequence[ScopedKey],
        asked: Sequence[AskedSpend],
        latest: dt.datetime | None,
        days: Collection[dt.datetime],
    ) -> tuple[RequestReads, WalletReads]:
        """Claim every key (the advisory lock of IdempotencyRepository.claim_and_find); read the cards,
        outlets and schemes the spends name; lock the wallets they name (ActivityRepository.lock_wallet, in
        one global name order) and read their holds timed out by `latest`, their lots (balance rows locked
        in account id order), their spend counters of the council days starting at `days`, and the payable
        accounts the spends credit. On PostgreSQL all in one round trip: the server finds the wallets."""
        numbers, slugs = sorted({a.card_number for a in asked}), sorted({a.scheme_slug for a in asked})
        request_statements: list[tuple[Statement, dict[str, Any]]] = [
            self._claim_read(scoped_keys),
            (self.statements.cards, {"numbers": numbers}),
            (self.statements.outlets, {"ids": sorted({a.outlet_id for a in asked})}),
            (self.statements.schemes, {"slugs": slugs}),
        ]
        if not asked:  # every spend was answered without its card: only the keys are claimed
            request = self._request_reads(scoped_keys, run_all(self.connection, request_statements))
            return request, WalletReads(set(), {}, {}, {})  # its own: the planner moves wallets on in place
        assert latest is not None, "the latest instant of the spends asked for"
        if not self.postgresql:  # in process: find the wallets from the rows, then read them
            request = self._request_reads(scoped_keys, run_all(self.connection, request_statements))
            wallets, payables = _named_by(asked, request)
            parameters = {"wallets": sorted(wallets), "names": sorted(payables)}
            return request, self._wallet_reads(
                wallets, run_all(self.connection, self._wallet_statements(parameters, latest, days))
            )
        parameters = {
            "asked_numbers": [a.card_number for a in asked],
            "asked_slugs": [a.scheme_slug for a in asked],
            "asked_outlets": [a.outlet_id for a in asked],
        }
        lock = (_LOCK_WALLETS_SQL, parameters)  # as every wallet read, it reads the numbers and slugs
        statements = [*request_statements, lock, *self._wallet_statements(parameters, latest, days)]
        rows = run_all(self.connection, statements)
        request = self._request_reads(scoped_keys, rows[:4])
        wallets, _ = _named_by(asked, request)
        return request, self._wallet_reads(wallets, rows[5:])

    def _request_reads(self, scoped_keys: Sequence[ScopedKey], rows: list[list[Any]]) -> RequestReads:
        claimed, found_cards, found_outlets, found_schemes = rows
        return RequestReads(
            self._claims(scoped_keys, claimed),
            {row.number: row._asdict() for row in found_cards},
            {row.id: outlet_from_row(row) for row in found_outlets},
            {row.slug: scheme_from_row(row) for row in found_schemes},
        )

    def _wallet_statements(
        self, parameters: dict[str, Any], latest: dt.datetime, days: Collection[dt.datetime]
    ) -> list[tuple[Statement, dict[str, Any]]]:
        return [
            (self.statements.timed_out_holds, {**parameters, "now": latest}),
            (self.statements.locked_lots, parameters),
            (self.statements.counters, {**parameters, "days": sorted(days)}),
            (self.statements.accounts, parameters),
        ]

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

    def _wallet_reads(self, wallets: Collection[Wallet], rows: list[list[Any]]) -> WalletReads:
        timed_out, locked, counted, payable_rows = rows
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


def _named_by(asked: Sequence[AskedSpend], request: RequestReads) -> tuple[set[Wallet], set[str]]:
    """The wallets and payable accounts the spends name, from their cards and schemes as read (as the
    server finds them on PostgreSQL); a spend whose card or scheme is not found names none."""
    wallets: set[Wallet] = set()
    payables: set[str] = set()
    for spend in asked:
        card, scheme = request.cards.get(spend.card_number), request.schemes.get(spend.scheme_slug)
        if card is not None and scheme is not None:
            wallets.add((str(card["resident_id"]), str(scheme["id"])))
            payables.add(payable_account_name(spend.outlet_id, str(scheme["unit"])))
    return wallets, payables
