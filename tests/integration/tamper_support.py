"""Sealed books, and tampering with them as an attacker with the database (not the signing key) would."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Engine, text

from ledger.db.tables import IMMUTABLE_TABLES
from ledger.signing import SigningKey, generate_signing_key
from ledger.usecases import checkpoints, flows
from ledger.usecases.bulk import bulk_issue
from tests.integration.conftest import Books

Statement = str | tuple[str, Mapping[str, Any]]

OWNERS = [f"r{i:03d}" for i in range(300)]


def sealed_books(books: Books, key: SigningKey | None = None) -> SigningKey:
    """A funding, 300 issues and a spend with awkward text: 302 sealed, in two checkpoints (201, 302) or more.

    On a busy PostgreSQL server the safe horizon can split a round of sealing into several checkpoints.
    """
    scheme = books.scheme("leisure", funded_minor=10**7)
    bulk_issue(books.uow, books.clock, scheme, OWNERS[:200], 500, None, "music", "cw", "job", batch_size=64)
    key = key or generate_signing_key()
    seal_everything(books, key)
    bulk_issue(books.uow, books.clock, scheme, OWNERS[200:], 500, None, "music", "cw", "job")
    payable = books.payable('caf\u00e9 "quoted"\tand\\slashed')
    books.run(
        lambda uow: flows.spend(
            uow,
            scheme=scheme,
            owner_id="r007",
            amount_minor=120,
            payable_account_id=payable,
            categories=None,
            now=books.clock.now(),
            actor='kiosk "7"\n',
            key="spend-\u2603",
            metadata={"note": "na\u00efve \u201cquotes\u201d", "n": 3},
        )
    )
    seal_everything(books, key)
    return key


def seal_everything(books: Books, key: SigningKey) -> None:
    """Seal until every committed transaction is in the log (the safe horizon is cluster-wide)."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        books.run(lambda uow: checkpoints.seal(uow, key, books.clock.now()))
        counts = books.run(
            lambda uow: uow.execute_now(
                text("SELECT (SELECT count(*) FROM seals), (SELECT count(*) FROM transactions)")
            ).one()
        )
        if counts[0] == counts[1]:
            return
        time.sleep(0.05)
    raise AssertionError("another transaction on the server held the sealing horizon back for 30 s")


def sealed_at(books: Books, position: int) -> str:
    """The id of the transaction sealed at this position."""
    return str(
        books.run(
            lambda uow: uow.execute_now(
                text("SELECT transaction_id FROM seals WHERE position = :p"), {"p": position}
            ).scalar_one()
        )
    )


def checkpoint_around(books: Books, position: int) -> tuple[int, int]:
    """(first position, tree size) of the checkpoint that sealed this position."""
    sizes = [head.tree_size for head in books.run(lambda uow: uow.audit.checkpoints())]
    size = next(size for size in sizes if size > position)
    return max([0, *(s for s in sizes if s < size)]), size


def behind_the_ledgers_back(engine: Engine, statements: Sequence[Statement]) -> None:
    """Run raw SQL with the immutability triggers (and, on PostgreSQL, foreign keys) out of the way."""
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            # Replica mode skips every trigger, the immutability ones and those enforcing foreign keys.
            connection.exec_driver_sql("SET LOCAL session_replication_role = replica")
        else:
            for table in IMMUTABLE_TABLES:
                for operation in ("update", "delete"):
                    connection.exec_driver_sql(f"DROP TRIGGER IF EXISTS {table}_no_{operation}")
        for statement in statements:
            if isinstance(statement, str):
                connection.exec_driver_sql(statement)  # verbatim: no bind parameters parsed out of it
            else:
                connection.execute(text(statement[0]), dict(statement[1]))


def swap_seal_positions(first: int, second: int) -> list[Statement]:
    """Statements that make two seal records name each other's transactions (positions are unique)."""
    return [
        f"UPDATE seals SET position = -1 WHERE position = {first}",
        f"UPDATE seals SET position = {first} WHERE position = {second}",
        f"UPDATE seals SET position = {second} WHERE position = -1",
    ]


def cut_the_newest_checkpoint(books: Books) -> list[Statement]:
    """Statements deleting the newest checkpoint and every transaction it sealed, as if never written."""
    start, size = checkpoint_around(books, books.run(lambda uow: uow.audit.latest_checkpoint()).tree_size - 1)
    victims = [sealed_at(books, position) for position in range(start, size)]
    listed = ", ".join(f"'{victim}'" for victim in victims)
    return [
        f"DELETE FROM checkpoint_leaves WHERE tree_size = {size}",
        f"DELETE FROM checkpoints WHERE tree_size = {size}",
        f"DELETE FROM seals WHERE position >= {start}",
        f"DELETE FROM postings WHERE transaction_id IN ({listed})",
        f"DELETE FROM transactions WHERE id IN ({listed})",
    ]
