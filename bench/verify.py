"""Audit verify at scale: a full verify of 1,000,000 sealed transactions, then one since a trusted head.

After the full verify the latest signed head is kept (as an auditor keeps `clubcard audit head`),
10,000 more transactions are issued and sealed, and `verify --since-trusted-head` is timed: it reads only
what was sealed after that head and proves the log consistent with it (RFC 9162).
Usage: python bench/verify.py [--quick] (100,000 for the full verify). Ends with one JSON line.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from sqlalchemy import Engine

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import arguments, emit, fresh_database, funded_scheme, log
from ledger.clock import SystemClock
from ledger.db.uow import unit_of_work_factory
from ledger.service import read_only, run_in_transaction
from ledger.signing import generate_signing_key
from ledger.usecases import checkpoints
from ledger.usecases.bulk import bulk_issue
from ledger.usecases.trusted_heads import published_head, verify_since

AMOUNT_MINOR = 100
NEW_TRANSACTIONS = 10_000  # sealed after the trusted head, for the incremental verify


def main() -> None:
    """Bulk-issue N wallets (one transaction each), seal, time a full verify, then an incremental one."""
    args = arguments(__doc__ or "")
    wallets = 100_000 if args.quick else 1_000_000
    figures: dict[str, object] = {"bench": "verify", "quick": args.quick}
    with fresh_database(args.database_url, "verify", keep=args.keep) as engine:
        scheme = funded_scheme(engine, "verify-bench", (wallets + NEW_TRANSACTIONS) * AMOUNT_MINOR)
        factory = unit_of_work_factory(engine)
        clock = SystemClock()
        started = time.perf_counter()
        owners = (f"resident-{i:07d}" for i in range(wallets))
        bulk_issue(factory, clock, scheme, owners, AMOUNT_MINOR, None, "leisure", "bench", "verify-job")
        figures["create_seconds"] = round(time.perf_counter() - started, 1)
        key = generate_signing_key()
        started = time.perf_counter()
        heads = 0
        while run_in_transaction(factory, lambda uow: checkpoints.seal(uow, key, clock.now())) is not None:
            heads += 1
        figures["seal_seconds"] = round(time.perf_counter() - started, 1)
        with engine.connect() as connection:
            connection.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql("VACUUM ANALYZE")
        log(f"{wallets} issued and sealed under {heads} checkpoints; verifying")
        started = time.perf_counter()
        report = read_only(factory, lambda uow: checkpoints.verify(uow, {key.key_id}))
        verify_seconds = time.perf_counter() - started
        assert report.ok, report.problem
        # The floor in the same run (the machine is shared): a verify must at least read every row once.
        raw_read_seconds = _raw_read_seconds(engine)
        figures["verify_seconds"] = round(verify_seconds, 2)
        figures["transactions_checked"] = report.transactions_checked
        figures["checkpoints_checked"] = report.checkpoints_checked
        figures["transactions_per_s"] = round(report.transactions_checked / verify_seconds)
        figures["raw_read_seconds"] = round(raw_read_seconds, 2)
        figures["verify_to_raw_read_ratio"] = round(verify_seconds / raw_read_seconds, 2)
        head = read_only(factory, lambda uow: published_head(uow, key))
        assert head is not None
        owners = (f"newcomer-{i:07d}" for i in range(NEW_TRANSACTIONS))
        bulk_issue(factory, clock, scheme, owners, AMOUNT_MINOR, None, "leisure", "bench", "verify-job-2")
        while run_in_transaction(factory, lambda uow: checkpoints.seal(uow, key, clock.now())) is not None:
            pass
        log(f"{NEW_TRANSACTIONS} more issued and sealed; verifying since the trusted head")
        started = time.perf_counter()
        since = read_only(factory, lambda uow: verify_since(uow, {key.key_id}, head))
        figures["incremental_verify_seconds"] = round(time.perf_counter() - started, 3)
        assert since.ok and since.trusted_head_size == head.tree_size, since.problem
        figures["incremental_transactions_checked"] = since.transactions_checked
    emit(figures)


def _raw_read_seconds(engine: Engine) -> float:
    """Seconds to COPY every transaction and posting out to this process, touching nothing else."""
    raw = engine.raw_connection()
    started = time.perf_counter()
    try:
        with raw.cursor() as cursor:  # type: ignore[attr-defined]
            for table in ("transactions", "postings"):
                with cursor.copy(f"COPY {table} TO STDOUT") as copy:
                    for _ in copy:
                        pass
    finally:
        raw.close()
    return time.perf_counter() - started


if __name__ == "__main__":
    main()
