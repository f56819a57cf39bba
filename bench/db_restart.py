"""A real PostgreSQL restart under load: 503 while it is away, no other 5xx, nothing acknowledged lost.

Kiosk clients keep redeeming through gunicorn while `pg_ctlcluster VERSION main restart -m fast` restarts
the server. It restarts the WHOLE server, for everyone using it, for a few seconds: not a test, run it by
hand, as root (or postgres) on the database host.

Usage: python bench/db_restart.py [--database-url postgresql://postgres@127.0.0.1:5432/postgres]
                                  [--cluster 15/main] [--seconds-after 8] [--quick]
Ends by printing one JSON line: the statuses seen, other_5xx (must be 0), lost_acknowledged (must be 0),
recovered (must be true), the audit check's verdict and the longest request.
"""

from __future__ import annotations

import argparse
import collections
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.api_redeem import drop_database, fresh_database, seed
from ledger.settings import Settings

CLIENTS = 8
WALLETS = 40
WORKERS = 1  # several workers need Redis for a shared card look-up limit; threads carry the load here
WARM_UP_SECONDS = 2.0
REQUEST_TIMEOUT_SECONDS = 30
ROOT = Path(__file__).resolve().parents[1]


class Load:
    """Client threads redeeming 1p each under fresh Idempotency-Keys, remembering every answer."""

    def __init__(self, port: int, seeded: dict[str, Any]) -> None:
        self.port = port
        self.seeded = seeded
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.answers: list[dict[str, Any]] = []

    def redeem(self, key: str, token: str) -> dict[str, Any]:
        """One redemption; its status, Retry-After, transaction id and how long it took."""
        started = time.monotonic()
        body = json.dumps({"card_token": token, "amount_minor": 1, "scheme": "bench"})
        headers = {
            "Authorization": f"Bearer {self.seeded['device']}",
            "Idempotency-Key": key,
            "Content-Type": "application/json",
        }
        answer: dict[str, Any] = {"key": key, "token": token, "at": started}
        try:
            connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=REQUEST_TIMEOUT_SECONDS)
            connection.request("POST", "/api/v1/redemptions", body=body, headers=headers)
            response = connection.getresponse()
            payload = response.read()
            answer["status"] = response.status
            answer["retry_after"] = response.getheader("Retry-After")
            answer["content_type"] = response.getheader("Content-Type")
            if response.status == 201:
                answer["transaction_id"] = json.loads(payload)["transaction_id"]
            elif answer["content_type"] == "application/problem+json":
                answer["problem"] = json.loads(payload)["type"].rsplit("/", 1)[-1]
            connection.close()
        except (OSError, http.client.HTTPException) as error:  # a worker killed mid-answer: IncompleteRead
            answer["status"] = f"no answer: {type(error).__name__}"
        answer["seconds"] = time.monotonic() - started
        return answer

    def client(self, number: int) -> None:
        """Redeem until told to stop."""
        tokens = self.seeded["tokens"]
        count = 0
        while not self.stop.is_set():
            answer = self.redeem(f"restart-{number}-{count}", tokens[(number * 7919 + count) % len(tokens)])
            with self.lock:
                self.answers.append(answer)
            count += 1
            if answer["status"] != 201:
                time.sleep(0.1)  # a kiosk waits a moment before its next customer's spend

    def successes_after(self, instant: float) -> int:
        """How many redemptions sent after `instant` were acknowledged."""
        with self.lock:
            return sum(1 for answer in self.answers if answer["at"] > instant and answer["status"] == 201)


