"""Settlement at a borough's size: make, approve and confirm a payment-file batch for 300 outlets, then
the next batch after history has grown tenfold, to show a batch reads only what came after its period end.

Runs on PostgreSQL (a database made and dropped for the run). Redemption history is appended in bulk
(budget → each outlet's payable); the settlement steps are the use cases the API and the staff pages call.
Figures: milliseconds per step and per batch, and the postings behind each batch; one JSON line last."""

from __future__ import annotations

import datetime as dt
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import Engine

from bench.common import Move, append_moves, arguments, emit, fresh_database, funded_scheme, log
from ledger.clock import SystemClock
from ledger.db.uow import unit_of_work_factory
from ledger.service import read_only, run_in_transaction
from ledger.units import AccountKind, Unit
from ledger.usecases.audit import check
from ledger.usecases.common import ensure_account, new_id
from ledger.usecases.settlements import create_settlement, preview_settlement
from ledger.usecases.settlements_files import payment_file
from ledger.usecases.settlements_payees import clean_payee, save_payee
from ledger.usecases.settlements_payout import approve_settlement, confirm_payment_file_paid

OUTLETS = 300
BATCH = 50_000


def outlets(engine: Engine, count: int) -> list[str]:
    """Outlets with bank details and a GBP payable account each; their payable account ids."""
    factory, now = unit_of_work_factory(engine), SystemClock().now()

    def make(uow: Any) -> list[str]:
        payables = []
        for n in range(count):
            outlet_id = new_id()
            uow.registry.add_outlet(
                id=outlet_id, name=f"Outlet {n:03d}", categories=["x"], schemes=[], now=now
            )
            payee = clean_payee(
                outlet_id, connected_account_id="", sort_code="309430", account_number=f"{n:08d}",
                account_name=f"OUTLET {n:03d}",
            )  # fmt: skip
            save_payee(uow, payee=payee, now=now, actor="bench")
            name = f"outlet:{outlet_id}:payable:GBP"
            payables.append(
                ensure_account(
                    uow, name=name, unit=Unit.GBP, kind=AccountKind.PAYABLE, floor_minor=None, now=now
                ).id
            )
        return payables

    return list(run_in_transaction(factory, make))


def redeem(engine: Engine, scheme: dict[str, Any], payables: list[str], count: int, at: dt.datetime) -> None:
    """Append `count` 1-penny redemptions spread over the outlets, recorded at `at`."""

    def move(n: int) -> Move:
        return Move(
            "redeem", f"bench:{at.isoformat()}:{n}", at, "bench", None,
            (scheme["budget_account_id"], 0), (payables[n % len(payables)], n % 64), "GBP", 1,
        )  # fmt: skip

    append_moves(engine, scheme, count, move, batch_size=BATCH)


def timed(step: Callable[[], Any]) -> tuple[Any, float]:
    """Run a step; its result and milliseconds."""
    started = time.perf_counter()
    result = step()
    return result, (time.perf_counter() - started) * 1000


def settle(engine: Engine, period_end: dt.datetime) -> dict[str, float]:
    """Preview, create (ann), approve (bob), write the payment file and confirm it paid; ms per step."""
    factory = unit_of_work_factory(engine)
    now = SystemClock().now()
    preview, preview_ms = timed(
        lambda: read_only(factory, lambda uow: preview_settlement(uow, period_end=period_end, now=now))
    )
    assert len(preview.lines) == OUTLETS
    batch, create_ms = timed(
        lambda: run_in_transaction(
            factory,
            lambda uow: create_settlement(
                uow,
                period_end=period_end,
                stripe_on=False,
                now=now,
                actor="finance:ann",
                idempotency_key=None,
            ),
        )
    )
    _, approve_ms = timed(
        lambda: run_in_transaction(
            factory,
            lambda uow: approve_settlement(
                uow, batch_id=batch.id, now=now, actor="finance:bob", idempotency_key=None
            ),
        )
    )
    text, file_ms = timed(lambda: read_only(factory, lambda uow: payment_file(uow, batch.id)))
    assert text.count("\n") == OUTLETS + 1
    _, paid_ms = timed(
        lambda: run_in_transaction(
            factory,
            lambda uow: confirm_payment_file_paid(
                uow, batch_id=batch.id, now=now, actor="finance:ann", idempotency_key=None
            ),
        )
    )
    steps = {
        "preview_ms": preview_ms,
        "create_ms": create_ms,
        "approve_ms": approve_ms,
        "payment_file_ms": file_ms,
    }
    steps["confirm_paid_ms"] = paid_ms
    return {name: round(value, 1) for name, value in steps.items()}


def main() -> None:
    """Two batches, the second after ten times the history; figures and one JSON line."""
    options = arguments(__doc__ or "")
    first_postings = 20_000 if options.quick else 100_000
    with fresh_database(options.database_url, "settlement", keep=options.keep) as engine:
        scheme = funded_scheme(engine, "leisure", 10**11)
        payables = outlets(engine, OUTLETS)
        now = SystemClock().now()
        redeem(engine, scheme, payables, first_postings, now - dt.timedelta(days=2))
        log(f"{first_postings:,} redemptions over {OUTLETS} outlets; first batch")
        first = settle(engine, now - dt.timedelta(days=1, hours=12))
        redeem(engine, scheme, payables, first_postings * 9, now - dt.timedelta(days=1))
        redeem(
            engine, scheme, payables, first_postings // 10, now - dt.timedelta(minutes=30)
        )  # after the end
        log(f"{first_postings * 10:,} redemptions in all; second batch")
        second = settle(engine, now - dt.timedelta(hours=1))
        report = read_only(unit_of_work_factory(engine), check)
        assert report.ok, report.problems
    for label, figures in (("first", first), ("second", second)):
        log(f"{label} batch: " + ", ".join(f"{name} {value} ms" for name, value in figures.items()))
    result: dict[str, Any] = {"bench": "settlement", "outlets": OUTLETS, "first": first, "second": second}
    emit(
        {
            **result,
            "postings_first": first_postings,
            "postings_second": first_postings * 10,
            "quick": options.quick,
        }
    )


if __name__ == "__main__":
    main()
