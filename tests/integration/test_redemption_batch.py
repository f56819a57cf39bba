"""Set-based redemption batches decide and write exactly what one transaction per redemption would."""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import itertools
import shutil
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select, text
from sqlalchemy.engine import make_url

from ledger.cards.keys import CardKeyStore
from ledger.clock import FixedClock
from ledger.db.engine import make_engine
from ledger.db.spend_repository import savepoint
from ledger.db.tables import balances, idempotency_keys, postings, spend_counters, transactions
from ledger.db.uow import unit_of_work_factory
from ledger.errors import LedgerError
from ledger.service import read_only, run_in_transaction
from ledger.spend_batch import GroupCommit
from ledger.units import Unit
from ledger.usecases import flows
from ledger.usecases.audit import check
from ledger.usecases.cards import issue_card
from ledger.usecases.redemption_batch import RUN_ALONE, BatchedRedemption, redeem_batch
from ledger.usecases.redemptions import SpendRequest, payable_account, redeem
from ledger.usecases.schemes import create_scheme
from tests.integration.conftest import START
from tests.integration.test_group_commit import BatchRun

ACTOR = "device:kiosk"
RULES = {
    "spending": {
        "outlet_categories": ["leisure"],
        "per_transaction_limit_minor": 500,
        "per_day_limit_minor": 900,
    }
}
OWNERS = ("ann", "bob", "cat", "dan")  # dan's card is blocked


@dataclasses.dataclass
class Ledger:
    """One database of the pair: the same scheme, outlets, residents and cards as its twin."""

    url: str
    tokens: list[str]
    keys: CardKeyStore

    def __post_init__(self) -> None:
        self.engine = make_engine(self.url)
        self.uow = unit_of_work_factory(self.engine)
        self.clock = FixedClock(START)

    def run(self, operation: Callable[[Any], Any]) -> Any:
        """One use case in its own transaction."""
        return run_in_transaction(self.uow, operation)

    def dump(self) -> dict[str, list[tuple[Any, ...]]]:
        """Everything a spend writes, but the seal key (PostgreSQL's transaction id), row order and which
        shard of a payable account took a credit (a batch credits one shard per account)."""
        header = [c for c in transactions.c if c.name != "seal_key"]
        tables = {
            "transactions": select(*header),
            "postings": select(postings),
            "balances": select(balances.c.account_id, func.sum(balances.c.balance_minor)).group_by(
                balances.c.account_id
            ),
            "counters": select(spend_counters),
            "answers": select(idempotency_keys),
        }
        with self.engine.connect() as connection:
            return {name: sorted(map(tuple, connection.execute(query))) for name, query in tables.items()}


def _build(url: str, keys: CardKeyStore) -> tuple[list[str], str]:
    """The scheme, a leisure hall and a food shop, four residents with cards (dan's blocked)."""
    ledger = Ledger(url, [], keys)
    now = ledger.clock.now()
    scheme = ledger.run(
        lambda uow: create_scheme(
            uow, slug="leisure", name="Leisure", unit=Unit.GBP, rules=RULES, now=now, actor="test"
        )
    )
    ledger.run(
        lambda uow: flows.fund(uow, scheme=scheme, amount_minor=10**9, now=now, actor="test", key="fund")
    )

    def register(uow: Any) -> list[str]:
        uow.registry.add_outlet(id="hall", name="Hall", categories=["leisure"], schemes=["leisure"], now=now)
        uow.registry.add_outlet(id="shop", name="Shop", categories=["food"], schemes=["leisure"], now=now)
        payable_account(uow, "hall", "GBP", now)
        tokens = []
        for owner in OWNERS:
            uow.people.add_resident(id=owner, kind="person", details=None, now=now)
            card = issue_card(uow, resident_id=owner, key=keys.keys().current, now=now)
            tokens.append(card.token)
        uow.people.block_card(card.number, now)
        return tokens

    tokens: list[str] = ledger.run(register)
    ledger.engine.dispose()
    return tokens, str(scheme["id"])


@pytest.fixture
def keys(tmp_path: Path) -> CardKeyStore:
    """The card key of the test's cards."""
    return CardKeyStore.open(tmp_path / "card-ed25519.pem", create_missing=True)


@pytest.fixture
def ledger(database_url: str, keys: CardKeyStore) -> Iterator[Ledger]:
    """One fresh database with the scheme, outlets, residents and cards."""
    tokens, _ = _build(database_url, keys)
    built = Ledger(database_url, tokens, keys)
    yield built
    built.engine.dispose()


