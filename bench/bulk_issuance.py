"""Bulk issuance through the real job (queued, claimed and run by the job runner): postings/s against a
raw COPY of the same rows in the same run, and peak memory at two borough sizes (it should stay flat).

The baselines, each timed in the same run after the job, on one connection, as one transaction:
- ratio_to_raw_copy (the headline, "the same rows"): every row the job wrote, in every table it wrote
  (bench/bulk_baselines.JOB_ROWS: lot accounts, balance rows, lots, issue transactions, postings,
  idempotency answers), COPYed in binary (as the job writes) from a spool file (read back from the server
  before the clock starts, so the client does nothing but send bytes) into a scratch schema of the tables:
  same columns, indexes, checks, the ledger's foreign keys (to each other, and to the real schemes and
  jobs) and triggers, logged as the ledger's are.
- ratio_to_copy_without_keys: the same rows into the same tables without the foreign keys and triggers.
- ratio_to_journal_temp_copy and ratio_to_journal_logged_copy (the two baselines of earlier runs, named
  ratio_to_raw_copy and ratio_to_logged_copy then): only the headers and postings, written row by row
  from Python tuples into LIKE ... INCLUDING ALL tables, TEMP (no WAL) or logged.
Not in any baseline: the job's per-chunk UPDATEs of the budget's balance and of the job row (one each per
5,000 members) and its reads (who is a member, who was paid, who has a wallet). The job may use two
connections at once (a chunk is written while the one before commits); each baseline is one COPY stream.
job_client_cpu_seconds is the CPU this process spent during the job: the rest of its time is the server's.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import Engine, text

from bench.bulk_baselines import copy_job_rows, journal_only_copy
from bench.common import DEFAULT_ADMIN_URL, emit, fresh_database, funded_scheme, log
from clubcard.jobs import JobRunner
from ledger.clock import SystemClock
from ledger.db.uow import unit_of_work_factory
from ledger.service import read_only, run_in_transaction
from ledger.usecases.audit import check
from ledger.usecases.bulk_allowance import start_bulk_issuance
from ledger.usecases.issuances import IssueRequest
from ledger.usecases.jobs import job_progress

AMOUNT_MINOR = 2_500


def main() -> None:
    """Run one child process per size (so each peak is its own), then print the figures as JSON."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="10,000 and 100,000 wallets")
    parser.add_argument("--database-url", default=DEFAULT_ADMIN_URL)
    parser.add_argument("--wallets", type=int, help="(internal) run one size in this process")
    args = parser.parse_args()
    if args.wallets:
        emit(run_one(args.database_url, args.wallets))
        return
    sizes = (10_000, 100_000) if args.quick else (100_000, 1_000_000)
    runs = [_child(args.database_url, wallets) for wallets in sizes]
    small, large = runs
    emit(
        {
            "bench": "bulk_issuance",
            "quick": args.quick,
            "runs": runs,
            "postings_per_s": large["postings_per_s"],
            "raw_copy_postings_per_s": large["raw_copy_postings_per_s"],
            "ratio_to_raw_copy": large["ratio_to_raw_copy"],
            "ratio_to_copy_without_keys": large["ratio_to_copy_without_keys"],
            "ratio_to_journal_temp_copy": large["ratio_to_journal_temp_copy"],
            "ratio_to_journal_logged_copy": large["ratio_to_journal_logged_copy"],
            "peak_rss_mib": {str(run["wallets"]): run["peak_rss_mib"] for run in runs},
            "peak_rss_growth_ratio": round(
                large["job_rss_growth_mib"] / max(small["job_rss_growth_mib"], 1.0), 2
            ),
            "audit_check_ok": all(run["audit_check_ok"] for run in runs),
        }
    )


def _child(database_url: str, wallets: int) -> dict[str, Any]:
    """One size in a fresh process: its peak memory is its own."""
    command = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--database-url",
        database_url,
        "--wallets",
        str(wallets),
    ]
    output = subprocess.run(command, check=True, stdout=subprocess.PIPE, text=True).stdout
    result: dict[str, Any] = json.loads(output.strip().splitlines()[-1])
    return result


