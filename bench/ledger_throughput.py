"""Redemptions/s through the use case the API runs (redeem, group commit), each durably committed before
it is acknowledged, vs a PL/pgSQL floor of one transfer per transaction, in the same run."""

from __future__ import annotations

import functools
import itertools
import os
import random
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import Engine

from bench.common import (
    arguments,
    emit,
    floor_client,
    fresh_database,
    funded_scheme,
    install_floor,
    log,
    postgres_cpu_seconds,
)
from clubcard.group_commit import redemption_group_commit
from ledger.cards.keys import CardKeyStore
from ledger.clock import SystemClock
from ledger.db.uow import unit_of_work_factory
from ledger.service import read_only, run_in_transaction
from ledger.spend_batch import GroupCommit
from ledger.units import AccountKind, Unit
from ledger.usecases import redemptions
from ledger.usecases.audit import check
from ledger.usecases.bulk import bulk_issue
from ledger.usecases.cards import issue_card
from ledger.usecases.common import ensure_account, new_id
from ledger.usecases.redemption_batch import BatchedRedemption
from ledger.usecases.redemptions import SpendRequest

WALLETS = 10_000
OUTLETS = 100
WALLET_MINOR = 10_000_000
SPEND_MINOR = 100
CLIENTS = (1, 8, 32)
CARD_CHUNK = 500
CARD_KEYS = CardKeyStore.open(
    Path(tempfile.mkdtemp(prefix="clubcard-bench-keys-")) / "card-ed25519.pem", create_missing=True
)


Spend = Callable[[int, str, str], None]  # (client, wallet owner, payable account) -> None, or raises
batches: list[GroupCommit] = []  # the group commits of the run, for their batch sizes


def measure(
    name: str, make_client: Callable[[int], Spend], payables: list[str], clients: int, seconds: float
) -> tuple[float, float, float]:
    """Spends per second over `seconds`, `clients` threads each spending in a loop (after a warm-up), and
    the CPU each spend cost this process (clients included) and PostgreSQL, in microseconds."""
    counts = [0] * clients
    errors = [0] * clients
    start = threading.Barrier(clients + 1)
    stop = threading.Event()
    counting = threading.Event()

    def client(number: int) -> None:
        """Spend in a loop until told to stop."""
        spend = make_client(number)
        chooser = random.Random(number)
        start.wait()
        while not stop.is_set():
            owner = f"resident-{chooser.randrange(WALLETS):05d}"
            try:
                spend(number, owner, chooser.choice(payables))
            except Exception as error:  # counted, not hidden: the JSON reports them
                errors[number] += 1
                if errors[number] == 1:
                    log(f"{name}: client {number}: {type(error).__name__}: {error}")
                continue
            if counting.is_set():
                counts[number] += 1

    threads = [threading.Thread(target=client, args=(n,), daemon=True) for n in range(clients)]
    for thread in threads:
        thread.start()
    start.wait()
    time.sleep(min(1.0, seconds / 4))  # warm-up: connections, caches, plans
    counting.set()
    began, python_began, postgres_began = time.perf_counter(), time.process_time(), postgres_cpu_seconds()
    time.sleep(seconds)
    done = sum(counts)
    elapsed = time.perf_counter() - began
    python_seconds = time.process_time() - python_began
    postgres_seconds = postgres_cpu_seconds() - postgres_began
    stop.set()
    for thread in threads:
        thread.join()
    tps = done / elapsed
    log(f"{name} clients={clients}: {tps:.0f} tps ({sum(errors)} errors)")
    per_spend = 1_000_000 / max(1, done)
    return tps, python_seconds * per_spend, postgres_seconds * per_spend


def setup(engine: Engine) -> tuple[dict[str, object], list[str]]:
    """10,000 funded wallets, 100 outlet payables, and the floor's own tables and function."""
    factory = unit_of_work_factory(engine)
    clock = SystemClock()
    scheme = funded_scheme(engine, "spend-bench", WALLETS * WALLET_MINOR)
    owners = (f"resident-{i:05d}" for i in range(WALLETS))
    bulk_issue(factory, clock, scheme, owners, WALLET_MINOR, None, None, "bench", "wallets")
    payables = [
        run_in_transaction(
            factory,
            lambda uow, n=n: ensure_account(  # type: ignore[misc]
                uow, name=f"outlet:{n}:payable:GBP", unit=Unit.GBP, kind=AccountKind.PAYABLE,
                floor_minor=None, now=clock.now(),
            ),
        ).id
        for n in range(OUTLETS)
    ]  # fmt: skip
    install_floor(engine, [f"resident-{i:05d}" for i in range(WALLETS)], WALLET_MINOR, payables)
    return scheme, payables