@pytest.fixture
def twins(
    database_url: str, keys: CardKeyStore, request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[tuple[Ledger, Ledger]]:
    """Two identical fresh databases (the second copied from the first), ids and card tokens alike."""
    tokens, _ = _build(database_url, keys)
    if database_url.startswith("sqlite"):
        twin_url = f"sqlite:///{tmp_path / 'twin.sqlite3'}"
        shutil.copyfile(make_url(database_url).database or "", tmp_path / "twin.sqlite3")
        admin = None
    else:
        admin = request.getfixturevalue("postgres_databases").admin
        original = make_url(database_url).database
        twin_url = (
            make_url(database_url).set(database=f"{original}_twin").render_as_string(hide_password=False)
        )
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{original}_twin" TEMPLATE "{original}"'))
    pair = Ledger(database_url, tokens, keys), Ledger(twin_url, tokens, keys)
    yield pair
    for ledger in pair:
        ledger.engine.dispose()
    if admin is not None:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{make_url(twin_url).database}" WITH (FORCE)'))


@dataclasses.dataclass(frozen=True)
class Spend:
    """One redemption of a generated sequence: whose card, how much, where, under which key."""

    owner: int
    amount_minor: int
    outlet: str
    key: str


@st.composite
def batches(draw: st.DrawFn) -> list[tuple[int, list[Spend]]]:
    """Batches of spends, each after some minutes; some keys reused from earlier batches (replays or
    mismatches), some spends too big, over a limit, at the wrong outlet or on a blocked card."""
    result: list[tuple[int, list[Spend]]] = []
    used: list[str] = []
    for number in range(draw(st.integers(1, 4))):
        batch: list[Spend] = []
        for position in range(draw(st.integers(1, 6))):
            key = f"k{number}-{position}"
            reusable = [earlier for earlier in used if earlier not in {spend.key for spend in batch}]
            if draw(st.booleans()) and reusable:  # never twice in one batch: that one runs alone, later
                key = draw(st.sampled_from(reusable))
            spend = Spend(
                owner=draw(st.sampled_from([0, 0, 1, 1, 2, 3])),
                amount_minor=draw(st.sampled_from([1, 50, 120, 300, 450, 501, 800])),
                outlet=draw(st.sampled_from(["hall", "hall", "hall", "shop"])),
                key=key,
            )
            batch.append(spend)
        used.extend(spend.key for spend in batch)
        result.append((draw(st.sampled_from([0, 30, 200])), batch))
    return result


class Ids:
    """Deterministic transaction and lot ids, so both databases of the pair get the same ones."""

    def __init__(self, prefix: str) -> None:
        self.counter = itertools.count()
        self.prefix = prefix

    def __call__(self) -> str:
        return f"{self.prefix}-{next(self.counter):06d}"


def _answer(run: Callable[[], Any]) -> Any:
    try:
        return run()
    except LedgerError as refusal:
        return (type(refusal).__name__, refusal.detail, refusal.extra)


def _top_up(ledger: Ledger, example: str) -> None:
    """Each example starts two days on, each wallet with a lot expiring in three hours and a main lot."""
    ledger.clock.advance(dt.timedelta(days=2))
    now = ledger.clock.now()
    scheme = ledger.run(lambda uow: uow.schemes.get(slug="leisure"))
    for owner in OWNERS[:3]:
        for amount, expires_at in ((700, now + dt.timedelta(hours=3)), (300, None)):
            ledger.run(
                functools.partial(
                    flows.issue, scheme=scheme, owner_id=owner, amount_minor=amount, now=now, actor="test",
                    key=f"{example}-{owner}-{amount}", expires_at=expires_at,
                )
            )  # fmt: skip


def _request(ledger: Ledger, spend: Spend) -> SpendRequest:
    return SpendRequest(ledger.tokens[spend.owner], spend.amount_minor, spend.outlet, scheme="leisure")


def _single(ledger: Ledger, sequence: list[tuple[int, list[Spend]]], example: str) -> list[Any]:
    answers = []
    for minutes, batch in sequence:
        ledger.clock.advance(dt.timedelta(minutes=minutes))
        for spend in batch:
            operation = functools.partial(
                redeem, request=_request(ledger, spend), keyring=ledger.keys.keys().keyring,
                now=ledger.clock.now(), zone=ledger.clock.zone, actor=ACTOR, key=f"{example}-{spend.key}",
            )  # fmt: skip
            answers.append(_answer(functools.partial(ledger.run, operation)))
    return answers


def _batched(ledger: Ledger, sequence: list[tuple[int, list[Spend]]], example: str) -> list[Any]:
    answers: list[Any] = []
    for minutes, batch in sequence:
        ledger.clock.advance(dt.timedelta(minutes=minutes))
        items = [
            BatchedRedemption(
                _request(ledger, spend), ledger.keys.keys().keyring, ledger.clock.now(), ledger.clock.zone,
                ACTOR, f"{example}-{spend.key}",
            )
            for spend in batch
        ]  # fmt: skip
        with ledger.uow() as uow:
            outcomes = redeem_batch(uow, items)
            uow.commit()
        assert RUN_ALONE not in outcomes, "every spend here is decided by the batch itself"
        answers.extend(_answer(functools.partial(_raise, outcome)) for outcome in outcomes)
    return answers


def _raise(outcome: Any) -> Any:
    if isinstance(outcome, LedgerError):
        raise outcome
    return outcome


examples = itertools.count()


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(sequence=batches())
def test_random_batches_write_what_one_transaction_per_redemption_writes(
    twins: tuple[Ledger, Ledger], sequence: list[tuple[int, list[Spend]]]
) -> None:
    example = f"e{next(examples)}"
    answers = []
    for ledger, path in zip(twins, (_single, _batched), strict=True):
        ids = Ids(example)
        with (
            mock.patch("ledger.usecases.common.new_id", ids),
            mock.patch("ledger.usecases.flows.new_id", ids),
        ):
            _top_up(ledger, example)
            answers.append(path(ledger, sequence, example))

    single, batched = twins
    assert answers[0] == answers[1]
    assert single.dump() == batched.dump()
    assert read_only(batched.uow, check).ok


class Writers(BatchRun):
    """Redemptions sent from threads to one group commit; the first holds the lead so the rest queue."""

    def __init__(self, ledger: Ledger, group: GroupCommit) -> None:
        super().__init__(group)
        self.ledger = ledger
        self.items: dict[str, BatchedRedemption] = {}

    def hold_the_lead(self) -> None:
        self.hold_first(lambda uow: None)

    def redeem(self, name: str, owner: int, amount_minor: int, *, queue: bool = True) -> None:
        ledger = self.ledger
        request = SpendRequest(ledger.tokens[owner], amount_minor, "hall", scheme="leisure")
        now, keyring, key = ledger.clock.now(), ledger.keys.keys().keyring, f"key-{name}"
        self.items[name] = BatchedRedemption(request, keyring, now, ledger.clock.zone, ACTOR, key)
        operation = functools.partial(
            redeem, request=request, keyring=keyring, now=now, zone=ledger.clock.zone, actor=ACTOR, key=key
        )
        (self.queue if queue else self._start)(name, operation)

    def _start(self, name: str, operation: Callable[[Any], Any]) -> None:
        item = self.items.get(name)  # None for the write that holds the lead

        def write() -> None:
            self.answers[name] = _answer(lambda: self.group.run(operation, item))

        self.threads.append(threading.Thread(target=write))
        self.threads[-1].start()


def _group(ledger: Ledger, **options: Any) -> GroupCommit:
    options.setdefault("set_based", redeem_batch)
    return GroupCommit(ledger.uow, savepoint, run_alone=RUN_ALONE, **options)


def _wallets(ledger: Ledger) -> list[int]:
    def read(uow: Any) -> list[int]:  # a reader: on SQLite it need not wait for a writer's lock
        scheme = uow.schemes.get(slug="leisure")
        return [uow.lots.owners_total(owner, scheme["id"]) for owner in OWNERS[:3]]

    return list(read_only(ledger.uow, read))


def test_one_refused_redemption_never_fails_or_changes_its_batch_mates(ledger: Ledger) -> None:
    _top_up(ledger, "refusal")
    writers = Writers(ledger, _group(ledger))
    writers.hold_the_lead()
    writers.redeem("ann", 0, 200)
    for number in range(3):  # bob's third £4.50 today is over his £9.00 a day
        writers.redeem(f"bob-{number}", 1, 450)
    writers.redeem("cat", 2, 300)

    answers = writers.finish()

    assert writers.group.batch_sizes == [1, 5]
    assert answers["bob-2"][0] == "LimitExceeded" and answers["bob-2"][2]["left_today_minor"] == 0
    assert [answers[name]["remaining_in_scheme_minor"] for name in ("ann", "bob-0", "bob-1", "cat")] == [
        800, 550, 100, 700
    ]  # fmt: skip
    assert _wallets(ledger) == [800, 100, 700]
    assert read_only(ledger.uow, check).ok


def _waits_for_company(group: GroupCommit) -> list[tuple[float | None, bool]]:
    """Each wait of a batch's leader for company, as it happens: (its timeout, whether company came)."""
    waits: list[tuple[float | None, bool]] = []
    original = group._arrived.wait_for

    def wait_for(predicate: Callable[[], bool], timeout: float | None = None) -> bool:
        came = original(predicate, timeout)
        waits.append((timeout, came))
        return came

    group._arrived.wait_for = wait_for  # type: ignore[method-assign,assignment]
    return waits


def test_a_lone_redemption_waits_for_company_at_most_the_batch_wait(ledger: Ledger) -> None:
    _top_up(ledger, "lone")
    group = _group(ledger, max_wait_seconds=0.05)
    waits = _waits_for_company(group)
    writers = Writers(ledger, group)
    writers.hold_the_lead()
    writers.redeem("ann", 0, 100)
    writers.redeem("bob", 1, 100)
    writers.finish()

    for name in ("after-a-batch", "after-a-lone-one"):
        writers.redeem(name, 2, 100, queue=False)
        writers.finish()

    assert group.batch_sizes == [1, 2, 1, 1]
    assert [timeout for timeout, _ in waits] == [0.05]  # only the writer after a batch of two waited
    assert writers.answers["after-a-lone-one"]["remaining_in_scheme_minor"] == 800


def test_a_leader_stops_waiting_once_as_much_company_as_the_last_batch_had_has_come(
    ledger: Ledger,
) -> None:
    _top_up(ledger, "company")
    group = _group(ledger, max_wait_seconds=1.0)  # the longest wait allowed: it must not run out
    waits = _waits_for_company(group)
    writers = Writers(ledger, group)
    writers.hold_the_lead()
    writers.redeem("ann", 0, 100)
    writers.redeem("bob", 1, 100)
    writers.finish()

    writers.redeem("cat", 2, 100, queue=False)  # leads after a batch of two: waits for one more
    writers.redeem("dan", 0, 100, queue=False)
    answers = writers.finish()

    assert group.batch_sizes == [1, 2, 2]
    assert waits and all(came for _, came in waits)  # never timed out: dan's arrival closed the batch
    assert answers["dan"]["remaining_in_scheme_minor"] == 800


def test_a_redemption_is_answered_only_once_its_batch_has_committed(ledger: Ledger) -> None:
    _top_up(ledger, "durable")
    committing, may_commit = threading.Event(), threading.Event()

    def slow_commits(**options: Any) -> Any:
        uow = ledger.uow(**options)
        commit = uow.commit

        def held_commit() -> None:
            committing.set()
            assert may_commit.wait(30)
            commit()

        uow.commit = held_commit  # type: ignore[method-assign]
        return uow

    group = GroupCommit(slow_commits, savepoint, set_based=redeem_batch, run_alone=RUN_ALONE)
    writers = Writers(ledger, group)
    writers.redeem("ann", 0, 250, queue=False)
    assert committing.wait(30)

    assert writers.answers == {} and _wallets(ledger)[0] == 1000  # nothing answered, nothing visible yet
    may_commit.set()
    answers = writers.finish()
    assert answers["ann"]["remaining_in_scheme_minor"] == 750 and _wallets(ledger)[0] == 750


def test_a_batch_that_fails_as_a_whole_is_rerun_one_redemption_at_a_time(ledger: Ledger) -> None:
    _top_up(ledger, "fallback")

    def broken(uow: Any, items: list[Any]) -> list[Any]:
        redeem_batch(uow, items)  # written, then the batch fails: none of it may stay
        raise RuntimeError("the batch statement failed")

    writers = Writers(ledger, _group(ledger, set_based=broken))
    writers.hold_the_lead()
    writers.redeem("ann", 0, 100)
    writers.redeem("bob", 1, 200)

    answers = writers.finish()

    assert writers.group.batch_sizes == [1, 2]
    assert [answers[name]["remaining_in_scheme_minor"] for name in ("ann", "bob")] == [900, 800]
    assert _wallets(ledger) == [900, 800, 1000]
    assert read_only(ledger.uow, check).ok
