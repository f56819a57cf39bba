"""Balances: current ones equal the sums of postings, past ones are answerable, hot accounts stay exact."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, func, select

from ledger.db.engine import make_engine
from ledger.db.tables import balances, postings
from ledger.receipts import Receipt
from ledger.service import read_only
from ledger.usecases import flows
from ledger.usecases.audit import TrialBalanceLine, check, trial_balance
from tests.integration.conftest import Books

# These tests open up to 66 PostgreSQL connections at once: keep them on one xdist worker so two
# of them never run together against the server's 100-connection limit.
pytestmark = pytest.mark.xdist_group("many-connections")

HOUR = dt.timedelta(hours=1)
CUSTOMERS = 24
REDEMPTIONS_EACH = 5


def test_an_accounts_balance_at_a_past_instant_counts_only_what_was_recorded_by_then(books: Books) -> None:
    scheme = books.scheme("leisure", funded_minor=10_000)
    payable = books.payable("pool")
    issued_at = books.clock.now()
    lot = books.run(
        lambda uow: flows.issue(
            uow, scheme=scheme, owner_id="r1", amount_minor=1_000, now=issued_at, actor="cw", key="i"
        )
    ).lot_account_id
    books.clock.advance(HOUR)
    first_spend_at = books.clock.now()
    spend(books, scheme, payable, 300)
    books.clock.advance(HOUR)
    second_spend_at = books.clock.now()
    spend(books, scheme, payable, 200)
    books.clock.advance(HOUR)

    def at(account_id: str, instant: dt.datetime) -> int:
        return int(books.run(lambda uow: uow.accounts.balance_at(account_id, instant)))

    micro = dt.timedelta(microseconds=1)
    assert at(lot, issued_at - micro) == 0
    assert at(lot, issued_at) == 1_000, "an instant includes what was recorded at it"
    assert at(lot, first_spend_at - micro) == 1_000
    assert at(lot, first_spend_at) == 700
    assert at(lot, second_spend_at + HOUR / 2) == 500
    assert at(payable, first_spend_at) == 300
    assert at(payable, books.clock.now()) == books.balance(payable) == 500
    assert at(lot, books.clock.now()) == books.balance(lot) == 500


def test_the_trial_balance_at_a_past_instant_shows_the_books_as_they_stood(books: Books) -> None:
    before_anything = books.clock.now() - HOUR
    scheme = books.scheme("leisure", funded_minor=10_000)
    payable = books.payable("pool")
    books.run(
        lambda uow: flows.issue(
            uow, scheme=scheme, owner_id="r1", amount_minor=1_000, now=books.clock.now(), actor="cw", key="i"
        )
    )
    issued = books.clock.now()
    books.clock.advance(HOUR)
    spend(books, scheme, payable, 400)

    def lines(at: dt.datetime | None) -> tuple[dict[str, int], Any]:
        balance = read_only(books.uow, lambda uow: trial_balance(uow, at))
        return {line.name: line.balance_minor for line in balance.lines}, balance

    then, then_balance = lines(issued)
    now, now_balance = lines(None)
    empty, empty_balance = lines(before_anything)

    assert then == {
        "external:bank:GBP": -10_000,
        "scheme:leisure:budget": 9_000,
        "wallet:r1:leisure:main": 1_000,
    }
    assert now == {
        "external:bank:GBP": -10_000,
        "scheme:leisure:budget": 9_000,
        "wallet:r1:leisure:main": 600,
        "outlet:pool:payable:GBP": 400,
    }
    assert then_balance.balanced and now_balance.balanced
    assert then_balance.totals_by_unit == now_balance.totals_by_unit == {"GBP": 0}
    assert empty == {} and empty_balance.balanced
    assert all(isinstance(line, TrialBalanceLine) for line in now_balance.lines)


def spend(books: Books, scheme: dict[str, Any], payable: str, amount: int, owner: str = "r1") -> Receipt:
    receipt: Receipt = books.run(
        lambda uow: flows.spend(
            uow,
            scheme=scheme,
            owner_id=owner,
            amount_minor=amount,
            payable_account_id=payable,
            categories=None,
            now=books.clock.now(),
            actor="kiosk",
            key=books.key(),
        )
    )
    return receipt


@pytest.fixture
def wide_engine(database_url: str) -> Iterator[Engine]:
    """An engine with a connection for every concurrent customer."""
    engine = make_engine(database_url, pool_size=CUSTOMERS + 2, max_overflow=0, pool_timeout=60)
    yield engine
    engine.dispose()


def test_a_hot_payable_credited_by_many_concurrent_redemptions_ends_with_the_exact_sum(
    wide_engine: Engine,
) -> None:
    books = Books(wide_engine)
    scheme = books.scheme("leisure", funded_minor=1_000_000)
    payable = books.payable("pool")
    for index in range(CUSTOMERS):
        books.run(issuing(books, scheme, f"r{index}", 10_000))
    barrier = threading.Barrier(CUSTOMERS)
    failures: list[BaseException] = []

    def customer(index: int) -> None:
        try:
            barrier.wait(timeout=60)
            for visit in range(REDEMPTIONS_EACH):
                spend(books, scheme, payable, amount(index, visit), owner=f"r{index}")
        except BaseException as error:
            failures.append(error)

    threads = [threading.Thread(target=customer, args=(i,)) for i in range(CUSTOMERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert not failures, failures
    expected = sum(amount(i, v) for i in range(CUSTOMERS) for v in range(REDEMPTIONS_EACH))
    assert books.balance(payable) == expected

    def stored(uow: Any) -> tuple[int, int, int]:
        posted = uow.execute_now(
            select(func.sum(postings.c.amount_minor)).where(postings.c.account_id == payable)
        ).scalar_one()
        shards = uow.execute_now(
            select(func.count()).where(balances.c.account_id == payable, balances.c.balance_minor != 0)
        ).scalar_one()
        return int(posted), int(shards), uow.accounts.balance_at(payable, books.clock.now())

    posted, shards_used, as_of_now = books.run(stored)
    assert posted == as_of_now == expected
    assert shards_used > 1, "credits to an unconstrained account spread over its shards"
    for index in range(CUSTOMERS):
        assert books.wallet(f"r{index}", scheme) == 10_000 - sum(
            amount(index, v) for v in range(REDEMPTIONS_EACH)
        )
    assert books.run(check).ok


def issuing(books: Books, scheme: dict[str, Any], owner: str, amount: int) -> Callable[[Any], Receipt]:
    return lambda uow: flows.issue(
        uow,
        scheme=scheme,
        owner_id=owner,
        amount_minor=amount,
        now=books.clock.now(),
        actor="cw",
        key=f"issue-{owner}",
    )


def amount(customer: int, visit: int) -> int:
    """A distinct-looking amount per redemption, so a lost or doubled credit shows in the total."""
    return 100 + 37 * customer + 11 * visit


def test_the_audit_check_reports_a_stored_balance_that_differs_from_its_postings(books: Books) -> None:
    scheme = books.scheme("leisure", funded_minor=10_000)
    assert books.run(check).ok
    budget = scheme["budget_account_id"]

    def skew(uow: Any) -> None:
        # balances are derived, not facts: no trigger guards them, which is why the check exists.
        uow.execute_now(
            balances.update()
            .where(balances.c.account_id == budget, balances.c.shard == 0)
            .values(balance_minor=balances.c.balance_minor + 1)
        )

    books.run(skew)

    report = books.run(check)
    assert not report.ok
    assert any(budget in problem and "10001" in problem for problem in report.problems)
