"""Tamper evidence: immutable journal rows, sealed Merkle checkpoints, signed heads and inclusion proofs."""

from __future__ import annotations

import dataclasses
import time
from typing import Any

import pytest
from sqlalchemy import Engine, delete, func, select, update
from sqlalchemy.exc import DBAPIError

from ledger.clock import rfc3339
from ledger.db.tables import checkpoints, postings, seals, transactions
from ledger.errors import Conflict
from ledger.journal import Posting, canonical_header, content_hash
from ledger.merkle import leaf_hash, verify_inclusion
from ledger.receipts import Receipt
from ledger.records import CheckpointRecord, TransactionRecord
from ledger.service import read_only
from ledger.signing import SigningKey, generate_signing_key, tree_head_message
from ledger.usecases import flows
from ledger.usecases.audit import check
from ledger.usecases.checkpoints import checkpoint_signature_valid, prove_inclusion, verify
from ledger.usecases.checkpoints import seal as seal_batch
from ledger.usecases.schemes import get_scheme
from tests.integration import tamper_support
from tests.integration.conftest import Books


def seal(books: Books, key: SigningKey) -> CheckpointRecord:
    """Seal until every committed transaction is sealed; the latest signed head.

    PostgreSQL seals only behind the oldest transaction still open anywhere on the server, so a busy
    server can leave a few for the next round.
    """
    deadline = time.monotonic() + 60  # another session's long transaction holds the sealing point back
    while True:
        books.run(lambda uow: seal_batch(uow, key, books.clock.now()))
        sealed, total, latest = books.run(
            lambda uow: (
                uow.audit.sealed_count(),
                uow.execute_now(select(func.count()).select_from(transactions)).scalar_one(),
                uow.audit.latest_checkpoint(),
            )
        )
        if sealed == total:
            assert latest is not None and latest.tree_size == total
            return latest
        assert time.monotonic() < deadline, f"only {sealed} of {total} transactions sealed"
        time.sleep(0.05)


def some_books(books: Books) -> tuple[dict[str, Any], Receipt, str]:
    """A funded scheme, an issue and a spend: (scheme, the spend's receipt, the payable account)."""
    scheme = books.scheme("leisure", funded_minor=10_000)
    now = books.clock.now()
    books.run(
        lambda uow: flows.issue(
            uow, scheme=scheme, owner_id="r1", amount_minor=1_000, now=now, actor="cw", key="issue"
        )
    )
    payable = books.payable("pool")
    spent = books.run(
        lambda uow: flows.spend(
            uow,
            scheme=scheme,
            owner_id="r1",
            amount_minor=300,
            payable_account_id=payable,
            categories=None,
            now=now,
            actor="kiosk",
            key="spend",
        )
    )
    return scheme, spent, payable


def journal(books: Books, transaction_id: str) -> TransactionRecord:
    record: TransactionRecord | None = books.run(lambda uow: uow.journal.get(transaction_id))
    assert record is not None
    return record


def verification(books: Books, trusted: set[str]) -> Any:
    return read_only(books.uow, lambda uow: verify(uow, trusted))


def behind_the_ledgers_back(
    engine: Engine, database_url: str, statements: list[tuple[str, dict[str, Any]]]
) -> None:
    """Run raw SQL with the immutability triggers out of the way, as an attacker with the keys would."""
    tamper_support.behind_the_ledgers_back(engine, statements)


def move_value_between_postings(transaction_id: str, minor: int) -> list[tuple[str, dict[str, Any]]]:
    """Statements that take `minor` from line 1 and add it to line 0, keeping the transaction balanced."""
    return [
        (
            "UPDATE postings SET amount_minor = amount_minor + :minor"
            " WHERE transaction_id = :id AND line = 0",
            {"minor": minor, "id": transaction_id},
        ),
        (
            "UPDATE postings SET amount_minor = amount_minor - :minor"
            " WHERE transaction_id = :id AND line = 1",
            {"minor": minor, "id": transaction_id},
        ),
    ]


def test_a_posting_altered_after_sealing_makes_verify_name_its_transaction(
    books: Books, engine: Engine, database_url: str
) -> None:
    _, spent, payable = some_books(books)
    key = generate_signing_key()
    seal(books, key)
    assert verification(books, {key.key_id}).ok

    behind_the_ledgers_back(engine, database_url, move_value_between_postings(spent.transaction_id, 100))

    altered = journal(books, spent.transaction_id)
    assert sorted(p.amount_minor for p in altered.postings) == [-200, 200], "the tamper took effect"
    report = verification(books, {key.key_id})
    assert not report.ok
    assert report.first_bad_transaction == spent.transaction_id
    assert spent.transaction_id in (report.problem or "")
    audit = books.run(check)
    assert not audit.ok, "stored balances no longer equal the sums of postings"
    assert any(payable in problem for problem in audit.problems)


