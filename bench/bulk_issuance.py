"""Bulk issuance throughput: credit 100,000 wallets from a scheme budget in one job; postings/s, memory."""

from __future__ import annotations

import datetime as dt
import resource
import sys
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import arguments, emit, fresh_database, funded_scheme, log
from ledger.clock import SystemClock
from ledger.db.uow import unit_of_work_factory
from ledger.service import read_only
from ledger.usecases.audit import check
from ledger.usecases.bulk import BulkReport, bulk_issue

AMOUNT_MINOR = 2_500


def main() -> None:
    """Run one bulk job on a fresh database, then rerun it (every wallet skipped) and check the books."""
    args = arguments(__doc__ or "")
    wallets = 10_000 if args.quick else 100_000
    with fresh_database(args.database_url, "bulk", keep=args.keep) as engine:
        scheme = funded_scheme(engine, "leisure-bench", wallets * AMOUNT_MINOR)
        factory = unit_of_work_factory(engine)
        clock = SystemClock()
        expires_at = clock.now() + dt.timedelta(days=90)
        rss_before = _max_rss_mib()

        def job() -> BulkReport:
            """The bulk issuance under test."""
            owners = (f"resident-{i:07d}" for i in range(wallets))  # a stream: never a list in memory
            return bulk_issue(
                factory, clock, scheme["slug"], owners, AMOUNT_MINOR, expires_at, "leisure", "bench", "job-1",
                progress=lambda done: log(f"{done} wallets") if done % 20_000 == 0 else None,
            )  # fmt: skip

        started = time.perf_counter()
        report = job()
        seconds = time.perf_counter() - started
        rss_after = _max_rss_mib()
        started = time.perf_counter()
        rerun = job()
        rerun_seconds = time.perf_counter() - started
        books = read_only(factory, check)
        assert report.issued == wallets and rerun.skipped_already_done == wallets and books.ok, books
    emit(
        {
            "bench": "bulk_issuance",
            "quick": args.quick,
            "wallets": wallets,
            "transactions": report.issued,
            "postings": 2 * report.issued,
            "seconds": round(seconds, 3),
            "postings_per_s": round(2 * report.issued / seconds),
            "wallets_per_s": round(report.issued / seconds),
            "rerun_seconds_all_skipped": round(rerun_seconds, 3),
            "peak_rss_mib_before_job": rss_before,
            "peak_rss_mib_after_job": rss_after,
            "audit_check_ok": books.ok,
        }
    )


def _max_rss_mib() -> float:
    """This process's peak resident set size so far (Linux reports KiB)."""
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


if __name__ == "__main__":
    main()
