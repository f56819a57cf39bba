"""Redemptions/s and p50/p99 latency through gunicorn over HTTP at 32 clients, vs the in-process ledger.

Usage: python bench/api_redeem.py [--quick] [--workers N] [--threads N] [--database-url postgresql://...]
Ends by printing one JSON line with `ratio_http_vs_inprocess`.

The 32 HTTP clients are keep-alive connections driven by one asyncio thread (bench/load.py says why).
"""

from __future__ import annotations

import argparse
import functools
import http.client
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import cpu_seconds, floor_client, install_floor, postgres_cpu_seconds
from bench.load import drive, http_drive
from clubcard.context import build_context
from clubcard.group_commit import redemption_group_commit
from ledger.settings import Settings
from ledger.units import AccountKind, Unit
from ledger.usecases import flows, redemptions
from ledger.usecases.api_keys import create_key
from ledger.usecases.cards import issue_card
from ledger.usecases.common import ensure_account, new_id
from ledger.usecases.redemption_batch import BatchedRedemption
from ledger.usecases.redemptions import SpendRequest
from ledger.usecases.schemes import create_scheme

PORT = 8791
CLIENTS = 32


def fresh_database(admin_url: str) -> str:
    """Create an empty database for this run; returns its URL."""
    name = f"clubcard_bench_api_{uuid.uuid4().hex[:8]}"
    engine = create_engine(
        admin_url.replace("postgresql://", "postgresql+psycopg://"), isolation_level="AUTOCOMMIT"
    )
    with engine.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return admin_url.rsplit("/", 1)[0] + "/" + name


def drop_database(admin_url: str, url: str) -> None:
    """Drop the database this run created."""
    engine = create_engine(
        admin_url.replace("postgresql://", "postgresql+psycopg://"), isolation_level="AUTOCOMMIT"
    )
    with engine.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)'))
    engine.dispose()


def seed(settings: Settings, wallets: int) -> dict[str, Any]:
    """A funded scheme, one outlet with a device key, and `wallets` residents with cards and £100 each."""
    context = build_context(settings, create_missing_keys=True)
    now = context.clock.now()
    scheme = context.write(
        lambda uow: create_scheme(
            uow,
            slug="bench",
            name="Bench",
            unit=Unit.GBP,
            rules={"spending": {"outlet_categories": ["leisure"]}},
            now=now,
            actor="bench",
        )
    )
    context.write(
        lambda uow: flows.fund(
            uow, scheme=scheme, amount_minor=wallets * 10_000, now=now, actor="bench", key="fund"
        )
    )
    outlet_id = new_id()
    context.write(
        lambda uow: uow.registry.add_outlet(
            id=outlet_id, name="Bench Pool", categories=["leisure"], schemes=["bench"], now=now
        )
    )
    device = context.write(
        lambda uow: create_key(uow, role="device", outlet_id=outlet_id, label="bench", now=now)
    )
    tokens: list[str] = []
    owners: list[str] = []
    for index in range(wallets):
        resident_id = new_id()

        def enrol(uow: Any, resident_id: str = resident_id, index: int = index) -> str:
            uow.people.add_resident(id=resident_id, kind="person", details=None, now=now)
            uow.people.add_membership(
                resident_id=resident_id,
                scheme_id=scheme["id"],
                collective_id=None,
                referral=None,
                actor="bench",
                now=now,
            )
            flows.issue(
                uow,
                scheme=scheme,
                owner_id=resident_id,
                amount_minor=10_000,
                now=now,
                actor="bench",
                key=f"issue-{index}",
            )
            return issue_card(uow, resident_id=resident_id, key=context.card_key, now=now).token

        tokens.append(context.write(enrol))
        owners.append(resident_id)
    payable = context.write(
        lambda uow: ensure_account(
            uow,
            name=f"outlet:{outlet_id}:payable:GBP",
            unit=Unit.GBP,
            kind=AccountKind.PAYABLE,
            floor_minor=None,
            now=now,
        )
    )
    return {
        "context": context,
        "scheme": scheme,
        "tokens": tokens,
        "owners": owners,
        "device": device.secret,
        "outlet_id": outlet_id,
        "payable": payable.id,
    }