def test_rewriting_the_content_hash_with_the_posting_is_caught_by_the_checkpoint_root(
    books: Books, engine: Engine, database_url: str
) -> None:
    _, spent, _ = some_books(books)
    key = generate_signing_key()
    head = seal(books, key)
    original = journal(books, spent.transaction_id)
    forged_postings = (
        Posting(
            original.postings[0].account_id,
            original.postings[0].unit,
            original.postings[0].amount_minor + 100,
        ),
        Posting(
            original.postings[1].account_id,
            original.postings[1].unit,
            original.postings[1].amount_minor - 100,
        ),
    )
    header = canonical_header(
        id=original.id,
        kind=original.kind,
        occurred_at=original.occurred_at,
        recorded_at=original.recorded_at,
        actor=original.actor,
        idempotency_key=original.idempotency_key,
        outlet_id=original.outlet_id,
        scheme_id=original.scheme_id,
        rule_version=original.rule_version,
        reverses_id=original.reverses_id,
        metadata=original.metadata,
    )
    assert content_hash(header, original.postings) == original.content_hash
    forged_hash = content_hash(header, forged_postings)

    behind_the_ledgers_back(
        engine,
        database_url,
        [
            *move_value_between_postings(spent.transaction_id, 100),
            (
                "UPDATE transactions SET content_hash = :hash WHERE id = :id",
                {"hash": forged_hash, "id": spent.transaction_id},
            ),
        ],
    )

    assert journal(books, spent.transaction_id).content_hash == forged_hash
    report = verification(books, {key.key_id})
    assert not report.ok
    assert report.transactions_checked == head.tree_size, "every content hash matched its forged row"
    assert "root does not match" in (report.problem or "")
    assert report.first_bad_transaction is not None


def test_the_database_refuses_to_update_or_delete_journal_rows(books: Books, engine: Engine) -> None:
    _, spent, _ = some_books(books)
    key = generate_signing_key()
    seal(books, key)
    before = journal(books, spent.transaction_id)
    attempts = [
        update(postings).where(postings.c.transaction_id == spent.transaction_id).values(amount_minor=0),
        delete(postings).where(postings.c.transaction_id == spent.transaction_id),
        update(transactions).where(transactions.c.id == spent.transaction_id).values(kind="fund"),
        delete(transactions).where(transactions.c.id == spent.transaction_id),
        update(seals).values(position=seals.c.position + 1),
        delete(seals),
        update(checkpoints).values(root_hash="0" * 64),
        delete(checkpoints),
    ]
    for statement in attempts:
        with pytest.raises(DBAPIError, match="refused"), engine.begin() as connection:
            connection.execute(statement)

    assert journal(books, spent.transaction_id) == before
    assert verification(books, {key.key_id}).ok
    assert books.run(check).ok


@pytest.mark.postgres_only
def test_postgresql_refuses_to_truncate_the_journal(books: Books, engine: Engine) -> None:
    _, spent, _ = some_books(books)
    for table in ("postings", "transactions"):
        with pytest.raises(DBAPIError, match="refused"), engine.begin() as connection:
            connection.exec_driver_sql(f"TRUNCATE {table} CASCADE")
    assert journal(books, spent.transaction_id).postings


def proof_holds(proof: Any, trusted: set[str]) -> bool:
    """Check an inclusion proof the way an auditor holding only the receipt and the head would."""
    return checkpoint_signature_valid(proof.checkpoint, trusted) and verify_inclusion(
        leaf_hash(bytes.fromhex(proof.content_hash)),
        proof.leaf_index,
        proof.tree_size,
        [bytes.fromhex(node) for node in proof.audit_path],
        bytes.fromhex(proof.checkpoint.root_hash),
    )


def test_a_sealed_transaction_proves_its_inclusion_under_the_signed_head(books: Books) -> None:
    _, spent, _ = some_books(books)
    key = generate_signing_key()
    head = seal(books, key)

    proof = books.run(lambda uow: prove_inclusion(uow, spent.transaction_id))

    assert proof is not None
    assert proof.content_hash == journal(books, spent.transaction_id).content_hash
    # The first signed head covering it (on a busy PostgreSQL server an earlier seal may have).
    assert proof.leaf_index < proof.tree_size == proof.checkpoint.tree_size <= head.tree_size
    assert proof.root_hash == proof.checkpoint.root_hash
    assert proof_holds(proof, {key.key_id})
    assert not proof_holds(proof, {"0" * 16}), "a head is only as good as the key that signed it"
    wrong_leaf = verify_inclusion(
        leaf_hash(bytes.fromhex("00" * 32)),
        proof.leaf_index,
        proof.tree_size,
        [bytes.fromhex(node) for node in proof.audit_path],
        bytes.fromhex(proof.root_hash),
    )
    assert not wrong_leaf


