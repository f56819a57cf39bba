"""Balance reads stay flat as history grows: p50 of one wallet's balance at 10,000 vs 1,000,000 postings."""

from __future__ import annotations

import statistics
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
from ledger.usecases import flows
from ledger.usecases.audit import check

BATCH = 50_000
READS = 5_000


def grow(engine: Engine, scheme: dict[str, Any], lot: str, other: str, postings: int) -> None:
    """Give `lot` this many postings: 1-penny transfers to and from another wallet's lot, alternating."""
    clock = SystemClock()

    def move(n: int) -> Move:
        source, target = (lot, other) if n % 2 == 0 else (other, lot)
        now = clock.now()
        unit = scheme["unit"]
        return Move("transfer", f"grow:{lot}:{n}", now, "bench", None, (source, 0), (target, 0), unit, 1)

    def progress(done: int) -> None:
        if done % 200_000 == 0:
            log(f"{done} postings on {lot}")

    append_moves(engine, scheme, postings, move, batch_size=BATCH, progress=progress)


def p50_ms(engine: Engine, reads: dict[str, Callable[[Any], int]]) -> dict[str, float]:
    """Median milliseconds of each read, the reads alternating sample by sample in one open unit of work."""
    samples: dict[str, list[float]] = {name: [] for name in reads}
    with unit_of_work_factory(engine)(read_only=True) as uow:
        for _ in range(READS):
            for name, read in reads.items():
                started = time.perf_counter()
                read(uow)
                samples[name].append(time.perf_counter() - started)
    return {name: statistics.median(values) * 1000 for name, values in samples.items()}


def main() -> None:
    """Two wallets in one database, one with 100x the history of the other; compare median read latency."""
    args = arguments(__doc__ or "")
    small, big = (1_000, 100_000) if args.quick else (10_000, 1_000_000)
    figures: dict[str, Any] = {"bench": "balance_read", "quick": args.quick, "postings": [small, big]}
    with fresh_database(args.database_url, "balance", keep=args.keep) as engine:
        scheme = funded_scheme(engine, "reads", 10**9)
        factory = unit_of_work_factory(engine)
        lots: dict[str, str] = {}
        for owner in ("small", "big", "small-peer", "big-peer"):
            receipt = run_in_transaction(
                factory,
                lambda uow, owner=owner: flows.issue(  # type: ignore[misc]
                    uow, scheme=scheme, owner_id=owner, amount_minor=10_000, now=SystemClock().now(),
                    actor="bench", key=f"issue-{owner}",
                ),
            )  # fmt: skip
            lots[owner] = str(receipt.lot_account_id)
        grow(engine, scheme, lots["small"], lots["small-peer"], small - 1)  # the issue was posting one
        grow(engine, scheme, lots["big"], lots["big-peer"], big - 1)
        with engine.connect() as connection:
            connection.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql("VACUUM ANALYZE")
        for name, read in (
            ("balance", lambda owner: lambda uow: uow.accounts.balance(lots[owner])),
            ("owners_total", lambda owner: lambda uow: uow.lots.owners_total(owner, scheme["id"])),
        ):
            p50 = p50_ms(engine, {owner: read(owner) for owner in ("small", "big")})
            figures[f"p50_ms_{name}_small"], figures[f"p50_ms_{name}_big"] = (
                round(p50["small"], 4),
                round(p50["big"], 4),
            )
            figures[f"ratio_{name}"] = round(p50["big"] / p50["small"], 3)
        figures["audit_check_ok"] = read_only(factory, check).ok
    figures["ratio_p50_big_vs_small"] = max(figures["ratio_balance"], figures["ratio_owners_total"])
    emit(figures)


if __name__ == "__main__":
    main()