def inprocess_redeemer(seeded: dict[str, Any], run: str) -> Callable[[int, int], None]:
    """The same spend through what POST /redemptions runs (redeem in this process's group commit), no HTTP."""
    context, tokens = seeded["context"], seeded["tokens"]
    group = redemption_group_commit(context.uow_factory, os.environ, context.engine.dialect.name)

    def redeem(client: int, n: int) -> None:
        request = SpendRequest(
            card_token=tokens[(client * 7919 + n) % len(tokens)],
            amount_minor=1,
            outlet_id=seeded["outlet_id"],
            scheme="bench",
        )
        now, key = context.clock.now(), f"{run}-{client}-{n}"
        group.run(
            lambda uow: redemptions.redeem(
                uow,
                request=request,
                keyring=context.keyring,
                now=now,
                zone=context.clock.zone,
                actor="device:bench",
                key=key,
            ),
            BatchedRedemption(request, context.keyring, now, context.clock.zone, "device:bench", key),
        )

    return redeem


def start_gunicorn(
    environment: dict[str, str], workers: int, threads: int = CLIENTS
) -> subprocess.Popen[bytes]:
    """gunicorn serving api.wsgi:app on 127.0.0.1, waiting until it answers."""
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "--workers",
            str(workers),
            "--threads",
            str(threads),  # by default a thread per client, so every waiting request can join the batch
            "--worker-class",
            "gthread",
            "--bind",
            f"127.0.0.1:{PORT}",
            "--log-level",
            "warning",
            "api.wsgi:app",
        ],
        env=environment,
        cwd=Path(__file__).resolve().parents[1],
        start_new_session=True,
    )
    for _ in range(100):
        try:
            connection = http.client.HTTPConnection("127.0.0.1", PORT, timeout=1)
            connection.request("GET", "/healthz")
            if connection.getresponse().status == 200:
                return process
        except OSError:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError("gunicorn did not start")


def redis_commands(environment: dict[str, str]) -> int | None:
    """How many commands the Redis of CLUBCARD_REDIS_URL has run so far (None without Redis); a script's
    own commands count too, so one card look-up draw (EVALSHA of INCRBY) counts two, in one round trip."""
    url = environment.get("CLUBCARD_REDIS_URL")
    if not url:
        return None
    import redis  # only with the service's redis extra, which a Redis URL needs anyway

    client = redis.Redis.from_url(url)
    try:
        return int(client.info("stats")["total_commands_processed"]) - 1  # less this INFO itself
    finally:
        client.close()