def run_one(database_url: str, wallets: int) -> dict[str, Any]:
    """Seed `wallets` members, run the bulk job through the runner, then COPY the same rows raw."""
    with fresh_database(database_url, "bulk") as engine:
        scheme = funded_scheme(engine, "leisure-bench", wallets * AMOUNT_MINOR)
        factory, clock = unit_of_work_factory(engine), SystemClock()
        _seed_members(engine, scheme["id"], wallets)
        rss_before, cpu_before = _max_rss_mib(), _cpu_seconds()
        started = time.perf_counter()
        request = IssueRequest(scheme=scheme["slug"], amount_minor=AMOUNT_MINOR)
        job = run_in_transaction(
            factory,
            lambda uow: start_bulk_issuance(
                uow, request=request, now=clock.now(), zone=clock.zone, actor="bench", key="job-1"
            ),
        )
        runner = JobRunner(factory, clock)
        claimed = runner.claim(job.job_id)
        assert claimed is not None
        assert runner.run(claimed) == "succeeded"
        seconds = time.perf_counter() - started
        rss_after, client_cpu_seconds = _max_rss_mib(), _cpu_seconds() - cpu_before
        progress = read_only(factory, lambda uow: job_progress(uow, job.job_id))
        assert progress.paid == wallets, progress
        temp_seconds = journal_only_copy(engine, wallets, logged=False)
        logged_seconds = journal_only_copy(engine, wallets, logged=True)
        plain = copy_job_rows(engine, wallets, foreign_keys=False)
        keyed = copy_job_rows(engine, wallets, foreign_keys=True)
        books = read_only(factory, check)
        assert books.ok, books
    postings = 2 * wallets
    log(
        f"{wallets:,} wallets: job {seconds:.1f} s; COPY of every row it wrote {keyed['total']:.1f} s "
        f"with the ledger's foreign keys, {plain['total']:.1f} s without; of its headers and postings only "
        f"{temp_seconds:.1f} s (TEMP tables), {logged_seconds:.1f} s (logged tables)"
    )
    return {
        "wallets": wallets,
        "postings": postings,
        "seconds": round(seconds, 3),
        "postings_per_s": round(postings / seconds),
        "job_client_cpu_seconds": round(client_cpu_seconds, 3),
        "raw_copy_seconds": round(keyed["total"], 3),
        "raw_copy_postings_per_s": round(postings / keyed["total"]),
        "ratio_to_raw_copy": round(keyed["total"] / seconds, 3),
        "raw_copy_table_seconds": _rounded(keyed),
        "copy_without_keys_seconds": round(plain["total"], 3),
        "ratio_to_copy_without_keys": round(plain["total"] / seconds, 3),
        "copy_without_keys_table_seconds": _rounded(plain),
        "journal_temp_copy_seconds": round(temp_seconds, 3),
        "ratio_to_journal_temp_copy": round(temp_seconds / seconds, 3),
        "journal_logged_copy_seconds": round(logged_seconds, 3),
        "ratio_to_journal_logged_copy": round(logged_seconds / seconds, 3),
        "peak_rss_mib": rss_after,
        "job_rss_growth_mib": round(rss_after - rss_before, 1),
        "audit_check_ok": books.ok,
    }


def _rounded(seconds: dict[str, float]) -> dict[str, float]:
    return {table: round(value, 3) for table, value in seconds.items()}


def _seed_members(engine: Engine, scheme_id: str, wallets: int) -> None:
    """Enrol `wallets` residents (with details) in set-based statements on the server, then ANALYZE.

    Generated by the server, so the bench's own memory stays what the job used; analysed, as a live
    database's tables are (autovacuum), so the job is planned as it would be in production.
    """
    numbers = "generate_series(0, :count - 1) AS n"
    resident = "'resident-' || lpad(n::text, 9, '0')"
    with engine.begin() as connection:
        arguments = {"count": wallets, "scheme": scheme_id, "now": SystemClock().now()}
        connection.execute(
            text(
                "INSERT INTO residents (id, kind, created_at) "
                f"SELECT {resident}, 'person', :now FROM {numbers}"
            ),
            arguments,
        )
        connection.execute(
            text(
                "INSERT INTO personal_details (resident_id, name, date_of_birth, postcode, ward, contact, "
                f"name_lookup_hash) SELECT {resident}, 'Bench', '2010-01-01', 'BN1 1AA', 'Riverside', NULL, "
                f"md5(n::text) FROM {numbers}"
            ),
            arguments,
        )
        connection.execute(
            text(
                "INSERT INTO memberships (resident_id, scheme_id, collective_id, referral, enrolled_at, "
                f"enrolled_by) SELECT {resident}, :scheme, NULL, NULL, :now, 'bench' FROM {numbers}"
            ),
            arguments,
        )
    with engine.connect() as connection:
        connection.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql("VACUUM ANALYZE")
    log(f"{wallets:,} members enrolled")


def _cpu_seconds() -> float:
    """CPU time this process (the job's client side: our Python, SQLAlchemy, psycopg) has used so far."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _max_rss_mib() -> float:
    """This process's peak resident set size so far (Linux reports KiB)."""
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


if __name__ == "__main__":
    main()
