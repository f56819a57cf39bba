"""A signed tree head kept outside the database catches a log cut short or rewritten (RFC 9162)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import pytest

from ledger.signing import SigningKey, generate_signing_key, tree_head_message
from ledger.usecases import checkpoints, flows
from ledger.usecases.checkpoints import VerifyReport
from ledger.usecases.schemes import get_scheme
from ledger.usecases.trusted_heads import TreeHead, published_head, verify_since
from tests.integration.conftest import Books
from tests.integration.tamper_support import (
    behind_the_ledgers_back,
    checkpoint_around,
    cut_the_newest_checkpoint,
    seal_everything,
    sealed_at,
    sealed_books,
)

Verifier = Callable[[Books, SigningKey, TreeHead], VerifyReport]


def full(workers: int | None) -> Verifier:
    """Verify everything, then the consistency proof against the trusted head."""

    def run(books: Books, key: SigningKey, head: TreeHead) -> VerifyReport:
        return books.run(  # type: ignore[no-any-return]
            lambda uow: checkpoints.verify(uow, {key.key_id}, workers=workers, trusted_head=head)
        )

    return run


def since(books: Books, key: SigningKey, head: TreeHead) -> VerifyReport:
    """Verify only what was sealed after the trusted head, and the consistency proof."""
    return books.run(lambda uow: verify_since(uow, {key.key_id}, head))  # type: ignore[no-any-return]


VERIFIERS = [
    pytest.param(full(None), id="full"),
    pytest.param(full(2), id="full-2-workers"),
    pytest.param(since, id="since-trusted-head"),
]


def the_head(books: Books, key: SigningKey) -> TreeHead:
    """The latest signed head as an auditor would save it, through its JSON document."""
    head = books.run(lambda uow: published_head(uow, key))
    assert head is not None
    return TreeHead.from_document(head.document())


def plain_verify(books: Books, key: SigningKey) -> VerifyReport:
    return books.run(lambda uow: checkpoints.verify(uow, {key.key_id}))  # type: ignore[no-any-return]


def issue_more(books: Books, count: int) -> None:
    """New issues on the scheme the sealed books use, as the council goes on working."""
    scheme = books.run(lambda uow: get_scheme(uow, "leisure"))
    for i in range(count):
        books.run(
            lambda uow, i=i: flows.issue(
                uow,
                scheme=scheme,
                owner_id=f"late{i}",
                amount_minor=5,
                now=books.clock.now(),
                actor="cw",
                key=f"late-{i}",
            )
        )


@pytest.mark.parametrize("verifier", VERIFIERS)
def test_cutting_the_newest_checkpoint_passes_plain_verify_but_not_against_the_saved_head(
    books: Books, verifier: Verifier
) -> None:
    key = sealed_books(books)
    head = the_head(books, key)
    start, _ = checkpoint_around(books, head.tree_size - 1)
    behind_the_ledgers_back(books.engine, cut_the_newest_checkpoint(books))
    assert plain_verify(books, key).ok, "what is left of the log is self-consistent"

    report = verifier(books, key, head)

    assert not report.ok
    assert report.problem == (
        f"the log now has {start} transactions but the trusted head had {head.tree_size}: the log was cut"
    )


@pytest.mark.parametrize("verifier", VERIFIERS)
def test_a_log_cut_and_then_sealed_past_the_saved_head_is_reported_as_rewritten(
    books: Books, verifier: Verifier
) -> None:
    key = sealed_books(books)
    head = the_head(books, key)
    behind_the_ledgers_back(books.engine, cut_the_newest_checkpoint(books))
    issue_more(books, 150)
    seal_everything(books, key)
    assert books.run(lambda uow: uow.audit.latest_checkpoint()).tree_size > head.tree_size
    assert plain_verify(books, key).ok, "the sealer signed the new transactions in good faith"

    report = verifier(books, key, head)

    assert not report.ok
    assert report.problem == (
        f"the first {head.tree_size} transactions no longer hash to the trusted root: the log was rewritten"
    )


@pytest.mark.parametrize("verifier", VERIFIERS)
def test_a_log_that_only_grew_since_the_saved_head_extends_it(books: Books, verifier: Verifier) -> None:
    key = sealed_books(books)
    head = the_head(books, key)
    issue_more(books, 5)
    seal_everything(books, key)

    report = verifier(books, key, head)

    assert report.ok, report.problem
    assert report.trusted_head_size == head.tree_size


@pytest.mark.parametrize("verifier", VERIFIERS)
def test_the_saved_head_when_nothing_was_sealed_since_is_consistent(books: Books, verifier: Verifier) -> None:
    key = sealed_books(books)
    head = the_head(books, key)

    report = verifier(books, key, head)

    assert report.ok, report.problem
    assert report.trusted_head_size == head.tree_size


def test_verify_since_the_saved_head_reads_only_what_was_sealed_after_it(books: Books) -> None:
    key = sealed_books(books)
    head = the_head(books, key)
    issue_more(books, 7)
    seal_everything(books, key)

    report = since(books, key, head)

    assert report.ok, report.problem
    assert report.transactions_checked == 7
    assert report.checkpoints_checked >= 1


def test_verify_since_the_saved_head_names_a_transaction_altered_after_it(books: Books) -> None:
    key = sealed_books(books)
    head = the_head(books, key)
    issue_more(books, 4)
    seal_everything(books, key)
    victim = sealed_at(books, head.tree_size + 2)
    behind_the_ledgers_back(
        books.engine, [f"UPDATE transactions SET actor = 'mallory' WHERE id = '{victim}'"]
    )

    report = since(books, key, head)

    assert not report.ok
    assert report.first_bad_transaction == victim
    assert report.problem == f"transaction {victim}: content hash does not match"


@pytest.mark.parametrize("verifier", VERIFIERS)
@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda head: {"root_hash": "0" * 64}, "the head's signature does not verify"),
        (lambda head: {"tree_size": head.tree_size - 1}, "the head's signature does not verify"),
        (
            lambda head: {"public_key": generate_signing_key().public_key_bytes().hex()},
            "public key is not key",
        ),
    ],
)
def test_a_saved_head_that_is_not_genuinely_signed_is_refused(
    books: Books, verifier: Verifier, change: Callable[[TreeHead], dict[str, object]], expected: str
) -> None:
    key = sealed_books(books)
    head = the_head(books, key)

    report = verifier(books, key, dataclasses.replace(head, **change(head)))  # type: ignore[arg-type]

    assert not report.ok
    assert (report.problem or "").startswith("trusted head: ") and expected in (report.problem or "")


@pytest.mark.parametrize("verifier", VERIFIERS)
def test_a_head_signed_by_another_ledgers_key_is_refused(books: Books, verifier: Verifier) -> None:
    key = sealed_books(books)
    head = the_head(books, key)
    other = generate_signing_key()
    message = tree_head_message(head.tree_size, bytes.fromhex(head.root_hash), head.signed_at, other.key_id)
    foreign = dataclasses.replace(
        head,
        key_id=other.key_id,
        public_key=other.public_key_bytes().hex(),
        signature=other.sign(message).hex(),
    )

    report = verifier(books, key, foreign)

    assert not report.ok
    assert (
        report.problem == f"trusted head: the head was signed by key {other.key_id}, not by this ledger's key"
    )
