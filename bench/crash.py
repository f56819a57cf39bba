"""kill -9 under load: gunicorn on PostgreSQL loses no acknowledged redemption and applies none twice.

32 kiosk clients redeem 1p each through gunicorn (two workers, counters in a Redis of its own) under
fresh Idempotency-Keys. Three times mid-load the master and every worker are killed with SIGKILL and
gunicorn is started again. Afterwards every request whose answer was lost (no answer, a 5xx, a 409
while its first attempt was cut off) is sent again under its own key, as a kiosk does, until answered.
The run creates its own database on the server and drops it at the end.

Usage: python bench/crash.py [--quick] [--database-url postgresql://postgres@127.0.0.1:5432/postgres]
Ends by printing one JSON line: acknowledged, lost_acknowledged (must be 0), duplicates (must be 0),
books_balance (must be true), verify_ok (must be true), and what was seen along the way.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import http.client
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.api_redeem import drop_database, fresh_database, seed
from bench.db_restart import Load, free_port
from ledger.settings import Settings

CLIENTS = 32
WORKERS = 2
CRASHES = 3
SETTLE_ATTEMPTS = 20  # a replay answered 409 (first attempt still held) or 503 is tried again this often
ROOT = Path(__file__).resolve().parents[1]


@contextlib.contextmanager
def redis_server() -> Iterator[str]:
    """A throwaway Redis (no persistence) on a free local port, for the workers' shared counters."""
    port = free_port()
    process = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
    )
    try:
        time.sleep(0.5)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        process.terminate()
        process.wait(timeout=10)


def start_gunicorn(environment: dict[str, str], port: int) -> subprocess.Popen[bytes]:
    """gunicorn (master and WORKERS workers, in a process group of their own), once it answers."""
    process = subprocess.Popen(
        [
            *(sys.executable, "-m", "gunicorn", "--workers", str(WORKERS), "--threads", "16"),
            *("--worker-class", "gthread", "--bind", f"127.0.0.1:{port}", "--log-level", "critical"),
            *("--no-control-socket", "api.wsgi:app"),
        ],
        env=environment,
        cwd=ROOT,
        start_new_session=True,
    )
    for _ in range(300):
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            connection.request("GET", "/healthz")
            if connection.getresponse().status == 200:
                return process
        except OSError:
            time.sleep(0.1)
    os.killpg(process.pid, signal.SIGKILL)
    raise RuntimeError("gunicorn did not start")


def kill_everything(server: subprocess.Popen[bytes]) -> int:
    """SIGKILL the master and all its workers at once (their process group); how many died."""
    group = subprocess.run(["pgrep", "-g", str(server.pid)], capture_output=True, text=True, check=False)
    killed = len(group.stdout.split())
    os.killpg(server.pid, signal.SIGKILL)
    server.wait(timeout=30)
    return killed


def crash_under_load(
    load: Load, environment: dict[str, str], server: subprocess.Popen[bytes], load_seconds: float
) -> tuple[subprocess.Popen[bytes], list[int]]:
    """Keep the clients going while gunicorn is killed and restarted CRASHES times."""
    threads = [threading.Thread(target=load.client, args=(n,)) for n in range(CLIENTS)]
    for thread in threads:
        thread.start()
    killed: list[int] = []
    try:
        for crash in range(CRASHES):
            time.sleep(load_seconds)
            print(f"kill -9 of gunicorn, crash {crash + 1} of {CRASHES}", file=sys.stderr)
            killed.append(kill_everything(server))
            server = start_gunicorn(environment, load.port)
        time.sleep(load_seconds)
    finally:
        load.stop.set()
        for thread in threads:
            thread.join(60)
    return server, killed


def settle(load: Load) -> list[dict[str, Any]]:
    """Send every unanswered request again under its own key until it gets a final answer."""
    final: list[dict[str, Any]] = []
    for answer in load.answers:
        if answer["status"] == 201:
            continue
        for attempt in range(SETTLE_ATTEMPTS):
            replay = load.redeem(answer["key"], answer["token"])
            if replay["status"] not in (409, 503) and str(replay["status"]).isdigit():
                break
            time.sleep(min(0.1 * 2**attempt, 2.0))
        final.append(replay)
    return final


