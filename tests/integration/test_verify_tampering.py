"""`audit verify` recomputes every hash, root and signature, on both databases and both PostgreSQL paths."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import Engine, text

from ledger.journal import Posting, header_of
from ledger.signing import SigningKey, generate_signing_key
from ledger.usecases import checkpoints
from ledger.usecases.audit import check
from tests.integration.conftest import Books
from tests.integration.tamper_support import (
    OWNERS,
    behind_the_ledgers_back,
    checkpoint_around,
    sealed_at,
    sealed_books,
    swap_seal_positions,
)


def run_verify(books: Books, key: SigningKey, workers: int | None) -> checkpoints.VerifyReport:
    """Verify with this many worker processes (None: the default for the database)."""
    return books.run(lambda uow: checkpoints.verify(uow, {key.key_id}, workers=workers))  # type: ignore[no-any-return]


def tamper(engine: Engine, statement: str) -> None:
    """Change a fact behind the ledger's back, as an attacker with the database would."""
    behind_the_ledgers_back(engine, [statement])


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


def rewrite_postings_and_rehash(books: Books, victim: str, minor: int) -> list[tuple[str, dict[str, Any]]]:
    """Move `minor` between the two postings of `victim`, fix both balances and store a matching hash."""
    record = books.run(lambda uow: uow.journal.get(victim))
    first, second = record.postings
    forged = (
        Posting(first.account_id, first.unit, first.amount_minor + minor),
        Posting(second.account_id, second.unit, second.amount_minor - minor),
    )
    forged_hash = checkpoints.content_hash(header_of(record), forged)
    fix_balance = (
        "UPDATE balances SET balance_minor = balance_minor + :minor WHERE account_id = :account"
        " AND shard = (SELECT min(shard) FROM balances WHERE account_id = :account)"
    )
    move = "UPDATE postings SET amount_minor = :amount WHERE transaction_id = :id AND line = :line"
    return [
        (move, {"amount": forged[0].amount_minor, "id": victim, "line": 0}),
        (move, {"amount": forged[1].amount_minor, "id": victim, "line": 1}),
        (fix_balance, {"minor": minor, "account": first.account_id}),
        (fix_balance, {"minor": -minor, "account": second.account_id}),
        ("UPDATE transactions SET content_hash = :hash WHERE id = :id", {"hash": forged_hash, "id": victim}),
    ]


@pytest.mark.parametrize("workers", WORKERS)
@pytest.mark.parametrize("position", [37, 250])
def test_a_sealed_transaction_rewritten_with_a_recomputed_hash_is_named_not_an_innocent_one(
    books: Books, workers: int | None, position: int
) -> None:
    key = sealed_books(books)
    victim = sealed_at(books, position)
    behind_the_ledgers_back(books.engine, rewrite_postings_and_rehash(books, victim, 100))
    assert books.run(check).ok, "the attacker kept the balances equal to the sums of postings"

    report = run_verify(books, key, workers)

    assert not report.ok
    assert report.first_bad_transaction == victim
    problem = report.problem or ""
    assert f"transaction {victim}" in problem and f"position {position}" in problem
    assert "content hash was recomputed" in problem


@pytest.mark.parametrize("workers", WORKERS)
def test_postings_rewritten_not_to_sum_to_zero_are_named_even_with_a_recomputed_hash(
    books: Books, workers: int | None
) -> None:
    key = sealed_books(books)
    victim = sealed_at(books, 120)
    record = books.run(lambda uow: uow.journal.get(victim))
    first, second = record.postings
    forged = (first, Posting(second.account_id, second.unit, second.amount_minor + 1))
    forged_hash = checkpoints.content_hash(header_of(record), forged)
    behind_the_ledgers_back(
        books.engine,
        [
            f"UPDATE postings SET amount_minor = {forged[1].amount_minor} "
            f"WHERE transaction_id = '{victim}' AND line = 1",
            f"UPDATE transactions SET content_hash = '{forged_hash}' WHERE id = '{victim}'",
        ],
    )

    report = run_verify(books, key, workers)

    assert not report.ok
    assert report.first_bad_transaction == victim
    assert report.problem == f"transaction {victim}: postings do not sum to zero per unit"


@pytest.mark.parametrize("workers", WORKERS)
@pytest.mark.parametrize(("first", "second"), [(10, 20), (150, 260)])
def test_swapped_seal_records_are_reported_by_position_and_blame_no_transaction(
    books: Books, workers: int | None, first: int, second: int
) -> None:
    key = sealed_books(books)
    behind_the_ledgers_back(books.engine, swap_seal_positions(first, second))

    report = run_verify(books, key, workers)

    assert not report.ok
    assert report.first_bad_transaction is None
    problem = report.problem or ""
    assert "seal records" in problem and f"positions {first} and {second} were swapped" in problem


def delete_seal(position: int) -> list[str]:
    """Statements that delete the seal record at a position, leaving its transaction in the journal."""
    return [f"DELETE FROM seals WHERE position = {position}"]


def delete_sealed_transaction(position: int, *, keep_seal: bool = False) -> Callable[[str], list[str]]:
    """Statements deleting the transaction sealed at a position, its postings and (unless kept) its seal."""

    def statements(victim: str) -> list[str]:
        return [
            *([] if keep_seal else delete_seal(position)),
            f"DELETE FROM postings WHERE transaction_id = '{victim}'",
            f"DELETE FROM transactions WHERE id = '{victim}'",
        ]

    return statements


