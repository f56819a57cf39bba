"""Set-at-a-time writes for bulk jobs and batched spends: COPY on PostgreSQL, executemany elsewhere."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, NamedTuple

from sqlalchemy import (
    Connection,
    String,
    Table,
    and_,
    any_,
    bindparam,
    func,
    insert,
    select,
    true,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite

from ledger.clock import rfc3339
from ledger.db.bulk_copy import copy_in
from ledger.db.rows import account_from_row
from ledger.db.tables import (
    accounts,
    allowance_payments,
    balances,
    idempotency_keys,
    lots,
    metadata,
)
from ledger.db.verify_hashing import canonical_transaction
from ledger.journal import TransactionDraft, canonical_json
from ledger.records import AccountRecord

# Rows per IN (...) list, well under SQLite's 32,766 bound parameters.
IN_LIST_CHUNK = 2_000
BULK_TABLES = {"accounts", "balances", "lots"}
JOURNAL_TABLES = {"transactions", "postings", "idempotency_keys"}
TRANSACTION_COLUMNS = (
    *("id", "kind", "idempotency_key", "occurred_at", "recorded_at", "actor", "outlet_id", "scheme_id"),
    *("rule_version", "reverses_id", "metadata_json", "content_hash", "seal_key"),
)
POSTING_COLUMNS = ("transaction_id", "line", "account_id", "unit", "amount_minor", "recorded_at")
IDEMPOTENCY_COLUMNS = ("scope", "key", "fingerprint", "result_json", "created_at")


class JournalRow(NamedTuple):
    """A transaction to append: header columns and (account id, unit, amount) postings in line order."""

    id: str
    kind: str
    idempotency_key: str | None
    occurred_at: dt.datetime
    recorded_at: dt.datetime
    actor: str
    outlet_id: str | None
    scheme_id: str | None
    rule_version: int | None
    reverses_id: str | None
    metadata_json: str
    postings: tuple[tuple[str, str, int], ...]


class BulkRepository:
    """Writes many rows per statement in the unit of work's own database transaction."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self.dialect = connection.dialect.name

    def insert_rows(self, table: Table, rows: Sequence[Mapping[str, Any]]) -> None:
        """Insert rows (dicts keyed by column name): one COPY on PostgreSQL, one executemany elsewhere."""
        if not rows:
            return
        if self.dialect != "postgresql":
            self.connection.execute(insert(table), list(rows))
            return
        columns = list(rows[0])
        self.insert_tuples(table.name, columns, ([row[column] for column in columns] for row in rows))

    def insert_rows_named(self, table_name: str, rows: Sequence[Mapping[str, Any]]) -> None:
        """insert_rows by table name, for the tables a bulk job creates rows in."""
        assert table_name in BULK_TABLES, f"bulk inserts do not go into {table_name}"
        self.insert_rows(metadata.tables[table_name], rows)

    def insert_tuples(self, table_name: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
        """Insert rows given as value tuples in `columns` order: no dict per row on the COPY path."""
        assert table_name in BULK_TABLES | JOURNAL_TABLES, f"bulk inserts do not go into {table_name}"
        assert set(columns) <= set(metadata.tables[table_name].c.keys()), f"not all columns of {table_name}"
        if self.dialect != "postgresql":
            named = [dict(zip(columns, row, strict=True)) for row in rows]
            if named:
                self.connection.execute(insert(metadata.tables[table_name]), named)
            return
        copy_in(self.connection, table_name, columns, rows)

    def append(self, drafts: Sequence[TransactionDraft], seal_key: int) -> None:
        """Insert balanced drafts' headers and postings (see append_rows)."""
        rows = [
            JournalRow(
                d.id,
                d.kind,
                d.idempotency_key,
                d.occurred_at,
                d.recorded_at,
                d.actor,
                d.outlet_id,
                d.scheme_id,
                d.rule_version,
                d.reverses_id,
                canonical_json(dict(d.metadata)).decode() if d.metadata else "{}",
                tuple((p.account_id, p.unit.value, p.amount_minor) for p in d.postings),
            )
            for d in drafts
        ]
        hashes = self.append_rows(rows, seal_key)
        assert not drafts or hashes[0] == drafts[0].content_hash, "fast canonical form drifted from journal"

    def append_rows(self, rows: Sequence[tuple[Any, ...]], seal_key: int) -> list[str]:
        """Insert already-validated JournalRow tuples; returns content hashes as ledger.journal makes them."""
        stamps: dict[dt.datetime, str] = {}
        hashes: list[str] = []
        headers: list[tuple[Any, ...]] = []
        lines: list[tuple[Any, ...]] = []
        for values in rows:
            id_, kind, key, occurred, recorded, actor, outlet, scheme, version, reverses, meta, entries = (
                values
            )
            for at in (occurred, recorded):
                if at not in stamps:
                    stamps[at] = rfc3339(at)
            fields = (
                id_,
                kind,
                stamps[occurred],
                stamps[recorded],
                actor,
                key,
                outlet,
                scheme,
                version,
                reverses,
            )
            digest = hashlib.sha256(canonical_transaction(fields, meta, entries)).hexdigest()
            hashes.append(digest)
            headers.append((*values[:11], digest, seal_key))
            lines.extend(
                (id_, line, account_id, unit, amount, recorded)
                for line, (account_id, unit, amount) in enumerate(entries)
            )
        if headers:
            self.insert_tuples("transactions", TRANSACTION_COLUMNS, headers)
            self.insert_tuples("postings", POSTING_COLUMNS, lines)
        return hashes

    def store_results(self, scope: str, results: Sequence[tuple[str, str, Any]], now: dt.datetime) -> None:
        """Remember (key, fingerprint, result) for idempotent replays; a key stored meanwhile asks a retry."""
        rendered = [
            (key, fingerprint, canonical_json(result).decode()) for key, fingerprint, result in results
        ]
        self.store_rendered_results(scope, rendered, now)

    def store_rendered_results(
        self, scope: str, results: Sequence[tuple[str, str, str]], now: dt.datetime
    ) -> None:
        """store_results for results already rendered as canonical JSON text."""
        rows = [(scope, key, fingerprint, result_json, now) for key, fingerprint, result_json in results]
        if rows:
            self.insert_tuples("idempotency_keys", IDEMPOTENCY_COLUMNS, rows)

    def stored_fingerprints(self, scope: str, keys: Sequence[str]) -> dict[str, str]:
        """{key: fingerprint} for the keys of this scope that already have a stored result."""
        table = idempotency_keys
        rows = self._probe(table.c.key, keys, (table.c.fingerprint,), table.c.scope == scope)
        return {key: fingerprint for key, fingerprint in rows}

    def debit_checked(self, account: AccountRecord, amount_minor: int) -> bool:
        """Debit a constrained account in one conditional UPDATE; False if it would cross its floor."""
        assert account.floor_minor is not None and amount_minor > 0
        result = self.connection.execute(
            update(balances)
            .where(
                balances.c.account_id == account.id,
                balances.c.shard == 0,
                balances.c.balance_minor - amount_minor >= account.floor_minor,
            )
            .values(balance_minor=balances.c.balance_minor - amount_minor)
        )
        return bool(result.rowcount == 1)

    def move_balances(self, deltas: Mapping[tuple[str, int], int]) -> None:
        """Add deltas to (account, shard) balance rows, in sorted order so lock order is global."""
        items = sorted((key, delta) for key, delta in deltas.items() if delta != 0)
        if not items:
            return
        statement = (
            update(balances)
            .where(balances.c.account_id == bindparam("a"), balances.c.shard == bindparam("s"))
            .values(balance_minor=balances.c.balance_minor + bindparam("d"))
        )
        self.connection.execute(statement, [{"a": a, "s": s, "d": d} for (a, s), d in items])

    def accounts_by_name(self, names: Sequence[str]) -> dict[str, AccountRecord]:
        """{name: account} for the names that exist."""
        found: dict[str, AccountRecord] = {}
        for chunk in _chunks(names):
            for row in self.connection.execute(
                select(accounts).where(_member(accounts.c.name, chunk, self.dialect))
            ):
                found[row.name] = account_from_row(row)
        return found

    def claim_allowances(
        self,
        scheme_id: str,
        period_key: str,
        claims: Sequence[tuple[str, str]],
        actor: str,
        now: dt.datetime,
    ) -> dict[str, tuple[str, str]]:
        """Record (resident, payment key) as this period's allowance unless one is recorded already.

        Returns, for each resident, the (actor, idempotency key) of the payment that holds the period:
        the caller's own only where it won. The primary key decides: a concurrent run's insert waits for
        ours and finds the row, so two runs with different keys can never both pay one member.
        """
        if not claims:
            return {}
        rows = [
            {
                "scheme_id": scheme_id,
                "period_key": period_key,
                "resident_id": resident_id,
                "actor": actor,
                "idempotency_key": key,
                "created_at": now,
            }
            for resident_id, key in sorted(claims)  # one order, so concurrent runs cannot deadlock
        ]
        dialect_insert = postgresql.insert if self.dialect == "postgresql" else sqlite.insert
        self.connection.execute(dialect_insert(allowance_payments).on_conflict_do_nothing(), rows)
        return self.allowance_holders(scheme_id, period_key, [resident for resident, _ in claims])

    def allowance_holders(
        self, scheme_id: str, period_key: str, resident_ids: Sequence[str]
    ) -> dict[str, tuple[str, str]]:
        """{resident: (actor, idempotency key)} of the allowance payments recorded for this period."""
        table = allowance_payments
        rows = self._probe(
            table.c.resident_id,
            resident_ids,
            (table.c.actor, table.c.idempotency_key),
            and_(table.c.scheme_id == scheme_id, table.c.period_key == period_key),
        )
        return {resident: (actor, key) for resident, actor, key in rows}

    def _probe(
        self, key: Any, values: Sequence[str], columns: Sequence[Any], fixed: Any
    ) -> Iterable[tuple[Any, ...]]:
        """(value, *columns) of the rows matching `fixed` whose `key` column is one of `values`.

        On PostgreSQL one index probe per value, whatever the statistics say: as `key = ANY(...)` on the
        last column of a primary key, the planner (told by statistics taken before a job grew the table
        that the fixed part matches one row) read every row of the fixed part for each chunk.
        """
        for chunk in _chunks(values):
            if self.dialect != "postgresql":
                query = select(key, *columns).where(fixed, key.in_(chunk))
                yield from self.connection.execute(query)
                continue
            wanted = func.unnest(bindparam(None, chunk, type_=postgresql.ARRAY(String)))
            wanted_values = wanted.table_valued("value").render_derived(name="wanted")
            # LIMIT 1 (the key is unique) keeps the lookup a nested probe rather than a join to plan.
            found = select(*columns).where(fixed, key == wanted_values.c.value).limit(1).lateral("found")
            query = select(wanted_values.c.value, *found.c).select_from(wanted_values.join(found, true()))
            yield from self.connection.execute(query)

    def allowances_paid(self, scheme_id: str, period_key: str) -> int:
        """How many members have this period's allowance recorded."""
        table = allowance_payments
        query = (
            select(func.count())
            .select_from(table)
            .where(table.c.scheme_id == scheme_id, table.c.period_key == period_key)
        )
        return int(self.connection.execute(query).scalar_one())

    def wallet_totals(self, owner_ids: Sequence[str], scheme_id: str) -> dict[str, int]:
        """{owner: sum of lot balances in this scheme} for the owners that have lots in it (0 if none of
        their lots has a balance row).

        Two keyed reads (the owners' lots, then those lots' balances, only if there are any) rather than
        a join: a job grows these tables faster than statistics follow, and the planner then hashes the
        whole balances table for every chunk.
        """
        owner_of: dict[str, str] = {}
        for chunk in _chunks(owner_ids):
            query = select(lots.c.account_id, lots.c.owner_id).where(
                _member(lots.c.owner_id, chunk, self.dialect), lots.c.scheme_id == scheme_id
            )
            owner_of.update({row[0]: row[1] for row in self.connection.execute(query)})
        totals = dict.fromkeys(owner_of.values(), 0)
        for chunk in _chunks(list(owner_of)):
            query = select(balances.c.account_id, balances.c.balance_minor).where(
                _member(balances.c.account_id, chunk, self.dialect)
            )
            for account_id, balance in self.connection.execute(query):
                totals[owner_of[account_id]] += int(balance)
        return totals


def _member(column: Any, values: list[str], dialect: str) -> Any:
    """`column IN values`: one array parameter on PostgreSQL (planned once, not per list length)."""
    if dialect == "postgresql":
        return column == any_(bindparam(None, values, type_=postgresql.ARRAY(String)))
    return column.in_(values)


def _chunks(values: Sequence[str]) -> Iterable[list[str]]:
    for start in range(0, len(values), IN_LIST_CHUNK):
        yield list(values[start : start + IN_LIST_CHUNK])