def seed_cards_and_outlets(engine: Engine, scheme: dict[str, Any]) -> tuple[dict[str, str], list[str]]:
    """A card for every wallet (owner -> token) and 100 outlets approved for the scheme (their ids)."""
    factory = unit_of_work_factory(engine)
    now = SystemClock().now()
    card_key = CARD_KEYS.keys().current
    owners = [f"resident-{i:05d}" for i in range(WALLETS)]
    tokens: dict[str, str] = {}

    def issue(uow: Any, chunk: list[str]) -> None:
        for owner in chunk:
            uow.people.add_resident(id=owner, kind="person", details=None, now=now)
            tokens[owner] = issue_card(uow, resident_id=owner, key=card_key, now=now).token

    for start in range(0, WALLETS, CARD_CHUNK):
        run_in_transaction(factory, functools.partial(issue, chunk=owners[start : start + CARD_CHUNK]))
    outlet_ids = [new_id() for _ in range(OUTLETS)]

    def register(uow: Any) -> None:
        for number, outlet_id in enumerate(outlet_ids):
            uow.registry.add_outlet(
                id=outlet_id,
                name=f"Outlet {number}",
                categories=["leisure"],
                schemes=[scheme["slug"]],
                now=now,
            )

    run_in_transaction(factory, register)
    return tokens, outlet_ids


def ours(engine: Engine, tokens: dict[str, str]) -> Callable[[int], Spend]:
    """A client that redeems through the use case POST /redemptions runs, gathered by the group commit."""
    factory = unit_of_work_factory(engine)
    clock = SystemClock()
    keyring = CARD_KEYS.keys().keyring
    group = redemption_group_commit(factory, os.environ, engine.dialect.name)
    batches.append(group)

    def make(number: int) -> Spend:
        """A spend function for one client."""
        run = uuid.uuid4().hex[:12]  # keys never repeat across scenarios
        keys = itertools.count()

        def spend(client: int, owner: str, outlet_id: str) -> None:
            """One redemption, durably committed (in its batch) before it returns."""
            key = f"{run}-{client}-{next(keys)}"
            request = SpendRequest(tokens[owner], SPEND_MINOR, outlet_id, scheme="spend-bench")
            now, actor = clock.now(), f"device:kiosk-{client}"
            group.run(
                lambda uow: redemptions.redeem(
                    uow, request=request, keyring=keyring, now=now, zone=clock.zone, actor=actor, key=key,
                ),
                BatchedRedemption(request, keyring, now, clock.zone, actor, key),
            )  # fmt: skip

        return spend

    return make


def floor(conninfo: str) -> Callable[[int], Spend]:
    """A client that calls the PL/pgSQL floor: one round trip and one durable commit per spend."""

    def make(number: int) -> Spend:
        """A spend function for one client."""
        transfer = floor_client(conninfo, SPEND_MINOR)
        return lambda client, owner, payable: transfer(owner, payable)

    return make


def _ratio(numerator: float, denominator: float) -> float | None:
    """numerator / denominator to 3 places; None when nothing was measured below the line."""
    return round(numerator / denominator, 3) if denominator else None


def main() -> None:
    """Measure ours and the floor at 1, 8 and 32 clients, spread over 100 outlets and all at one."""
    args = arguments(__doc__ or "")
    seconds = 2.0 if args.quick else 10.0
    figures: dict[str, object] = {"bench": "ledger_throughput", "quick": args.quick, "clients": "threads"}
    with fresh_database(args.database_url, "tps", keep=args.keep) as engine:
        scheme, payables = setup(engine)
        tokens, outlet_ids = seed_cards_and_outlets(engine, scheme)
        conninfo = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        for label, make, places in (
            ("ours", ours(engine, tokens), outlet_ids),
            ("floor", floor(conninfo), payables),
        ):
            for scenario, targets in (("spread", places), ("one_outlet", places[:1])):
                for clients in CLIENTS:
                    name = f"tps_{label}_{scenario}_{clients}"
                    rate, python_us, postgres_us = measure(name, make, targets, clients, seconds)
                    figures[name] = round(rate, 1)
                    if scenario == "spread" and clients == CLIENTS[-1]:  # where the work per spend shows
                        figures[f"cpu_us_per_spend_{label}_python"] = round(python_us)
                        figures[f"cpu_us_per_spend_{label}_postgresql"] = round(postgres_us)
        books = read_only(unit_of_work_factory(engine), check)
        figures["audit_check_ok"] = books.ok
    tps = {name: value for name, value in figures.items() if isinstance(value, float)}
    figures["ratio_vs_floor_32_clients"] = _ratio(tps["tps_ours_spread_32"], tps["tps_floor_spread_32"])
    figures["ratio_one_outlet_vs_spread"] = _ratio(tps["tps_ours_one_outlet_32"], tps["tps_ours_spread_32"])
    emit(figures)


if __name__ == "__main__":
    main()
