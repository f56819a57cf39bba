"""Group commit: concurrent writes share one transaction; one refusal never touches its batch-mates."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from ledger.db.spend_repository import savepoint
from ledger.errors import InsufficientFunds
from ledger.service import read_only
from ledger.spend_batch import GroupCommit
from ledger.usecases import flows
from ledger.usecases.audit import check
from tests.integration.conftest import Books


def _spend(books: Books, scheme: dict[str, Any], owner: str, amount: int, payable: str, key: str) -> Any:
    def operation(uow: Any) -> Any:
        return flows.spend(
            uow, scheme=scheme, owner_id=owner, amount_minor=amount, payable_account_id=payable,
            categories=None, now=books.clock.now(), actor="kiosk", key=key,
        )  # fmt: skip

    return operation


class BatchRun:
    """A first write held open so the next writes queue up behind it and go in one batch together."""

    def __init__(self, group: GroupCommit) -> None:
        self.group = group
        self.release = threading.Event()
        self.answers: dict[str, Any] = {}
        self.threads: list[threading.Thread] = []

    def hold_first(self, operation: Callable[[Any], Any]) -> None:
        def held(uow: Any) -> Any:
            assert self.release.wait(30)
            return operation(uow)

        self._start("first", held)
        self._until(lambda: self.group.batch_sizes == [1])

    def queue(self, name: str, operation: Callable[[Any], Any]) -> None:
        waiting = self.group.queued()
        self._start(name, operation)
        self._until(lambda: self.group.queued() == waiting + 1)

    def finish(self) -> dict[str, Any]:
        self.release.set()
        for thread in self.threads:
            thread.join(30)
        return self.answers

    def _start(self, name: str, operation: Callable[[Any], Any]) -> None:
        def write() -> None:
            try:
                self.answers[name] = self.group.run(operation)
            except Exception as error:  # the answer a caller would get
                self.answers[name] = error

        thread = threading.Thread(target=write)
        self.threads.append(thread)
        thread.start()

    @staticmethod
    def _until(condition: Callable[[], bool]) -> None:
        for _ in range(3000):
            if condition():
                return
            time.sleep(0.01)
        raise AssertionError("the writes never queued")


def _issue(books: Books, scheme: dict[str, Any], owner: str) -> Callable[[Any], Any]:
    def operation(uow: Any) -> Any:
        return flows.issue(
            uow, scheme=scheme, owner_id=owner, amount_minor=500, now=books.clock.now(),
            actor="caseworker", key=f"issue-{owner}",
        )  # fmt: skip

    return operation


@pytest.fixture
def funded(books: Books) -> tuple[dict[str, Any], str]:
    scheme = books.scheme("leisure", funded_minor=10_000)
    for owner in ("ann", "bob", "cat"):
        books.run(_issue(books, scheme, owner))
    return scheme, books.payable("pool")


def test_batch_mates_are_unaffected_by_one_refusal(books: Books, funded: tuple[dict[str, Any], str]) -> None:
    scheme, payable = funded
    group = GroupCommit(books.uow, savepoint)
    run = BatchRun(group)
    run.hold_first(_spend(books, scheme, "ann", 100, payable, "k-first"))
    run.queue("ann", _spend(books, scheme, "ann", 200, payable, "k-ann"))
    run.queue("bob", _spend(books, scheme, "bob", 900, payable, "k-bob"))  # more than bob has
    run.queue("cat", _spend(books, scheme, "cat", 300, payable, "k-cat"))

    answers = run.finish()

    assert group.batch_sizes == [1, 3]
    assert isinstance(answers["bob"], InsufficientFunds)
    assert (answers["ann"].amount_minor, answers["cat"].amount_minor) == (200, 300)
    assert [books.wallet(owner, scheme) for owner in ("ann", "bob", "cat")] == [200, 500, 200]
    assert books.balance(payable) == 600
    assert read_only(books.uow, check).ok


def test_a_key_sent_twice_in_one_batch_and_again_later_spends_once(
    books: Books, funded: tuple[dict[str, Any], str]
) -> None:
    scheme, payable = funded
    group = GroupCommit(books.uow, savepoint)
    run = BatchRun(group)
    run.hold_first(_spend(books, scheme, "cat", 50, payable, "k-first"))
    run.queue("once", _spend(books, scheme, "ann", 200, payable, "k-twice"))
    run.queue("again", _spend(books, scheme, "ann", 200, payable, "k-twice"))

    answers = run.finish()
    later = group.run(_spend(books, scheme, "ann", 200, payable, "k-twice"))

    assert group.batch_sizes == [1, 2, 1]
    assert answers["once"].transaction_id == answers["again"].transaction_id == later.transaction_id
    assert books.wallet("ann", scheme) == 300
    assert read_only(books.uow, check).ok


def test_a_lone_write_is_committed_in_a_batch_of_its_own(
    books: Books, funded: tuple[dict[str, Any], str]
) -> None:
    scheme, payable = funded
    group = GroupCommit(books.uow, savepoint, max_wait_seconds=1.0)

    first = group.run(_spend(books, scheme, "ann", 100, payable, "k-1"))
    second = group.run(_spend(books, scheme, "ann", 100, payable, "k-2"))

    assert group.batch_sizes == [1, 1] and first.transaction_id != second.transaction_id
    assert books.wallet("ann", scheme) == 300


@pytest.mark.postgres_only  # SQLite has one writer: the service keeps one batch in flight there
def test_with_two_batches_in_flight_a_batch_held_open_does_not_hold_up_the_next(
    books: Books, funded: tuple[dict[str, Any], str]
) -> None:
    scheme, payable = funded
    group = GroupCommit(books.uow, savepoint, max_batches_in_flight=2)
    run = BatchRun(group)
    run.hold_first(_spend(books, scheme, "ann", 100, payable, "k-held"))

    answer = group.run(_spend(books, scheme, "bob", 200, payable, "k-next"))  # answered while ann's waits
    bob_while_ann_is_held = books.wallet("bob", scheme)
    answers = run.finish()

    assert bob_while_ann_is_held == 300 and answer.amount_minor == 200
    assert answers["first"].amount_minor == 100 and books.wallet("ann", scheme) == 400
    assert group.batch_sizes == [1, 1]
    assert books.balance(payable) == 300
    assert read_only(books.uow, check).ok


@pytest.mark.postgres_only
def test_with_two_batches_in_flight_racing_spends_of_one_wallet_never_overspend_it(
    books: Books, funded: tuple[dict[str, Any], str]
) -> None:
    scheme, payable = funded  # ann holds 500: five spends of 100 fit, whatever the batches
    group = GroupCommit(books.uow, savepoint, max_batches_in_flight=2, max_wait_seconds=0.01)
    answers: list[Any] = []
    start = threading.Barrier(24)

    def spend(number: int) -> None:
        start.wait()
        try:
            answers.append(group.run(_spend(books, scheme, "ann", 100, payable, f"k-race-{number}")))
        except InsufficientFunds as refusal:
            answers.append(refusal)

    threads = [threading.Thread(target=spend, args=(n,)) for n in range(24)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    accepted = [answer for answer in answers if not isinstance(answer, InsufficientFunds)]
    assert len(answers) == 24 and len(accepted) == 5
    assert books.wallet("ann", scheme) == 0 and books.balance(payable) == 500
    assert read_only(books.uow, check).ok


@pytest.mark.postgres_only  # SQLite has one writer: the next batch would only wait for the first's lock
def test_with_commits_overlapping_a_batch_waiting_for_its_commit_does_not_hold_up_the_next(
    books: Books, funded: tuple[dict[str, Any], str]
) -> None:
    scheme, payable = funded
    other_payable = books.payable("other")  # no row shared with ann's batch, which the next would wait on
    committing, may_commit = threading.Event(), threading.Event()
    first: list[Any] = []

    def first_commit_held(**options: Any) -> Any:
        uow = books.uow(**options)
        if not first:
            first.append(uow)
            commit = uow.commit

            def held_commit() -> None:
                committing.set()
                assert may_commit.wait(30)
                commit()

            uow.commit = held_commit
        return uow

    group = GroupCommit(first_commit_held, savepoint, overlap_commits=True)
    answers: dict[str, Any] = {}
    ann = threading.Thread(
        target=lambda: answers.update(ann=group.run(_spend(books, scheme, "ann", 100, payable, "k-ann")))
    )
    ann.start()
    assert committing.wait(30)

    bob = group.run(_spend(books, scheme, "bob", 200, other_payable, "k-bob"))  # while ann's commit waits
    wallets_while_ann_commits = books.wallet("ann", scheme), books.wallet("bob", scheme)
    may_commit.set()
    ann.join(30)

    assert bob.amount_minor == 200 and wallets_while_ann_commits == (500, 300)
    assert answers["ann"].amount_minor == 100 and books.wallet("ann", scheme) == 400
    assert group.batch_sizes == [1, 1]
    assert read_only(books.uow, check).ok