def books_checks(environment: dict[str, str]) -> dict[str, bool]:
    """`clubcard audit check`, then seal everything and `clubcard audit verify` (as bench/crash.py does)."""
    outcomes = {}
    for command in ("check", "seal", "verify"):
        run = subprocess.run(
            [sys.executable, "-m", "admin.cli", "audit", command],
            env=environment,
            cwd=Path(__file__).resolve().parents[1],
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        outcomes[command] = run.returncode == 0
    return {"books_balance": outcomes["check"], "verify_ok": outcomes["seal"] and outcomes["verify"]}


def measure(
    arguments: argparse.Namespace, url: str, seconds: float, wallets: int
) -> tuple[dict[str, float], dict[str, float], dict[str, float], dict[str, bool]]:
    """Seed, then HTTP through gunicorn and in-process through the same use case; then check and verify."""
    data_directory = tempfile.mkdtemp(prefix="clubcard-bench-")
    # One device stands in for many kiosks here, so lift its per-device card look-up limit (still enforced).
    environment = {
        **os.environ,
        "CLUBCARD_DATABASE_URL": url,
        "CLUBCARD_DATA_DIR": data_directory,
        "CLUBCARD_CARD_LOOKUP_LIMIT": "10000000 per minute",
    }
    settings = Settings.from_environment(environment)
    print(f"seeding {wallets} wallets on {url}", file=sys.stderr)
    seeded = seed(settings, wallets)
    server = start_gunicorn(environment, arguments.workers, arguments.threads)
    try:
        served = functools.partial(cpu_seconds, lambda _name, group: group == server.pid)
        served_before, postgres_before = served(), postgres_cpu_seconds()
        redis_before = redis_commands(environment)
        http_figures = http_drive(PORT, CLIENTS, seconds, seeded, "http")
        if redis_before is not None:  # the rate-limit counters' storage, when shared through Redis
            used = (redis_commands(environment) or 0) - redis_before
            http_figures["redis_commands"] = round(used / max(1, http_figures["count"]), 2)
        per_request_ms = 1000 / max(1, http_figures["count"])
        http_figures["server_cpu_ms"] = round((served() - served_before) * per_request_ms, 3)
        http_figures["postgresql_cpu_ms"] = round(
            (postgres_cpu_seconds() - postgres_before) * per_request_ms, 3
        )
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
    inprocess_figures = drive(CLIENTS, seconds, inprocess_redeemer(seeded, "inprocess"))
    floor_figures = drive(CLIENTS, seconds, floor_spender(seeded))
    seeded["context"].engine.dispose()
    return http_figures, inprocess_figures, floor_figures, books_checks(environment)


def floor_spender(seeded: dict[str, Any]) -> Callable[[int, int], None]:
    """The PL/pgSQL floor in the same database: one transfer per transaction, spread over 100 payables."""
    engine = seeded["context"].engine
    payables = [f"floor-payable-{number}" for number in range(100)]
    install_floor(engine, [f"floor-{owner}" for owner in seeded["owners"]], 10_000_000, payables)
    conninfo = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    clients: dict[int, Callable[[str, str], None]] = {}
    owners = seeded["owners"]

    def spend(client: int, n: int) -> None:
        transfer = clients.get(client) or clients.setdefault(client, floor_client(conninfo, 1))
        transfer(f"floor-{owners[(client * 7919 + n) % len(owners)]}", payables[(client + n) % len(payables)])

    return spend


def main() -> None:
    """Seed, measure HTTP and in-process redemptions at 32 clients, print one JSON line."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--database-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    # One worker by default: group commit gathers the writes of one process, and card look-up limits across
    # several workers need Redis (CLUBCARD_REDIS_URL).
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--threads", type=int, default=CLIENTS, help="gunicorn threads per worker")
    arguments = parser.parse_args()
    seconds = 5.0 if arguments.quick else 20.0
    wallets = 300 if arguments.quick else 2_000
    url = fresh_database(arguments.database_url)
    try:
        http_figures, inprocess_figures, floor_figures, books = measure(arguments, url, seconds, wallets)
    finally:
        drop_database(arguments.database_url, url)
    result = {
        "benchmark": "api_redeem",
        "clients": CLIENTS,
        "gunicorn_workers": arguments.workers,
        "gunicorn_threads": arguments.threads,
        "wallets": wallets,
        "seconds_per_phase": seconds,
        "http_redemptions_per_second": http_figures["per_second"],
        "http_p50_ms": http_figures["p50_ms"],
        "http_p99_ms": http_figures["p99_ms"],
        "http_server_cpu_ms_per_redemption": http_figures["server_cpu_ms"],
        "http_postgresql_cpu_ms_per_redemption": http_figures["postgresql_cpu_ms"],
        "redis_commands_per_redemption": http_figures.get("redis_commands"),
        "inprocess_redemptions_per_second": inprocess_figures["per_second"],
        "inprocess_p50_ms": inprocess_figures["p50_ms"],
        "inprocess_p99_ms": inprocess_figures["p99_ms"],
        "ratio_http_vs_inprocess": round(http_figures["per_second"] / inprocess_figures["per_second"], 3),
        "ratio_http_vs_inprocess_aim": 0.5,
        "floor_transfers_per_second": floor_figures["per_second"],
        "ratio_http_vs_floor": round(http_figures["per_second"] / floor_figures["per_second"], 3),
        "ratio_http_vs_floor_aim": 0.2,
        **books,
        "database": "postgresql",
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