@pytest.mark.parametrize("workers", WORKERS)
@pytest.mark.parametrize(
    ("deletion", "expected"),
    [
        (
            lambda victim: delete_seal(100),
            "the seal record was deleted; transaction {victim} was sealed here",
        ),
        (
            delete_sealed_transaction(100),
            "the seal record and the transaction sealed here (content hash {hash}) were deleted",
        ),
        pytest.param(
            delete_sealed_transaction(100, keep_seal=True),
            "transaction {victim} was sealed here but is missing from the journal",
            marks=pytest.mark.postgres_only,  # SQLite's foreign keys refuse it even with the triggers gone
        ),
    ],
)
def test_a_row_deleted_from_the_middle_of_a_checkpoint_is_a_finding_naming_its_position(
    books: Books, workers: int | None, deletion: Callable[[str], list[str]], expected: str
) -> None:
    key = sealed_books(books)
    victim = sealed_at(books, 100)
    victim_hash = books.run(lambda uow: uow.journal.get(victim)).content_hash
    behind_the_ledgers_back(books.engine, deletion(victim))

    report = run_verify(books, key, workers)

    assert not report.ok
    problem = report.problem or ""
    assert "position 100: " + expected.format(victim=victim, hash=victim_hash) in problem


@pytest.mark.parametrize("workers", WORKERS)
def test_transactions_deleted_from_the_end_of_a_signed_checkpoint_are_named_by_position(
    books: Books, workers: int | None
) -> None:
    key = sealed_books(books)
    victims = [sealed_at(books, position) for position in (300, 301)]
    _, signer = checkpoint_around(books, 300)
    statements = [
        *delete_sealed_transaction(300)(victims[0]),
        *delete_sealed_transaction(301)(victims[1]),
    ]
    behind_the_ledgers_back(books.engine, statements)

    report = run_verify(books, key, workers)

    assert not report.ok
    problem = report.problem or ""
    assert f"sealed positions 300..301 are missing, though checkpoint {signer} signed them" in problem


@pytest.mark.parametrize("workers", WORKERS)
def test_sealed_transactions_left_without_their_deleted_checkpoint_are_reported(
    books: Books, workers: int | None
) -> None:
    key = sealed_books(books)
    start, _ = checkpoint_around(books, 301)
    behind_the_ledgers_back(
        books.engine,
        [
            "DELETE FROM checkpoint_leaves WHERE tree_size = 302",
            "DELETE FROM checkpoints WHERE tree_size = 302",
        ],
    )

    report = run_verify(books, key, workers)

    assert not report.ok
    problem = report.problem or ""
    # The checkpoint that sealed 301 may have sealed it alone, when the sealer ran between two commits.
    sealed = "position 301 is sealed" if start == 301 else f"positions {start}..301 are sealed"
    assert f"{sealed} but no signed checkpoint covers them" in problem


def stored_leaves(books: Books, tree_size: int) -> bytes:
    """The content hashes the checkpoint of this size keeps of what it sealed."""
    return bytes(books.run(lambda uow: uow.audit.checkpoint_leaves(tree_size)))


@pytest.mark.parametrize("workers", WORKERS)
@pytest.mark.parametrize("evidence", ["rewritten to match the forgery", "deleted"])
def test_a_forgery_that_also_rewrote_what_the_checkpoint_sealed_blames_no_transaction(
    books: Books, workers: int | None, evidence: str
) -> None:
    key = sealed_books(books)
    victim = sealed_at(books, 37)
    statements = rewrite_postings_and_rehash(books, victim, 100)
    forged_hash = statements[-1][1]["hash"]
    start, size = checkpoint_around(books, 37)
    leaves = bytearray(stored_leaves(books, size))
    leaves[(37 - start) * 32 : (38 - start) * 32] = bytes.fromhex(forged_hash)
    if evidence == "deleted":
        statements.append(("DELETE FROM checkpoint_leaves WHERE tree_size = :size", {"size": size}))
    else:
        statements.append(
            (
                "UPDATE checkpoint_leaves SET content_hashes = :leaves WHERE tree_size = :size",
                {"leaves": bytes(leaves), "size": size},
            )
        )
    behind_the_ledgers_back(books.engine, statements)

    report = run_verify(books, key, workers)

    assert not report.ok
    assert report.first_bad_transaction is None, "without authentic evidence no single transaction is blamed"
    problem = report.problem or ""
    assert f"checkpoint {size}: root does not match" in problem
    assert f"a transaction or seal record at positions {start}..{size - 1} was altered" in problem
    assert ("were not stored" if evidence == "deleted" else "were altered too") in problem


def test_every_checkpoint_keeps_the_content_hashes_it_sealed_in_order(books: Books) -> None:
    sealed_books(books)
    rows = books.run(
        lambda uow: uow.execute_now(
            text(
                "SELECT s.position, t.content_hash FROM seals s"
                " JOIN transactions t ON t.id = s.transaction_id ORDER BY s.position"
            )
        ).all()
    )
    heads = books.run(lambda uow: uow.audit.checkpoints())
    kept = b"".join(stored_leaves(books, head.tree_size) for head in heads)
    assert [position for position, _ in rows] == list(range(302))
    assert kept == b"".join(bytes.fromhex(content_hash) for _, content_hash in rows)