def committed_redemptions(load: Load) -> tuple[int, int]:
    """(redemption transactions in the books, idempotency keys among them used more than once)."""
    from sqlalchemy import text

    with load.seeded["context"].engine.connect() as connection:
        committed = connection.execute(
            text("SELECT count(*) FROM transactions WHERE kind = 'redeem'")
        ).scalar_one()
        reused = connection.execute(
            text(
                "SELECT count(*) FROM (SELECT idempotency_key FROM transactions WHERE kind = 'redeem' "
                "GROUP BY idempotency_key HAVING count(*) > 1) AS reused"
            )
        ).scalar_one()
    return int(committed), int(reused)


def verdict(load: Load, replays: list[dict[str, Any]]) -> dict[str, Any]:
    """Whether every acknowledged spend is in the books exactly once."""
    context = load.seeded["context"]
    statuses = collections.Counter(str(answer["status"]) for answer in load.answers)
    answered = [answer for answer in [*load.answers, *replays] if answer["status"] == 201]
    ids_by_key: dict[str, set[str]] = collections.defaultdict(set)
    for answer in answered:
        ids_by_key[answer["key"]].add(answer["transaction_id"])
    acknowledged = {tid for ids in ids_by_key.values() for tid in ids}
    missing = [
        tid for tid in sorted(acknowledged) if context.read(lambda uow, t=tid: uow.journal.get(t)) is None
    ]
    committed, reused_keys = committed_redemptions(load)
    return {
        "bench": "crash",
        "statuses": dict(sorted(statuses.items())),
        "acknowledged": len(ids_by_key),
        "lost_acknowledged": len(missing),
        # A key answered with two transaction ids, a key committed twice, or more spends than keys.
        "duplicates": sum(len(ids) - 1 for ids in ids_by_key.values())
        + reused_keys
        + max(0, committed - len(ids_by_key)),
        "committed_redemptions": committed,
        "replayed": len(replays),
        "replays_unanswered": sum(1 for answer in replays if answer["status"] != 201),
    }


def clubcard(environment: dict[str, str], *arguments: str) -> subprocess.CompletedProcess[str]:
    """Run a clubcard command on the bench database."""
    return subprocess.run(
        [sys.executable, "-m", "admin.cli", *arguments],
        env=environment,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def books_checks(environment: dict[str, str]) -> dict[str, Any]:
    """`clubcard audit check`, then seal everything and `clubcard audit verify`."""
    checked = clubcard(environment, "audit", "check")
    sealed = clubcard(environment, "audit", "seal")
    verified = clubcard(environment, "audit", "verify")
    figures: dict[str, Any] = {
        "books_balance": checked.returncode == 0,
        "verify_ok": sealed.returncode == 0 and verified.returncode == 0,
    }
    for name, run in (("check", checked), ("seal", sealed), ("verify", verified)):
        if run.returncode != 0:
            figures[f"{name}_said"] = (run.stderr or run.stdout).strip()[-300:]
    return figures


def main() -> None:
    """Seed, serve, kill -9 three times under load, settle, check the books, print one JSON line."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--quick", action="store_true", help="1 s of load between crashes, not 4 s")
    arguments = parser.parse_args()
    load_seconds = 1.0 if arguments.quick else 4.0
    wallets = 64 if arguments.quick else 200
    url = fresh_database(arguments.database_url)
    try:
        with redis_server() as redis_url:
            environment = {
                **os.environ,
                "CLUBCARD_DATABASE_URL": url,
                "CLUBCARD_DATA_DIR": tempfile.mkdtemp(prefix="clubcard-bench-crash-"),
                "CLUBCARD_REDIS_URL": redis_url,
                # One device stands in for many kiosks, so lift its card look-up limit (still enforced).
                "CLUBCARD_CARD_LOOKUP_LIMIT": "10000000 per minute",
            }
            seeded = seed(Settings.from_environment(environment), wallets)
            port = free_port()
            load = Load(port, seeded)
            server = start_gunicorn(environment, port)
            try:
                server, killed = crash_under_load(load, environment, server, load_seconds)
                replays = settle(load)
            finally:
                os.killpg(server.pid, signal.SIGTERM)
                server.wait(timeout=30)
            result = verdict(load, replays)
            result["processes_killed"] = killed
            seeded["context"].engine.dispose()
            result.update(books_checks(environment))
    finally:
        drop_database(arguments.database_url, url)
    sys.stdout.write(json.dumps(result, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
