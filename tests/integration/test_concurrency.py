"""Concurrent writers: correctness never depends on luck, on PostgreSQL or on an SQLite file."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, func, select

from ledger.db.engine import make_engine
from ledger.db.tables import lots, transactions
from ledger.errors import IdempotencyInFlight, InsufficientFunds
from ledger.receipts import Receipt
from ledger.usecases import flows
from ledger.usecases.audit import check, trial_balance
from tests.integration.conftest import Books

# These tests open up to 66 PostgreSQL connections at once: keep them on one xdist worker so two
# of them never run together against the server's 100-connection limit.
pytestmark = pytest.mark.xdist_group("many-connections")

THREADS = 64
SPENDS_AVAILABLE = 20
SPEND_MINOR = 100


@pytest.fixture
def wide_engine(database_url: str) -> Iterator[Engine]:
    """An engine whose pool gives every racing thread its own connection at once."""
    engine = make_engine(database_url, pool_size=THREADS + 2, max_overflow=0, pool_timeout=60)
    yield engine
    engine.dispose()


def race(count: int, action: Callable[[int], Any]) -> list[Any]:
    """Run `action(i)` on `count` threads released together; each result or the exception it raised."""
    barrier = threading.Barrier(count)
    outcomes: list[Any] = [None] * count

    def worker(index: int) -> None:
        barrier.wait(timeout=60)
        try:
            outcomes[index] = action(index)
        except Exception as error:
            outcomes[index] = error

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads), "a racing thread hung"
    return outcomes


def test_racing_spends_from_one_wallet_succeed_exactly_as_often_as_the_wallet_can_pay(
    wide_engine: Engine,
) -> None:
    books = Books(wide_engine)
    scheme = books.scheme("leisure", funded_minor=10_000)
    now = books.clock.now()
    books.run(
        lambda uow: flows.issue(
            uow,
            scheme=scheme,
            owner_id="r1",
            amount_minor=SPENDS_AVAILABLE * SPEND_MINOR,
            now=now,
            actor="cw",
            key="issue",
        )
    )
    payable = books.payable("pool")
    lowest_seen: list[int] = []
    racing = threading.Event()

    def watch() -> None:
        while not racing.is_set():
            lowest_seen.append(books.wallet("r1", scheme))

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        outcomes = race(
            THREADS,
            lambda i: books.run(
                lambda uow: flows.spend(
                    uow,
                    scheme=scheme,
                    owner_id="r1",
                    amount_minor=SPEND_MINOR,
                    payable_account_id=payable,
                    categories=None,
                    now=now,
                    actor="kiosk",
                    key=f"spend-{i}",
                )
            ),
        )
    finally:
        racing.set()
        watcher.join()

    receipts = [o for o in outcomes if isinstance(o, Receipt)]
    refusals = [o for o in outcomes if not isinstance(o, Receipt)]
    assert len(receipts) == SPENDS_AVAILABLE
    assert all(type(o) is InsufficientFunds for o in refusals), {repr(o) for o in refusals}
    # Serialised spends see every balance from 1,900 down to 0 exactly once.
    balances_after = [r.balance_after_minor for r in receipts if r.balance_after_minor is not None]
    assert sorted(balances_after) == [SPEND_MINOR * i for i in range(SPENDS_AVAILABLE)]
    assert books.wallet("r1", scheme) == 0
    assert lowest_seen and min(lowest_seen) >= 0
    assert books.balance(payable) == SPENDS_AVAILABLE * SPEND_MINOR
    assert books.run(check).ok
    assert books.run(trial_balance).balanced


def test_racing_replays_of_one_idempotency_key_record_one_transaction(
    wide_engine: Engine, database_url: str
) -> None:
    books = Books(wide_engine)
    scheme = books.scheme("leisure", funded_minor=10_000)
    now = books.clock.now()

    def issue(_: int) -> Receipt:
        return books.run(
            lambda uow: flows.issue(
                uow,
                scheme=scheme,
                owner_id="r1",
                amount_minor=500,
                now=now,
                actor="cw",
                key="the-same-key",
            )
        )

    outcomes = race(32, issue)

    receipts = {o for o in outcomes if isinstance(o, Receipt)}
    others = [o for o in outcomes if not isinstance(o, Receipt)]
    assert len(receipts) == 1
    if database_url.startswith("sqlite"):
        assert others == [], "SQLite serialises writers, so every racer sees the stored result"
    else:
        assert all(type(o) is IdempotencyInFlight for o in others), {repr(o) for o in others}
    assert issue(0) in receipts, "once settled, the key replays the same receipt"

    def counts(uow: Any) -> tuple[int, int]:
        recorded = uow.execute_now(
            select(func.count())
            .select_from(transactions)
            .where(transactions.c.idempotency_key == "the-same-key")
        ).scalar_one()
        opened = uow.execute_now(
            select(func.count()).select_from(lots).where(lots.c.owner_id == "r1")
        ).scalar_one()
        return int(recorded), int(opened)

    assert books.run(counts) == (1, 1)
    assert books.wallet("r1", scheme) == 500
    assert books.balance(scheme["budget_account_id"]) == 9_500
    assert books.run(check).ok
