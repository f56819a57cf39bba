"""The kiosk's speed at the counter: decoded token → entitlements on screen, "redeem" → receipt on screen,
p50/p99 through the kiosk's own HTTP app against gunicorn on PostgreSQL; and offline sync throughput.

Usage: python bench/kiosk_scan.py [--quick] [--database-url postgresql://postgres@127.0.0.1:5432/postgres]
Creates and drops its own database; ends with one JSON line. With CLUBCARD_REDIS_URL set (shared
rate-limit counters) the API runs two gunicorn workers, as in production; otherwise one, as `clubcard
serve` ships. Aims: scan p50 ≤ 150 ms, redeem p50 ≤ 250 ms, sync ≥ 100 queued redemptions per second.
"""

from __future__ import annotations

import http.client
import logging
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import arguments, emit, fresh_database, log
from clubcard.context import build_context
from kiosk.runtime import build_kiosk, serve_kiosk
from kiosk.screens import ReceiptView
from kiosk.spending import Spend, spend
from kiosk.sync import Syncer
from ledger.settings import Settings
from ledger.units import Unit
from ledger.usecases import flows
from ledger.usecases.api_keys import create_key
from ledger.usecases.cards import issue_card
from ledger.usecases.common import new_id
from ledger.usecases.schemes import create_scheme

API_PORT = 8793
KIOSK_PORT = 8794
AIMS = {"scan_p50_ms": 150.0, "redeem_p50_ms": 250.0, "sync_per_second": 100.0}
RULES = {"spending": {"outlet_categories": ["leisure-centre"], "offline_floor_limit_minor": 100_000}}


def seed(settings: Settings, cards: int) -> dict[str, Any]:
    """A funded scheme accepted at one pool with a device key, and `cards` residents with £100 each."""
    context = build_context(settings, create_missing_keys=True)
    now = context.clock.now()
    scheme = context.write(
        lambda uow: create_scheme(
            uow, slug="bench", name="Bench vouchers", unit=Unit.GBP, rules=RULES, now=now, actor="bench"
        )
    )
    context.write(
        lambda uow: flows.fund(
            uow, scheme=scheme, amount_minor=cards * 10_000, now=now, actor="bench", key="fund"
        )
    )
    outlet_id = new_id()
    context.write(
        lambda uow: uow.registry.add_outlet(
            id=outlet_id, name="Bench Pool", categories=["leisure-centre"], schemes=["bench"], now=now
        )
    )
    device = context.write(
        lambda uow: create_key(uow, role="device", outlet_id=outlet_id, label="kiosk", now=now)
    )
    tokens = []
    for index in range(cards):

        def enrol(uow: Any, index: int = index) -> tuple[str, str]:
            resident_id = new_id()
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
                key=f"i-{index}",
            )
            card = issue_card(uow, resident_id=resident_id, key=context.card_key, now=now)
            return card.number, card.token

        tokens.append(context.write(enrol))
    return {"context": context, "device": device.secret, "cards": tokens}


def start_gunicorn(environment: dict[str, str], workers: int) -> subprocess.Popen[bytes]:
    """The API under gunicorn (eight threads per worker), waiting until it answers."""
    command = [sys.executable, "-m", "gunicorn", "--workers", str(workers), "--threads", "8"]
    command += ["--worker-class", "gthread"]
    process = subprocess.Popen(
        [*command, "--bind", f"127.0.0.1:{API_PORT}", "--log-level", "warning", "api.wsgi:app"],
        env=environment,
        cwd=Path(__file__).resolve().parents[1],
        start_new_session=True,
    )
    for _ in range(300):
        try:
            connection = http.client.HTTPConnection("127.0.0.1", API_PORT, timeout=1)
            connection.request("GET", "/healthz")
            if connection.getresponse().status == 200:
                return process
        except OSError:
            time.sleep(0.2)
    os.killpg(process.pid, signal.SIGTERM)
    raise RuntimeError("gunicorn did not start")


def percentiles(samples: list[float]) -> dict[str, float]:
    """p50 and p99 in milliseconds."""
    ordered = sorted(samples)
    return {
        "p50_ms": round(statistics.median(ordered) * 1000, 1),
        "p99_ms": round(ordered[max(0, int(len(ordered) * 0.99) - 1)] * 1000, 1),
    }


def post(connection: http.client.HTTPConnection, path: str, fields: dict[str, str]) -> tuple[int, str, str]:
    """A form POST as the browser sends it; (status, Location, body)."""
    body = urlencode(fields)
    connection.request("POST", path, body=body, headers={"Content-Type": "application/x-www-form-urlencoded"})
    response = connection.getresponse()
    return response.status, response.getheader("Location") or "", response.read().decode()


