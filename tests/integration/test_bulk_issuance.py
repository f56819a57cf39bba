"""Bulk issuance: many wallets per database transaction, resumable, never beyond the budget."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select

from ledger.db.tables import idempotency_keys, lots, transactions
from ledger.errors import BudgetExhausted
from ledger.signing import generate_signing_key
from ledger.usecases import checkpoints, flows
from ledger.usecases.audit import check
from ledger.usecases.bulk import BulkReport, bulk_issue
from tests.integration.conftest import Books
from tests.integration.test_concurrency import race

WALLETS = 2_000
AMOUNT = 1_500


def owners(count: int = WALLETS) -> list[str]:
    """Pseudonymous owner ids."""
    return [f"teen-{i:05d}" for i in range(count)]


def count(books: Books, table: object, *where: object) -> int:
    """Rows in a table."""
    query = select(func.count()).select_from(table).where(*where)  # type: ignore[arg-type]
    return int(books.run(lambda uow: uow.execute_now(query).scalar_one()))


def issue_all(books: Books, scheme: dict[str, object], seen: list[int] | None = None) -> BulkReport:
    """Run the job over every owner."""
    return bulk_issue(
        books.uow,
        books.clock,
        scheme["slug"],  # type: ignore[arg-type]
        iter(owners()),
        AMOUNT,
        books.clock.now() + dt.timedelta(days=30),
        "leisure",
        "scheme-manager",
        "allowance-2026-11",
        progress=seen.append if seen is not None else None,
    )


def verify_books(books: Books) -> checkpoints.VerifyReport:
    """Seal everything committed and verify every hash, root and signature."""
    key = generate_signing_key()
    books.run(lambda uow: checkpoints.seal(uow, key, books.clock.now()))
    return books.run(lambda uow: checkpoints.verify(uow, {key.key_id}))  # type: ignore[no-any-return]


def test_bulk_issue_credits_every_wallet_once_and_a_rerun_skips_them(books: Books) -> None:
    scheme = books.scheme("leisure", funded_minor=WALLETS * AMOUNT + 7)
    seen: list[int] = []
    report = issue_all(books, scheme, seen)
    assert report == flows_report(issued=WALLETS, skipped=0)
    assert seen[-1] == WALLETS and seen == sorted(seen)
    assert books.balance(scheme["budget_account_id"]) == 7
    assert books.wallet("teen-00000", scheme) == AMOUNT
    assert books.wallet(f"teen-{WALLETS - 1:05d}", scheme) == AMOUNT
    assert count(books, lots) == WALLETS

    again = issue_all(books, scheme)
    assert again == flows_report(issued=0, skipped=WALLETS)
    assert books.balance(scheme["budget_account_id"]) == 7
    assert count(books, transactions, transactions.c.kind == "issue") == WALLETS

    # Each wallet's transaction is an ordinary idempotent issue: the single path replays it.
    replay = books.run(
        lambda uow: flows.issue(
            uow,
            scheme=scheme,
            owner_id="teen-00042",
            amount_minor=AMOUNT,
            now=books.clock.now(),
            actor="scheme-manager",
            key="allowance-2026-11:teen-00042",
            category="leisure",
            expires_at=books.clock.now() + dt.timedelta(days=30),
        )
    )
    assert replay.balance_after_minor == AMOUNT and replay.taken[0][1] == AMOUNT
    assert books.run(check).ok
    report_ = verify_books(books)
    assert report_.ok, report_.problem
    assert report_.transactions_checked == WALLETS + 1


def test_a_batch_the_budget_cannot_cover_is_refused_whole(books: Books) -> None:
    scheme = books.scheme("leisure", funded_minor=(WALLETS - 1) * AMOUNT)
    with pytest.raises(BudgetExhausted):
        issue_all(books, scheme)
    # The first batch of 1,000 went through; the second (one wallet short) changed nothing at all.
    assert count(books, transactions, transactions.c.kind == "issue") == 1_000
    assert count(books, lots) == 1_000
    assert count(books, idempotency_keys, idempotency_keys.c.scope == "scheme-manager") == 1_000
    assert books.balance(scheme["budget_account_id"]) == (WALLETS - 1 - 1_000) * AMOUNT
    assert books.run(check).ok

    books.run(
        lambda uow: flows.fund(
            uow, scheme=scheme, amount_minor=AMOUNT, now=books.clock.now(), actor="finance", key="top-up"
        )
    )
    resumed = issue_all(books, scheme)
    assert resumed == flows_report(issued=1_000, skipped=1_000)
    assert books.balance(scheme["budget_account_id"]) == 0
    assert books.run(check).ok
    assert verify_books(books).ok


def test_a_main_lot_is_credited_in_place_when_no_expiry_or_category(books: Books) -> None:
    scheme = books.scheme("timebank", funded_minor=10_000)
    books.run(
        lambda uow: flows.issue(
            uow, scheme=scheme, owner_id="m1", amount_minor=100, now=books.clock.now(), actor="c", key="k"
        )
    )
    owners_ = ["m1", "m2", "m1"]
    report = bulk_issue(books.uow, books.clock, scheme, owners_, 60, None, None, "c", "job", batch_size=2)
    assert report == flows_report(issued=2, skipped=1, amount=60)
    assert books.wallet("m1", scheme) == 160 and books.wallet("m2", scheme) == 60
    assert count(books, lots) == 2
    assert books.run(check).ok
    assert verify_books(books).ok


def flows_report(*, issued: int, skipped: int, amount: int = AMOUNT) -> BulkReport:
    """The BulkReport expected."""
    return BulkReport(issued, skipped, issued * amount)


MONTHLY = {"issuing": {"mode": "recurring", "amount_minor": AMOUNT, "period": "month"}}


def monthly(books: Books, job_key: str, count: int = 50) -> BulkReport:
    """A monthly allowance run over `count` owners under one job key."""
    return bulk_issue(
        books.uow, books.clock, "monthly", owners(count), AMOUNT, None, None, "scheme-manager", job_key
    )


def test_a_recurring_allowance_pays_each_wallet_once_a_period_whatever_the_job_key(books: Books) -> None:
    scheme = books.scheme("monthly", rules=MONTHLY, funded_minor=200 * AMOUNT)

    assert monthly(books, "november") == BulkReport(50, 0, 50 * AMOUNT, 0)
    assert monthly(books, "november-by-mistake") == BulkReport(0, 0, 0, already_paid=50)
    assert monthly(books, "november") == BulkReport(0, 50, 0, 0), "the same job replays its own payments"
    assert books.wallet("teen-00007", scheme) == AMOUNT
    books.clock.at = dt.datetime(2026, 11, 30, 23, 59, tzinfo=dt.UTC)
    assert monthly(books, "still-november") == BulkReport(0, 0, 0, already_paid=50)

    books.clock.at = dt.datetime(2026, 12, 1, 0, 0, tzinfo=dt.UTC)
    assert monthly(books, "december") == BulkReport(50, 0, 50 * AMOUNT, 0)

    assert books.wallet("teen-00007", scheme) == 2 * AMOUNT
    assert count(books, transactions, transactions.c.kind == "issue") == 100
    assert books.run(check).ok


def test_two_allowance_runs_at_once_pay_each_wallet_once(books: Books) -> None:
    scheme = books.scheme("monthly", rules=MONTHLY, funded_minor=400 * AMOUNT)

    reports = race(2, lambda index: monthly(books, f"run-{index}", count=120))

    assert sum(report.issued for report in reports) == 120, reports
    assert sum(report.already_paid for report in reports) == 120, reports
    assert books.balance(scheme["budget_account_id"]) == 280 * AMOUNT
    assert count(books, transactions, transactions.c.kind == "issue") == 120
    assert books.run(check).ok