def free_port() -> int:
    """A port nothing listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_gunicorn(environment: dict[str, str], port: int) -> subprocess.Popen[bytes]:
    """gunicorn serving the API on 127.0.0.1 (no control socket), once it answers."""
    process = subprocess.Popen(
        [
            *(sys.executable, "-m", "gunicorn", "--workers", str(WORKERS), "--threads", "16"),
            *("--worker-class", "gthread", "--bind", f"127.0.0.1:{port}", "--log-level", "warning"),
            *("--no-control-socket", "api.wsgi:app"),
        ],
        env=environment,
        cwd=ROOT,
        start_new_session=True,
    )
    for _ in range(150):
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            connection.request("GET", "/healthz")
            if connection.getresponse().status == 200:
                return process
        except OSError:
            time.sleep(0.2)
    os.killpg(process.pid, signal.SIGTERM)
    raise RuntimeError("gunicorn did not start")


def default_cluster() -> str:
    """VERSION/main for the one PostgreSQL installed here (ls /etc/postgresql)."""
    versions = sorted(path.name for path in Path("/etc/postgresql").iterdir() if path.is_dir())
    return f"{versions[-1]}/main"


def restart_postgresql(cluster: str) -> float:
    """pg_ctlcluster VERSION NAME restart -m fast; how long it took."""
    version, name = cluster.split("/")
    started = time.monotonic()
    subprocess.run(["pg_ctlcluster", version, name, "restart", "-m", "fast"], check=True, timeout=120)
    return time.monotonic() - started


def run_load_across_restart(load: Load, cluster: str, seconds_after: float) -> tuple[float, float]:
    """Load before, during and after the restart; (restart seconds, when the restart finished)."""
    threads = [threading.Thread(target=load.client, args=(n,)) for n in range(CLIENTS)]
    for thread in threads:
        thread.start()
    try:
        time.sleep(WARM_UP_SECONDS)
        print(f"restarting PostgreSQL {cluster} under load", file=sys.stderr)
        restart_seconds = restart_postgresql(cluster)
        restarted_at = time.monotonic()
        deadline = restarted_at + max(seconds_after, REQUEST_TIMEOUT_SECONDS)
        while time.monotonic() < deadline:
            if time.monotonic() > restarted_at + seconds_after and load.successes_after(restarted_at) > 0:
                break
            time.sleep(0.2)
    finally:
        load.stop.set()
        for thread in threads:
            thread.join(REQUEST_TIMEOUT_SECONDS + 5)
    return restart_seconds, restarted_at


def settle(load: Load) -> list[dict[str, Any]]:
    """Repeat every request that got no acknowledgement, under its own key, as a kiosk would."""
    return [load.redeem(answer["key"], answer["token"]) for answer in load.answers if answer["status"] != 201]


def verdict(load: Load, replays: list[dict[str, Any]], restarted_at: float) -> dict[str, Any]:
    """What was seen and whether anything acknowledged is missing from the books."""
    context = load.seeded["context"]
    statuses = collections.Counter(str(answer["status"]) for answer in load.answers)
    acknowledged = {a["transaction_id"] for a in [*load.answers, *replays] if a["status"] == 201}
    missing = [
        tid for tid in sorted(acknowledged) if context.read(lambda uow, t=tid: uow.journal.get(t)) is None
    ]
    payable_minor = abs(context.read(lambda uow: uow.accounts.balance(load.seeded["payable"])))
    unavailable = [answer for answer in load.answers if answer["status"] == 503]
    return {
        "benchmark": "db_restart",
        "statuses": dict(sorted(statuses.items())),
        "other_5xx": sum(n for status, n in statuses.items() if status.startswith("5") and status != "503"),
        "no_answer": sum(n for status, n in statuses.items() if not status.isdigit()),
        "unavailable_with_retry_after": sum(
            1 for answer in unavailable if answer.get("problem") == "unavailable" and answer["retry_after"]
        ),
        "lost_acknowledged": len(missing),
        # Every committed spend was acknowledged, at the latest when its key was repeated.
        "committed_but_never_acknowledged_minor": payable_minor - len(acknowledged),
        "replayed": len(replays),
        "replays_acknowledged": sum(1 for answer in replays if answer["status"] == 201),
        "recovered": load.successes_after(restarted_at) > 0,
        "max_request_seconds": round(max(answer["seconds"] for answer in load.answers), 2),
    }


def audit_check(environment: dict[str, str]) -> str:
    """`clubcard audit check` on the same database: "ok" or its complaint."""
    checked = subprocess.run(
        [sys.executable, "-m", "admin.cli", "audit", "check"],
        env=environment,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    return "ok" if checked.returncode == 0 else (checked.stderr or checked.stdout).strip()[:300]


def main() -> None:
    """Seed, serve, restart PostgreSQL under load, settle, check the books, print one JSON line."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument(
        "--cluster", default=None, help="VERSION/NAME for pg_ctlcluster (default: the one here)"
    )
    parser.add_argument("--seconds-after", type=float, default=8.0, help="load kept up after the restart")
    parser.add_argument("--quick", action="store_true", help="keep the load up for 3 s after the restart")
    arguments = parser.parse_args()
    seconds_after = 3.0 if arguments.quick else arguments.seconds_after
    cluster = arguments.cluster or default_cluster()
    url = fresh_database(arguments.database_url)
    environment = {
        **os.environ,
        "CLUBCARD_DATABASE_URL": url,
        "CLUBCARD_DATA_DIR": tempfile.mkdtemp(prefix="clubcard-bench-restart-"),
        # One device stands in for many kiosks here, so lift its card look-up limit (still enforced).
        "CLUBCARD_CARD_LOOKUP_LIMIT": "10000000 per minute",
    }
    seeded = seed(Settings.from_environment(environment), WALLETS)
    port = free_port()
    server = start_gunicorn(environment, port)
    try:
        load = Load(port, seeded)
        restart_seconds, restarted_at = run_load_across_restart(load, cluster, seconds_after)
        replays = settle(load)
        result = verdict(load, replays, restarted_at)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
    result["restart_seconds"] = round(restart_seconds, 2)
    result["audit_check"] = audit_check(environment)
    seeded["context"].engine.dispose()
    drop_database(arguments.database_url, url)
    sys.stdout.write(json.dumps(result, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
