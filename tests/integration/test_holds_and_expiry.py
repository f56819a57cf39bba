"""Two-phase holds and expiry, on a clock the tests move (FixedClock, and freezegun over the system clock)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from freezegun import freeze_time
from sqlalchemy import select

from ledger.clock import FixedClock, SystemClock
from ledger.db.tables import transactions
from ledger.errors import Conflict, Expired, InsufficientFunds, RetryableConflict
from ledger.receipts import Receipt
from ledger.units import Unit
from ledger.usecases import expiry, flows, holds
from ledger.usecases.audit import check, trial_balance
from tests.integration.conftest import START, Books
from tests.integration.test_concurrency import race

DAY = dt.timedelta(days=1)


def issue(
    books: Books,
    scheme: dict[str, Any],
    owner: str,
    amount: int,
    *,
    expires_in: dt.timedelta | None = None,
    category: str | None = None,
) -> Receipt:
    now = books.clock.now()
    receipt: Receipt = books.run(
        lambda uow: flows.issue(
            uow,
            scheme=scheme,
            owner_id=owner,
            amount_minor=amount,
            now=now,
            actor="cw",
            key=books.key(),
            category=category,
            expires_at=None if expires_in is None else now + expires_in,
        )
    )
    return receipt


def spend(books: Books, scheme: dict[str, Any], owner: str, amount: int, payable: str) -> Receipt:
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


def hold(
    books: Books, scheme: dict[str, Any], owner: str, amount: int, payable: str, timeout_seconds: int = 600
) -> Receipt:
    receipt: Receipt = books.run(
        lambda uow: holds.place_hold(
            uow,
            scheme=scheme,
            owner_id=owner,
            amount_minor=amount,
            payable_account_id=payable,
            categories=None,
            timeout_seconds=timeout_seconds,
            now=books.clock.now(),
            actor="kiosk",
            key=books.key(),
        )
    )
    return receipt


def resolve(books: Books, hold_id: str, capture_minor: int, outcome: str) -> holds.HoldResolution:
    resolution: holds.HoldResolution = books.run(
        lambda uow: holds.resolve_hold(
            uow,
            hold_id=hold_id,
            capture_minor=capture_minor,
            now=books.clock.now(),
            actor="kiosk",
            key=books.key(),
            outcome=outcome,
        )
    )
    return resolution


def status(books: Books, hold_id: str) -> str:
    return str(books.run(lambda uow: uow.holds.get(hold_id)).status)


def kinds(books: Books) -> list[str]:
    return sorted(books.run(lambda uow: list(uow.execute_now(select(transactions.c.kind)).scalars())))


def books_are_sound(books: Books) -> bool:
    return bool(books.run(check).ok and books.run(trial_balance).balanced)


def test_a_hold_reserves_funds_that_the_wallet_can_no_longer_spend(books: Books) -> None:
    scheme = books.scheme("leisure", funded_minor=10_000)
    payable = books.payable("pool")
    issue(books, scheme, "r1", 1_000)

    held = hold(books, scheme, "r1", 700, payable)

    assert books.wallet("r1", scheme) == 300
    with pytest.raises(InsufficientFunds):
        spend(books, scheme, "r1", 301, payable)
    spend(books, scheme, "r1", 300, payable)
    assert books.wallet("r1", scheme) == 0
    assert status(books, str(held.hold_id)) == "pending"
    assert books.balance(payable) == 300
    assert books_are_sound(books)


def test_capturing_part_of_a_hold_pays_that_part_and_returns_the_rest_to_the_lots_drawn_last(
    books: Books,
) -> None:
    scheme = books.scheme("leisure", funded_minor=10_000)
    payable = books.payable("pool")
    soon = issue(books, scheme, "r1", 400, expires_in=30 * DAY)
    main = issue(books, scheme, "r1", 600)
    held = hold(books, scheme, "r1", 700, payable)
    assert held.taken == ((soon.lot_account_id, 400), (main.lot_account_id, 300))

    captured = resolve(books, str(held.hold_id), 200, "captured")

    assert (captured.captured_minor, captured.returned_minor) == (200, 500)
    assert captured.returned_to == ((main.lot_account_id, 300), (soon.lot_account_id, 200))
    assert books.balance(payable) == 200
    assert books.balance(str(main.lot_account_id)) == 600
    assert books.balance(str(soon.lot_account_id)) == 200
    assert books.wallet("r1", scheme) == 800
    assert status(books, str(held.hold_id)) == "captured"
    with pytest.raises(Conflict):
        resolve(books, str(held.hold_id), 500, "captured")
    with pytest.raises(Conflict):
        resolve(books, str(held.hold_id), 0, "voided")
    assert books.wallet("r1", scheme) == 800
    assert books_are_sound(books)


def test_capturing_a_hold_in_full_pays_all_of_it(books: Books) -> None:
    scheme = books.scheme("leisure", funded_minor=10_000)
    payable = books.payable("pool")
    issue(books, scheme, "r1", 1_000)
    held = hold(books, scheme, "r1", 700, payable)

    resolve(books, str(held.hold_id), 700, "captured")

    assert books.balance(payable) == 700
    assert books.wallet("r1", scheme) == 300
    assert books_are_sound(books)


def test_voiding_a_hold_returns_everything_to_the_lots_it_came_from(books: Books) -> None:
    scheme = books.scheme("leisure", funded_minor=10_000)
    payable = books.payable("pool")
    soon = issue(books, scheme, "r1", 400, expires_in=30 * DAY)
    main = issue(books, scheme, "r1", 600)
    held = hold(books, scheme, "r1", 700, payable)

    resolve(books, str(held.hold_id), 0, "voided")

    assert books.balance(str(soon.lot_account_id)) == 400
    assert books.balance(str(main.lot_account_id)) == 600
    assert books.balance(payable) == 0
    assert status(books, str(held.hold_id)) == "voided"
    with pytest.raises(Conflict):
        resolve(books, str(held.hold_id), 0, "voided")
    assert books_are_sound(books)


def test_a_hold_past_its_timeout_cannot_be_captured_and_expiry_releases_it(books: Books) -> None:
    scheme = books.scheme("leisure", funded_minor=10_000)
    payable = books.payable("pool")
    issue(books, scheme, "r1", 1_000)
    with freeze_time(START) as frozen:
        clock = SystemClock()
        books.clock.at = clock.now()
        held = hold(books, scheme, "r1", 700, payable, timeout_seconds=3_600)
        frozen.tick(dt.timedelta(seconds=3_599))
        books.clock.at = clock.now()
        assert expiry.expire_all(books.uow, clock).holds_released == 0, "not timed out yet"

        frozen.tick(dt.timedelta(seconds=1))
        books.clock.at = clock.now()
        with pytest.raises(Expired):
            resolve(books, str(held.hold_id), 700, "captured")
        assert books.wallet("r1", scheme) == 300, "a refused capture changes nothing"

        report = expiry.expire_all(books.uow, clock)

        assert report == expiry.ExpiryReport(lots_expired=0, returned_minor_by_scheme={}, holds_released=1)
        assert books.wallet("r1", scheme) == 1_000
        assert status(books, str(held.hold_id)) == "expired"
        with pytest.raises(Expired):
            resolve(books, str(held.hold_id), 700, "captured")
        assert expiry.expire_all(books.uow, clock).holds_released == 0
    assert books.balance(payable) == 0
    assert kinds(books).count("hold_expiry") == 1
    assert books_are_sound(books)


def test_expiry_returns_each_expired_lot_to_its_budget_in_one_transaction_and_reruns_return_nothing(
    books: Books,
) -> None:
    leisure = books.scheme("leisure", funded_minor=10_000)
    hours = books.scheme(
        "timebank", unit=Unit.HOUR, rules={"spending": {"overdraft_floor_minor": -600}}, funded_minor=5_000
    )
    payable = books.payable("pool")
    first = issue(books, leisure, "r1", 500, expires_in=DAY)
    issue(books, leisure, "r2", 300, expires_in=DAY, category="food")
    later = issue(books, leisure, "r1", 200, expires_in=10 * DAY)
    main = issue(books, leisure, "r1", 100)
    issue(books, hours, "r1", 120, expires_in=DAY)
    issue(books, hours, "r1", 60)
    spend(books, leisure, "r1", 100, payable)  # from the earliest-expiring lot
    books.clock.advance(2 * DAY)
    with pytest.raises(InsufficientFunds):
        spend(books, leisure, "r2", 1, payable)  # expired, though not yet swept

    report = expiry.expire_all(books.uow, books.clock)

    assert report == expiry.ExpiryReport(
        lots_expired=3,
        returned_minor_by_scheme={leisure["id"]: 400 + 300, hours["id"]: 120},
        holds_released=0,
    )
    assert books.balance(leisure["budget_account_id"]) == 10_000 - 500 - 300 - 200 - 100 + 700
    assert books.balance(hours["budget_account_id"]) == 5_000 - 120 - 60 + 120
    assert books.balance(str(first.lot_account_id)) == 0
    assert books.balance(str(later.lot_account_id)) == 200
    assert books.balance(str(main.lot_account_id)) == 100
    assert books.wallet("r2", leisure) == 0
    assert kinds(books).count("expire") == 3

    assert expiry.expire_all(books.uow, books.clock) == expiry.ExpiryReport(0, {}, 0)
    assert kinds(books).count("expire") == 3
    assert books_are_sound(books)


def test_a_lot_expires_at_its_expiry_instant_and_not_a_moment_before(books: Books) -> None:
    scheme = books.scheme("leisure", funded_minor=10_000)
    payable = books.payable("pool")
    lot = issue(books, scheme, "r1", 400, expires_in=DAY)
    books.clock.advance(DAY - dt.timedelta(microseconds=1))
    assert expiry.expire_all(books.uow, books.clock) == expiry.ExpiryReport(0, {}, 0)
    spend(books, scheme, "r1", 100, payable)

    books.clock.advance(dt.timedelta(microseconds=1))
    with pytest.raises(InsufficientFunds):
        spend(books, scheme, "r1", 1, payable)
    report = expiry.expire_all(books.uow, books.clock)

    assert report == expiry.ExpiryReport(1, {scheme["id"]: 300}, 0)
    assert books.balance(str(lot.lot_account_id)) == 0


def test_expiry_pages_through_more_lots_than_one_batch(books: Books, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(expiry, "EXPIRY_BATCH_SIZE", 2)
    scheme = books.scheme("leisure", funded_minor=10_000)
    for owner in ("r1", "r2", "r3", "r4", "r5"):
        issue(books, scheme, owner, 100, expires_in=DAY)
    books.clock.advance(2 * DAY)
    progress: list[int] = []

    report = expiry.expire_all(books.uow, books.clock, progress=progress.append)

    assert report.lots_expired == 5
    assert report.returned_minor_by_scheme == {scheme["id"]: 500}
    assert progress[-1] == 5
    assert books.balance(scheme["budget_account_id"]) == 10_000


def test_a_refund_into_an_expired_lot_expires_on_the_next_run(books: Books) -> None:
    scheme = books.scheme("leisure", funded_minor=10_000)
    payable = books.payable("pool")
    lot = issue(books, scheme, "r1", 1_000, expires_in=DAY)
    spent = spend(books, scheme, "r1", 300, payable)
    books.clock.advance(2 * DAY)
    assert expiry.expire_all(books.uow, books.clock).returned_minor_by_scheme == {scheme["id"]: 700}

    books.run(
        lambda uow: flows.reverse(
            uow, transaction_id=spent.transaction_id, now=books.clock.now(), actor="kiosk", key="refund"
        )
    )
    assert books.balance(str(lot.lot_account_id)) == 300, "the refund goes back where it came from"

    report = expiry.expire_all(books.uow, books.clock)

    assert report == expiry.ExpiryReport(1, {scheme["id"]: 300}, 0)
    assert books.balance(str(lot.lot_account_id)) == 0
    assert books.balance(scheme["budget_account_id"]) == 10_000
    assert books.balance(payable) == 0
    assert expiry.expire_all(books.uow, books.clock) == expiry.ExpiryReport(0, {}, 0)
    assert kinds(books).count("expire") == 2
    assert books_are_sound(books)


class EveryOtherCommitFails:
    """A unit-of-work factory whose odd-numbered commits fail as a deadlock or a busy database would."""

    def __init__(self, books: Books) -> None:
        self.books = books
        self.commits = 0
        self.refused = 0

    def __call__(self, **options: Any) -> Any:
        uow = self.books.uow(**options)
        commit = uow.commit

        def flaky_commit() -> None:
            self.commits += 1
            if self.commits % 2:
                self.refused += 1
                raise RetryableConflict("simulated deadlock")
            commit()

        uow.commit = flaky_commit  # type: ignore[method-assign]
        return uow


def test_the_expiry_job_reruns_a_unit_of_work_that_the_database_asked_to_retry(books: Books) -> None:
    scheme = books.scheme("leisure", funded_minor=10_000)
    payable = books.payable("pool")
    for owner in ("r1", "r2"):
        issue(books, scheme, owner, 100, expires_in=DAY)
    issue(books, scheme, "r3", 500)
    held = hold(books, scheme, "r3", 200, payable, timeout_seconds=3_600)
    books.clock.advance(2 * DAY)
    flaky = EveryOtherCommitFails(books)

    report = expiry.expire_all(flaky, books.clock)

    assert flaky.refused == 3, "each of the three units failed once"
    assert report == expiry.ExpiryReport(2, {scheme["id"]: 200}, 1)
    assert status(books, str(held.hold_id)) == "expired"
    assert books.wallet("r3", scheme) == 500
    assert books.balance(scheme["budget_account_id"]) == 10_000 - 500
    assert kinds(books).count("expire") == 2
    assert books_are_sound(books)


def test_a_timed_out_holds_funds_can_be_spent_in_full_the_instant_it_times_out_with_no_job(
    books: Books,
) -> None:
    scheme = books.scheme("leisure", funded_minor=10_000)
    payable = books.payable("pool")
    issue(books, scheme, "r1", 1_000)
    held = hold(books, scheme, "r1", 700, payable, timeout_seconds=1)
    books.clock.advance(dt.timedelta(seconds=2))
    with pytest.raises(Expired):
        resolve(books, str(held.hold_id), 700, "captured")

    spent = spend(books, scheme, "r1", 1_000, payable)

    assert spent.balance_after_minor == 0
    assert status(books, str(held.hold_id)) == "expired"
    assert books.balance(payable) == 1_000
    assert kinds(books).count("hold_expiry") == 1
    assert expiry.expire_all(books.uow, books.clock).holds_released == 0, "the sweep finds nothing to do"
    assert kinds(books).count("hold_expiry") == 1
    assert books_are_sound(books)


def test_a_hold_is_released_at_its_timeout_and_not_a_moment_before(books: Books) -> None:
    scheme = books.scheme("leisure", funded_minor=10_000)
    payable = books.payable("pool")
    issue(books, scheme, "r1", 1_000)
    held = hold(books, scheme, "r1", 700, payable, timeout_seconds=60)
    books.clock.advance(dt.timedelta(seconds=60) - dt.timedelta(microseconds=1))
    with pytest.raises(InsufficientFunds, match=r"needs £3\.01; £3\.00 available"):
        spend(books, scheme, "r1", 301, payable)
    assert status(books, str(held.hold_id)) == "pending"

    books.clock.advance(dt.timedelta(microseconds=1))
    spend(books, scheme, "r1", 301, payable)

    assert status(books, str(held.hold_id)) == "expired"
    assert books.wallet("r1", scheme) == 699
    assert books_are_sound(books)


def test_a_timed_out_hold_is_released_once_whether_the_sweep_or_a_spend_gets_there_first(
    books: Books,
) -> None:
    scheme = books.scheme("leisure", funded_minor=10_000)
    payable = books.payable("pool")
    for owner in ("r1", "r2"):
        issue(books, scheme, owner, 1_000)
    first = hold(books, scheme, "r1", 400, payable, timeout_seconds=1)
    second = hold(books, scheme, "r2", 400, payable, timeout_seconds=1)
    books.clock.advance(dt.timedelta(seconds=5))
    assert expiry.expire_all(books.uow, books.clock).holds_released == 2

    spend(books, scheme, "r1", 1_000, payable)
    hold(books, scheme, "r2", 1_000, payable)  # a new hold draws on the released funds too

    assert [status(books, str(h.hold_id)) for h in (first, second)] == ["expired", "expired"]
    assert kinds(books).count("hold_expiry") == 2
    assert expiry.expire_all(books.uow, books.clock).holds_released == 0
    assert books_are_sound(books)


def test_racing_spends_captures_and_sweeps_release_or_pay_each_timed_out_hold_exactly_once(
    books: Books,
) -> None:
    scheme = books.scheme("leisure", funded_minor=10_000)
    payable = books.payable("pool")
    issue(books, scheme, "r1", 1_000)
    held = hold(books, scheme, "r1", 700, payable, timeout_seconds=60)
    before = books.clock.now() + dt.timedelta(seconds=30)  # a capture still in time
    after = books.clock.now() + dt.timedelta(seconds=90)  # spends and sweeps after the timeout

    def act(index: int) -> Any:
        if index == 0:
            return books.run(
                lambda uow: holds.resolve_hold(
                    uow,
                    hold_id=str(held.hold_id),
                    capture_minor=700,
                    now=before,
                    actor="kiosk",
                    key="capture",
                    outcome="captured",
                )
            )
        if index % 2:
            return expiry.expire_all(books.uow, FixedClock(after))
        return books.run(
            lambda uow: flows.spend(
                uow,
                scheme=scheme,
                owner_id="r1",
                amount_minor=100,
                payable_account_id=payable,
                categories=None,
                now=after,
                actor="kiosk",
                key=f"spend-{index}",
            )
        )

    outcomes = race(8, act)

    captured = not isinstance(outcomes[0], Exception)
    assert captured or isinstance(outcomes[0], Expired), outcomes[0]
    resolutions = kinds(books).count("capture") + kinds(books).count("hold_expiry")
    assert resolutions == 1, "paid to the outlet or released to the card, never both, never twice"
    assert status(books, str(held.hold_id)) == ("captured" if captured else "expired")
    spends = [o for o in outcomes[2::2] if isinstance(o, Receipt)]
    assert all(isinstance(o, Receipt | InsufficientFunds) for o in outcomes[2::2]), outcomes
    assert books.balance(payable) == (700 if captured else 0) + 100 * len(spends)
    assert books.wallet("r1", scheme) == 1_000 - books.balance(payable)
    assert books_are_sound(books)