def measure_counter(cards: list[tuple[str, str]], rounds: int) -> tuple[list[float], list[float]]:
    """Scan then redeem, `rounds` times, through the kiosk's HTTP app: seconds per scan and per redeem."""
    connection = http.client.HTTPConnection("127.0.0.1", KIOSK_PORT, timeout=30)
    scans, redeems = [], []
    for index in range(rounds):
        number, token = cards[index % len(cards)]
        started = time.perf_counter()
        status, _, page = post(connection, "/scan", {"card_token": token})
        scans.append(time.perf_counter() - started)
        assert status == 200 and "What this card can spend here" in page, page[:300]
        key = re.search(r'name="key" value="([^"]+)"', page)
        assert key is not None
        fields = {"key": key.group(1), "card_token": token, "card_number": number, "scheme": "bench"}
        started = time.perf_counter()
        status, location, _ = post(
            connection, "/spend", {**fields, "unit": "GBP", "amount": "0.01", "action": "redeem"}
        )
        connection.request("GET", location)
        response = connection.getresponse()
        receipt = response.read().decode()
        redeems.append(time.perf_counter() - started)
        assert status == 303 and "Accepted" in receipt, receipt[:300]
    return scans, redeems


def measure_sync(kiosk: Any, cards: list[tuple[str, str]], queued: int) -> tuple[float, int]:
    """Queue `queued` offline redemptions, then time one sync pass: (seconds, synced)."""
    counter = kiosk.counter
    counter.online = False  # as after a network cut: spends are checked and queued by the kiosk alone
    for index in range(queued):
        number, token = cards[index % len(cards)]
        accepted = spend(counter, Spend(counter.new_key(), token, number, "bench", "GBP", 1))
        assert isinstance(accepted, ReceiptView), accepted
    started = time.perf_counter()
    report = Syncer(counter).run_once()  # as the kiosk syncs: its default concurrency
    return time.perf_counter() - started, report.synced


def offline_transactions(context: Any) -> int:
    """Offline redemptions in the ledger (each must be there exactly once)."""

    def count(uow: Any) -> int:
        return sum(1 for record in uow.journal.stream() if record.metadata.get("offline"))

    return int(context.read(count))


def main() -> None:
    """Seed, start gunicorn and a kiosk, measure, print one JSON line."""
    options = arguments(__doc__ or "")
    redis_url = os.environ.get("CLUBCARD_REDIS_URL", "")
    # Several workers need their card look-up counters shared in Redis; without it, one worker as shipped.
    workers = 2 if redis_url else 1
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no access line per request on stderr
    cards_count, rounds, queued = (40, 100, 300) if options.quick else (200, 500, 2000)
    with fresh_database(options.database_url, "kiosk", keep=options.keep) as engine:
        url = engine.url.render_as_string(hide_password=False)
        data_directory = Path(tempfile.mkdtemp(prefix="clubcard-bench-kiosk-"))
        environment = {
            **os.environ,
            "CLUBCARD_DATABASE_URL": url,
            "CLUBCARD_DATA_DIR": str(data_directory / "api"),
            # One kiosk scanning for a whole benchmark: lift its per-device look-up limit (still enforced).
            "CLUBCARD_CARD_LOOKUP_LIMIT": "10000000 per minute",
        }
        log(f"seeding {cards_count} cards")
        seeded = seed(Settings.from_environment(environment), cards_count)
        api = start_gunicorn(environment, workers)
        kiosk = build_kiosk(f"http://127.0.0.1:{API_PORT}", seeded["device"], data_directory / "kiosk")
        server = serve_kiosk(kiosk, KIOSK_PORT)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        try:
            assert kiosk.counter.refresh_caches(), "the kiosk could not reach the API"
            measure_counter(seeded["cards"], 10)  # warm up connections and caches
            log(f"{rounds} scans and redemptions through the kiosk")
            scans, redeems = measure_counter(seeded["cards"], rounds)
            log(f"{queued} offline redemptions queued, then synced")
            sync_seconds, synced = measure_sync(kiosk, seeded["cards"], queued)
            in_ledger = offline_transactions(seeded["context"])
        finally:
            server.shutdown()
            kiosk.close()
            os.killpg(api.pid, signal.SIGTERM)
            try:
                api.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(api.pid, signal.SIGKILL)
                api.wait(timeout=30)
            seeded["context"].engine.dispose()
    scan, redeem = percentiles(scans), percentiles(redeems)
    figures = {
        "benchmark": "kiosk_scan",
        "quick": options.quick,
        "rounds": rounds,
        "gunicorn_workers": workers,
        "scan_p50_ms": scan["p50_ms"],
        "scan_p99_ms": scan["p99_ms"],
        "redeem_p50_ms": redeem["p50_ms"],
        "redeem_p99_ms": redeem["p99_ms"],
        "sync_queued": queued,
        "sync_synced": synced,
        "sync_in_ledger_exactly_once": in_ledger == queued == synced,
        "sync_per_second": round(synced / sync_seconds, 1),
    }
    figures["meets_aims"] = (
        figures["scan_p50_ms"] <= AIMS["scan_p50_ms"]
        and figures["redeem_p50_ms"] <= AIMS["redeem_p50_ms"]
        and figures["sync_per_second"] >= AIMS["sync_per_second"]
    )
    emit(figures)


if __name__ == "__main__":
    main()
