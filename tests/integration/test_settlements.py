"""Settling outlets through the API, on SQLite and PostgreSQL: batches, the two-person rule, Stripe
Connect payouts against the fake Stripe (a crash and a re-run pay once), carried refunds and payment files."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import select

from clubcard import settlement_runs
from clubcard.stripe_transfers import transfer_gateway
from ledger.db.tables import transactions
from ledger.usecases import settlements
from ledger.usecases.settlements_files import payment_file
from ledger.usecases.stripe_events import EVENT_HANDLERS, StripeEvent
from tests.integration.settlement_support import (
    SETTLEMENTS,
    SettlementWorld,
    by_outlet,
    file_world,
    stripe_world,
)
from tests.support.api import assert_problem
from tests.support.fake_stripe import FakeStripe, fake_stripe
from tests.support.fake_stripe.transfers import transfers

__all__ = ["fake_stripe", "file_world", "stripe_world"]
HOUR = dt.timedelta(hours=1)


def _two_outlets(world: SettlementWorld) -> tuple[tuple[str, str], tuple[str, str]]:
    pool = world.outlet(["leisure-centre"], ["leisure"])
    library = world.outlet(["library"], ["leisure"])
    return pool, library


def _owed(world: SettlementWorld, amount_minor: int, **payee: str) -> tuple[str, str]:
    """A pool with these payout details that took `amount_minor` an hour ago: (outlet id, device key)."""
    (pool, pool_key), _ = _two_outlets(world)
    world.payee(pool, **payee)
    world.redeem(pool_key, amount_minor)
    world.clock.advance(HOUR)
    return pool, pool_key


def test_a_batch_takes_each_outlets_payable_up_to_the_period_end(file_world: SettlementWorld) -> None:
    world = file_world
    (pool, pool_key), (library, library_key) = _two_outlets(world)
    world.redeem(pool_key, 1250)
    world.redeem(library_key, 300)
    world.clock.advance(HOUR)
    period_end = world.clock.now()
    world.clock.advance(HOUR)
    world.redeem(pool_key, 999)  # after the period end: the next batch's
    world.clock.advance(HOUR)
    batch = world.settle(period_end)
    lines = by_outlet(batch)
    assert (lines[pool]["amount_minor"], lines[library]["amount_minor"]) == (1250, 300)
    assert batch["status"] == "awaiting_approval" and batch["mode"] == "payment_file"
    assert batch["total_to_pay_minor"] == 1550 and batch["period_start"] is None
    assert world.get(f"{SETTLEMENTS}/{batch['id']}", world.finance("ann")).get_json() == batch
    listed = world.get(SETTLEMENTS, world.staff("auditor")).get_json()
    assert [b["id"] for b in listed["data"]] == [batch["id"]]
    world.assert_books_right()


def test_the_creator_cannot_approve_their_own_batch(file_world: SettlementWorld) -> None:
    world = file_world
    (pool, pool_key), _ = _two_outlets(world)
    world.redeem(pool_key, 500)
    world.clock.advance(HOUR)
    batch = world.settle(world.clock.now(), who="ann")
    refused = world.post(f"{SETTLEMENTS}/{batch['id']}/approve", {}, world.finance("ann"))
    assert_problem(refused, 403, "two-person-rule")
    assert_problem(
        world.post(f"{SETTLEMENTS}/{batch['id']}/approve", {}, world.staff("admin")), 403, "forbidden"
    )
    assert world.payable(pool) == 500
    world.assert_books_right()


def test_connect_payout_makes_one_transfer_per_line_with_the_derived_key(
    stripe_world: SettlementWorld, fake_stripe: FakeStripe
) -> None:
    world = stripe_world
    (pool, pool_key), (library, library_key) = _two_outlets(world)
    world.payee(pool, connected_account_id="acct_pool1")
    world.redeem(pool_key, 1250)
    world.redeem(library_key, 300)  # the library has no connected account: held back, still owed
    world.clock.advance(HOUR)
    batch = world.approve(world.settle(world.clock.now())["id"])
    lines = by_outlet(batch)
    assert lines[library]["status"] == "held" and "connected account" in lines[library]["reason"]
    made = transfers(fake_stripe)
    assert [(t["amount"], t["destination"]) for t in made] == [(1250, "acct_pool1")]
    sent = fake_stripe.sent("POST", "/v1/transfers")
    assert [r.idempotency_key for r in sent] == [f"settlement-{batch['id']}-{pool}"]
    assert lines[pool]["status"] == "transferred" and lines[pool]["transfer_id"] == made[0]["id"]
    assert (world.payable(pool), world.payable(library), world.clearing()) == (0, 300, 1250)
    world.assert_books_right()


class CrashAfterTransfer:
    """The Stripe gateway, but the process dies right after Stripe made the transfer, before our commit."""

    def __init__(self, gateway: Any) -> None:
        self.gateway = gateway

    def create_transfer(self, **arguments: Any) -> Any:
        """Stripe applies the transfer; we never get to store its id."""
        self.gateway.create_transfer(**arguments)
        raise KeyboardInterrupt("the process died")

    def transfer(self, transfer_id: str) -> Any:
        """Never reached."""
        raise AssertionError(transfer_id)


def test_a_crash_between_the_transfer_and_our_commit_then_a_rerun_pays_once(
    stripe_world: SettlementWorld, fake_stripe: FakeStripe
) -> None:
    world = stripe_world
    pool, _ = _owed(world, 700, connected_account_id="acct_pool1")
    batch_id = world.settle(world.clock.now())["id"]
    real = transfer_gateway(world.context.settings)
    assert real is not None
    with pytest.raises(KeyboardInterrupt):
        settlement_runs.approve(
            world.context, batch_id, "finance:bob", None, gateway=CrashAfterTransfer(real)
        )
    assert by_outlet(world.get(f"{SETTLEMENTS}/{batch_id}", world.finance("ann")).get_json())[pool][
        "status"
    ] == ("in_clearing")
    counts = settlement_runs.reconcile_with_stripe(world.context)
    assert counts is not None and (counts.transferred, counts.confirmed) == (1, 1)
    made = transfers(fake_stripe)
    assert [t["amount"] for t in made] == [700]
    assert len(fake_stripe.sent("POST", "/v1/transfers")) == 2  # asked twice, paid once
    batch = world.get(f"{SETTLEMENTS}/{batch_id}", world.finance("ann")).get_json()
    assert batch["status"] == "paid" and by_outlet(batch)[pool]["transfer_id"] == made[0]["id"]
    assert (world.payable(pool), world.clearing()) == (0, 0)
    world.assert_books_right()


def test_a_refund_after_settlement_is_carried_to_the_next_batch_as_a_negative_line(
    file_world: SettlementWorld,
) -> None:
    world = file_world
    (pool, pool_key), _ = _two_outlets(world)
    world.payee(pool, sort_code="12-34-56", account_number="12345678", account_name="Riverside Leisure")
    first = world.redeem(pool_key, 800)
    world.clock.advance(HOUR)
    batch = world.approve(world.settle(world.clock.now())["id"])
    assert by_outlet(batch)[pool]["status"] == "in_clearing"
    world.clock.advance(HOUR)
    world.refund(pool_key, first)  # after the outlet was settled for it
    world.clock.advance(HOUR)
    second = world.settle(world.clock.now())
    line = by_outlet(second)[pool]
    assert (line["amount_minor"], line["status"]) == (-800, "carried") and "carried" in line["reason"]
    assert second["total_to_pay_minor"] == 0 and second["period_start"] == batch["period_end"]
    world.approve(second["id"])
    world.clock.advance(HOUR)
    world.redeem(pool_key, 1000)
    world.clock.advance(HOUR)
    third = world.settle(world.clock.now())
    assert by_outlet(third)[pool]["amount_minor"] == 200  # 1,000 less the 800 carried
    world.assert_books_right()


def test_without_stripe_a_batch_becomes_a_payment_file_and_is_paid_when_finance_confirms(
    file_world: SettlementWorld,
) -> None:
    world = file_world
    (pool, pool_key), (library, library_key) = _two_outlets(world)
    world.payee(pool, sort_code="12-34-56", account_number="12345678", account_name="Riverside Leisure")
    world.redeem(pool_key, 1250)
    world.redeem(library_key, 300)  # no bank details: held back
    world.clock.advance(HOUR)
    batch = world.approve(world.settle(world.clock.now())["id"])
    assert batch["status"] == "paying" and by_outlet(batch)[library]["status"] == "held"
    csv_text = world.context.read(lambda uow: payment_file(uow, batch["id"]))
    assert csv_text.splitlines() == [
        "sort_code,account_number,account_name,amount_pence,reference",
        "123456,12345678,RIVERSIDE LEISURE,1250,CLUBCARD SETTLE 1",
    ]
    assert world.clearing() == 1250
    assert_problem(
        world.post(f"{SETTLEMENTS}/{batch['id']}/paid", {}, world.staff("auditor")), 403, "forbidden"
    )
    paid = world.post(f"{SETTLEMENTS}/{batch['id']}/paid", {}, world.finance("ann"))
    assert paid.status_code == 200 and paid.get_json()["status"] == "paid"
    assert (world.clearing(), world.payable(pool), world.payable(library)) == (0, 0, 300)
    world.assert_books_right()


def test_webhooks_and_reconcile_move_clearing_to_the_bank_and_clearing_returns_to_zero(
    stripe_world: SettlementWorld, fake_stripe: FakeStripe
) -> None:
    world = stripe_world
    (pool, pool_key), (library, library_key) = _two_outlets(world)
    world.payee(pool, connected_account_id="acct_pool1")
    world.payee(library, connected_account_id="acct_library1")
    world.redeem(pool_key, 1250)
    world.redeem(library_key, 300)
    world.clock.advance(HOUR)
    batch = world.approve(world.settle(world.clock.now())["id"])
    assert world.clearing() == 1550
    pool_transfer = fake_stripe.objects[by_outlet(batch)[pool]["transfer_id"]]
    event = StripeEvent(id="evt_1", type="transfer.created", data_object=pool_transfer)
    handler = EVENT_HANDLERS[event.type]
    for _ in range(2):  # delivered twice (even past the event-id check), booked once
        world.run(lambda uow: handler(uow, event, world.clock.now()))
    assert world.clearing() == 300
    counts = settlement_runs.reconcile_with_stripe(world.context)
    assert counts is not None and counts.confirmed == 1
    done = world.get(f"{SETTLEMENTS}/{batch['id']}", world.finance("ann")).get_json()
    assert done["status"] == "paid" and {line["status"] for line in done["lines"]} == {"paid"}
    assert (world.clearing(), world.payable(pool), world.payable(library)) == (0, 0, 0)
    world.assert_books_right()


def test_a_connected_accounts_payout_books_its_transfers_to_the_bank_once(
    stripe_world: SettlementWorld, fake_stripe: FakeStripe
) -> None:
    world = stripe_world
    pool, _ = _owed(world, 700, connected_account_id="acct_pool1")
    batch = world.approve(world.settle(world.clock.now())["id"])
    assert world.clearing() == 700
    payout = {"id": "po_1", "object": "payout", "amount": 700, "currency": "gbp", "status": "paid"}
    event = StripeEvent(id="evt_3", type="payout.paid", data_object=payout, account="acct_pool1")
    for _ in range(2):
        world.run(lambda uow: EVENT_HANDLERS[event.type](uow, event, world.clock.now()))
    done = world.get(f"{SETTLEMENTS}/{batch['id']}", world.finance("ann")).get_json()
    assert by_outlet(done)[pool]["status"] == "paid"
    assert (world.clearing(), world.payable(pool)) == (0, 0)
    world.assert_books_right()


def test_a_reversed_transfer_makes_the_amount_owed_again_in_the_next_batch(
    stripe_world: SettlementWorld, fake_stripe: FakeStripe
) -> None:
    world = stripe_world
    pool, _ = _owed(world, 900, connected_account_id="acct_pool1")
    batch = world.approve(world.settle(world.clock.now())["id"])
    transfer = fake_stripe.objects[by_outlet(batch)[pool]["transfer_id"]]
    reversed_transfer = {**transfer, "reversed": True, "amount_reversed": 900}
    event = StripeEvent(id="evt_2", type="transfer.reversed", data_object=reversed_transfer)
    world.run(lambda uow: EVENT_HANDLERS[event.type](uow, event, world.clock.now()))
    done = world.get(f"{SETTLEMENTS}/{batch['id']}", world.finance("ann")).get_json()
    assert by_outlet(done)[pool]["status"] == "returned" and done["status"] == "paid"
    assert (world.payable(pool), world.clearing()) == (900, 0)
    world.clock.advance(HOUR)
    assert by_outlet(world.settle(world.clock.now()))[pool]["amount_minor"] == 900
    world.assert_books_right()


def test_a_batch_needs_a_key_a_past_period_end_and_the_previous_batch_approved(
    file_world: SettlementWorld,
) -> None:
    world = file_world
    (_, pool_key), _ = _two_outlets(world)
    world.redeem(pool_key, 500)
    world.clock.advance(HOUR)
    ann = world.finance("ann")
    before = world.books()
    later = (world.clock.now() + HOUR).isoformat()
    assert_problem(
        world.post(SETTLEMENTS, {"period_end": world.clock.now().isoformat()}, ann, key=None),
        400,
        "idempotency-key-required",
    )
    assert_problem(world.post(SETTLEMENTS, {"period_end": later}, ann), 422, "validation")
    assert_problem(world.post(SETTLEMENTS, {"period_end": "2026-11-04T10:00:00"}, ann), 422, "validation")
    assert_problem(world.post(SETTLEMENTS, {"period_end": 7}, ann), 422, "validation")
    assert_problem(world.post(SETTLEMENTS, {}, world.staff("auditor")), 403, "forbidden")
    assert_problem(world.get(f"{SETTLEMENTS}/nope", ann), 404, "not-found")
    assert world.books() == before and world.get(SETTLEMENTS, ann).get_json()["data"] == []
    first = world.settle(world.clock.now())
    assert_problem(
        world.post(SETTLEMENTS, {"period_end": world.clock.now().isoformat()}, ann), 409, "conflict"
    )
    world.approve(first["id"])
    assert_problem(world.post(SETTLEMENTS, {"period_end": first["period_end"]}, ann), 422, "validation")
    assert_problem(
        world.post(f"{SETTLEMENTS}/{first['id']}/approve", {}, world.finance("cy")), 409, "conflict"
    )
    assert world.books() == before  # its one line was held back (no bank details): nothing moved
    world.assert_books_right()


def test_approval_splits_a_large_batch_into_transactions_the_posting_limit_allows(
    file_world: SettlementWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    world = file_world
    monkeypatch.setattr(settlements, "MOVES_PER_TRANSACTION", 1)  # as 127 outlets per transaction would
    (pool, pool_key), (library, library_key) = _two_outlets(world)
    for outlet in (pool, library):
        world.payee(outlet, sort_code="309430", account_number="12345678", account_name="Outlet")
    world.redeem(pool_key, 400)
    world.redeem(library_key, 100)
    world.clock.advance(HOUR)
    world.approve(world.settle(world.clock.now())["id"])
    query = select(transactions.c.id).where(transactions.c.kind == "settle")
    assert len(world.context.read(lambda uow: list(uow.execute_now(query)))) == 2
    assert (world.clearing(), world.payable(pool), world.payable(library)) == (500, 0, 0)
    world.assert_books_right()


def test_a_transfer_stripe_refuses_stays_in_clearing_with_the_reason_until_reconciled(
    stripe_world: SettlementWorld, fake_stripe: FakeStripe
) -> None:
    world = stripe_world
    pool, _ = _owed(world, 600, connected_account_id="acct_closed")
    fake_stripe.transfer_accounts = {"acct_open"}  # type: ignore[attr-defined]
    line = by_outlet(world.approve(world.settle(world.clock.now())["id"]))[pool]
    assert line["status"] == "in_clearing" and "No such destination: 'acct_closed'" in line["reason"]
    assert "run clubcard settlements reconcile" in line["reason"] and transfers(fake_stripe) == []
    fake_stripe.transfer_accounts = {"acct_open", "acct_closed"}  # type: ignore[attr-defined]
    counts = settlement_runs.reconcile_with_stripe(world.context)
    assert counts is not None and (counts.transferred, counts.confirmed) == (1, 1)
    key = f"settlement-{line_batch(world)}-{pool}"
    assert [r.idempotency_key for r in fake_stripe.sent("POST", "/v1/transfers")] == [key, f"{key}-attempt-1"]
    assert (world.payable(pool), world.clearing()) == (0, 0)
    world.assert_books_right()


def line_batch(world: SettlementWorld) -> str:
    """The newest batch's id."""
    return str(world.get(SETTLEMENTS, world.finance("ann")).get_json()["data"][0]["id"])
