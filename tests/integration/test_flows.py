"""Value flows through the ledger, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt

import pytest

from ledger.errors import BudgetExhausted, Conflict, IdempotencyMismatch, InsufficientFunds
from ledger.usecases import flows
from ledger.usecases.audit import check, trial_balance
from tests.integration.conftest import Books


def test_a_scheme_cannot_issue_more_than_its_budget(books: Books) -> None:
    scheme = books.scheme("leisure", funded_minor=1_000)
    books.run(
        lambda uow: flows.issue(
            uow, scheme=scheme, owner_id="r1", amount_minor=600, now=books.clock.now(), actor="cw", key="a"
        )
    )
    with pytest.raises(BudgetExhausted):
        books.run(
            lambda uow: flows.issue(
                uow,
                scheme=scheme,
                owner_id="r2",
                amount_minor=500,
                now=books.clock.now(),
                actor="cw",
                key="b",
            )
        )
    assert books.balance(scheme["budget_account_id"]) == 400
    assert books.wallet("r2", scheme) == 0


def test_a_spend_takes_the_earliest_expiring_lot_first(books: Books) -> None:
    scheme = books.scheme("leisure", funded_minor=10_000)
    now = books.clock.now()
    late = books.run(
        lambda uow: flows.issue(
            uow,
            scheme=scheme,
            owner_id="r1",
            amount_minor=1_500,
            now=now,
            actor="cw",
            key="late",
            expires_at=now + dt.timedelta(days=90),
        )
    )
    early = books.run(
        lambda uow: flows.issue(
            uow,
            scheme=scheme,
            owner_id="r1",
            amount_minor=1_000,
            now=now,
            actor="cw",
            key="early",
            expires_at=now + dt.timedelta(days=30),
        )
    )
    payable = books.payable("pool")
    receipt = books.run(
        lambda uow: flows.spend(
            uow,
            scheme=scheme,
            owner_id="r1",
            amount_minor=1_200,
            payable_account_id=payable,
            categories=None,
            now=now,
            actor="kiosk",
            key="spend",
        )
    )
    assert receipt.taken == ((early.lot_account_id, 1_000), (late.lot_account_id, 200))
    assert receipt.balance_after_minor == 1_300
    assert books.balance(payable) == 1_200


def test_the_same_key_replays_and_a_different_request_is_refused(books: Books) -> None:
    scheme = books.scheme("leisure", funded_minor=10_000)
    now = books.clock.now()

    def issue(amount: int) -> flows.Receipt:
        return books.run(
            lambda uow: flows.issue(
                uow, scheme=scheme, owner_id="r1", amount_minor=amount, now=now, actor="cw", key="same"
            )
        )

    first = issue(500)
    assert issue(500) == first
    with pytest.raises(IdempotencyMismatch):
        issue(501)
    assert books.wallet("r1", scheme) == 500


def test_a_transaction_can_be_reversed_once_and_the_books_still_balance(books: Books) -> None:
    scheme = books.scheme("leisure", funded_minor=10_000)
    now = books.clock.now()
    books.run(
        lambda uow: flows.issue(
            uow, scheme=scheme, owner_id="r1", amount_minor=900, now=now, actor="cw", key="i"
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
            key="s",
        )
    )
    books.run(
        lambda uow: flows.reverse(uow, transaction_id=spent.transaction_id, now=now, actor="kiosk", key="r1")
    )
    with pytest.raises(Conflict):
        books.run(
            lambda uow: flows.reverse(
                uow, transaction_id=spent.transaction_id, now=now, actor="kiosk", key="r2"
            )
        )
    assert books.wallet("r1", scheme) == 900
    assert books.balance(payable) == 0
    assert trial_balance_is_zero(books)
    assert books.run(check).ok


def test_a_wallet_cannot_be_overspent(books: Books) -> None:
    scheme = books.scheme("leisure", funded_minor=10_000)
    now = books.clock.now()
    books.run(
        lambda uow: flows.issue(
            uow, scheme=scheme, owner_id="r1", amount_minor=100, now=now, actor="cw", key="i"
        )
    )
    payable = books.payable("pool")
    with pytest.raises(InsufficientFunds):
        books.run(
            lambda uow: flows.spend(
                uow,
                scheme=scheme,
                owner_id="r1",
                amount_minor=101,
                payable_account_id=payable,
                categories=None,
                now=now,
                actor="kiosk",
                key="s",
            )
        )
    assert books.wallet("r1", scheme) == 100


def trial_balance_is_zero(books: Books) -> bool:
    """True when every unit's trial balance totals zero."""
    return bool(books.run(lambda uow: trial_balance(uow)).balanced)
