"""`audit verify` recomputes every hash, root and signature, on both databases and both PostgreSQL paths."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
from sqlalchemy import Engine, text

from ledger.journal import header_of
from ledger.signing import SigningKey, generate_signing_key
from ledger.usecases import checkpoints, flows
from ledger.usecases.bulk import bulk_issue
from tests.integration.conftest import Books

OWNERS = [f"r{i:03d}" for i in range(300)]


def sealed_books(books: Books) -> SigningKey:
    """300 issues plus a spend with metadata and awkward text, sealed in two checkpoints."""
    scheme = books.scheme("leisure", funded_minor=10**7)
    bulk_issue(books.uow, books.clock, scheme, OWNERS[:200], 500, None, "music", "cw", "job", batch_size=64)
    key = generate_signing_key()
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


def run_verify(books: Books, key: SigningKey, workers: int | None) -> checkpoints.VerifyReport:
    """Verify with this many worker processes (None: the default for the database)."""
    return books.run(lambda uow: checkpoints.verify(uow, {key.key_id}, workers=workers))  # type: ignore[no-any-return]


def tamper(engine: Engine, statement: str) -> None:
    """Change a fact behind the ledger's back, as an attacker with the database would."""
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            connection.execute(text("SET LOCAL session_replication_role = replica"))  # skip the triggers
            connection.exec_driver_sql(statement)
        else:
            for name in ("transactions_no_update", "postings_no_update"):
                connection.execute(text(f"DROP TRIGGER IF EXISTS {name}"))
            connection.exec_driver_sql(statement)


WORKERS: list[int | None] = [None, 2]


@pytest.mark.parametrize("workers", WORKERS)
def test_untouched_books_verify(books: Books, workers: int | None) -> None:
    key = sealed_books(books)
    report = run_verify(books, key, workers)
    assert report.ok, report.problem
    assert report.transactions_checked == len(OWNERS) + 2
    assert report.checkpoints_checked >= 2


@pytest.mark.parametrize("workers", WORKERS)
@pytest.mark.parametrize(
    "change",
    [
        lambda tx: f"UPDATE postings SET amount_minor = amount_minor + 1 WHERE transaction_id = '{tx}'",
        lambda tx: f"UPDATE transactions SET actor = 'mallory' WHERE id = '{tx}'",
        lambda tx: f"UPDATE transactions SET metadata_json = '{{\"x\":1}}' WHERE id = '{tx}'",
    ],
)
def test_an_altered_transaction_is_named(
    books: Books, workers: int | None, change: Callable[[str], str]
) -> None:
    key = sealed_books(books)
    victim = books.run(
        lambda uow: uow.execute_now(
            text("SELECT id FROM transactions WHERE idempotency_key = 'job:r150'")
        ).scalar_one()
    )
    tamper(books.engine, change(victim))
    report = run_verify(books, key, workers)
    assert not report.ok
    assert report.first_bad_transaction == victim
    assert "content hash" in (report.problem or "")


@pytest.mark.parametrize("workers", WORKERS)
def test_a_rehashed_forgery_breaks_the_signed_root(books: Books, workers: int | None) -> None:
    key = sealed_books(books)
    victim = books.run(
        lambda uow: uow.execute_now(
            text("SELECT id FROM transactions WHERE idempotency_key = 'job:r010'")
        ).scalar_one()
    )
    record = books.run(lambda uow: uow.journal.get(victim))
    forged = checkpoints.content_hash(
        {**header_of(record), "actor": "mallory"},  # what a forger would store
        record.postings,
    )
    tamper(
        books.engine,
        f"UPDATE transactions SET actor = 'mallory', content_hash = '{forged}' WHERE id = '{victim}'",
    )
    report = run_verify(books, key, workers)
    assert not report.ok
    assert "checkpoint" in (report.problem or "") and "root does not match" in (report.problem or "")


@pytest.mark.parametrize("workers", WORKERS)
def test_an_untrusted_key_is_refused(books: Books, workers: int | None) -> None:
    sealed_books(books)
    report = run_verify(books, generate_signing_key(), workers)
    assert not report.ok and "signature" in (report.problem or "")