def test_transactions_written_after_a_seal_are_sealed_by_the_next_one(books: Books) -> None:
    scheme, spent, _ = some_books(books)
    key = generate_signing_key()
    first = seal(books, key)
    later = books.run(
        lambda uow: flows.issue(
            uow,
            scheme=scheme,
            owner_id="r2",
            amount_minor=50,
            now=books.clock.now(),
            actor="cw",
            key="later",
        )
    )
    assert books.run(lambda uow: prove_inclusion(uow, later.transaction_id)) is None, "not sealed yet"

    second = seal(books, key)

    assert second.tree_size == first.tree_size + 1
    late_proof = books.run(lambda uow: prove_inclusion(uow, later.transaction_id))
    assert late_proof is not None and late_proof.leaf_index == first.tree_size
    assert late_proof.checkpoint == second and proof_holds(late_proof, {key.key_id})
    early_proof = books.run(lambda uow: prove_inclusion(uow, spent.transaction_id))
    assert early_proof is not None and early_proof.tree_size <= first.tree_size
    assert proof_holds(early_proof, {key.key_id}), "a later head does not disturb an earlier proof"
    heads = books.run(lambda uow: uow.audit.checkpoints())
    assert [head.tree_size for head in heads][-2:] == [first.tree_size, second.tree_size]
    report = verification(books, {key.key_id})
    assert report.ok and report.checkpoints_checked == len(heads)
    assert report.transactions_checked == second.tree_size


def test_verify_fails_when_the_signing_key_is_not_trusted(books: Books) -> None:
    some_books(books)
    key = generate_signing_key()
    seal(books, key)

    assert verification(books, {key.key_id}).ok
    for trusted in (set(), {generate_signing_key().key_id}):
        report = verification(books, trusted)
        assert not report.ok
        assert "untrusted signature" in (report.problem or "")


def test_a_checkpoint_signed_by_another_key_under_a_trusted_key_id_does_not_verify(books: Books) -> None:
    trusted, forger = generate_signing_key(), generate_signing_key()
    root = bytes(32)
    signed_at = books.clock.now()
    message = tree_head_message(1, root, rfc3339(signed_at), trusted.key_id)
    forged = CheckpointRecord(
        1,
        root.hex(),
        signed_at,
        trusted.key_id,
        forger.public_key_bytes().hex(),
        forger.sign(message).hex(),
        (),
    )
    genuine = CheckpointRecord(
        1,
        root.hex(),
        signed_at,
        trusted.key_id,
        trusted.public_key_bytes().hex(),
        trusted.sign(message).hex(),
        (),
    )
    assert checkpoint_signature_valid(genuine, {trusted.key_id})
    assert not checkpoint_signature_valid(forged, {trusted.key_id})


def seal_when_past_the_horizon(books: Books, key: SigningKey) -> None:
    """Try to seal until there is something to seal (PostgreSQL waits for older writers anywhere)."""
    deadline = time.monotonic() + 60  # another session's long transaction holds the sealing point back
    while books.run(lambda uow: seal_batch(uow, key, books.clock.now())) is None:
        assert time.monotonic() < deadline, "nothing became sealable within 20 s"
        time.sleep(0.05)


def test_sealing_refuses_to_sign_on_from_a_doctored_frontier(
    books: Books, engine: Engine, database_url: str
) -> None:
    scheme, _, _ = some_books(books)
    key = generate_signing_key()
    head = seal(books, key)
    books.run(
        lambda uow: flows.issue(
            uow, scheme=scheme, owner_id="r2", amount_minor=50, now=books.clock.now(), actor="cw", key="later"
        )
    )
    behind_the_ledgers_back(
        engine,
        database_url,
        [
            (
                "UPDATE checkpoints SET frontier_json = :f WHERE tree_size = :size",
                {"f": '["' + "00" * 32 + '"]', "size": head.tree_size},
            )
        ],
    )

    with pytest.raises(Conflict, match="stored frontier does not rebuild its signed root"):
        seal_when_past_the_horizon(books, key)

    assert books.run(lambda uow: uow.audit.latest_checkpoint()) == dataclasses.replace(
        head, frontier=("00" * 32,)
    )


def test_sealing_refuses_to_go_on_when_the_newest_checkpoint_was_deleted(
    books: Books, engine: Engine, database_url: str
) -> None:
    some_books(books)
    key = generate_signing_key()
    head = seal(books, key)
    behind_the_ledgers_back(
        engine,
        database_url,
        [
            ("DELETE FROM checkpoint_leaves WHERE tree_size = :size", {"size": head.tree_size}),
            ("DELETE FROM checkpoints WHERE tree_size = :size", {"size": head.tree_size}),
        ],
    )
    scheme = books.run(lambda uow: get_scheme(uow, "leisure"))
    books.run(
        lambda uow: flows.issue(
            uow, scheme=scheme, owner_id="r2", amount_minor=50, now=books.clock.now(), actor="cw", key="later"
        )
    )

    with pytest.raises(Conflict, match="transactions are sealed but the newest checkpoint covers"):
        seal_when_past_the_horizon(books, key)
