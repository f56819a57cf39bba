"""Random sequences of ledger operations keep the books balanced and agree with a simple model.

A hypothesis state machine funds, issues (with and without expiry and category), spends, transfers,
reverses, holds, captures (in full and in part), voids, moves the clock and expires, over three wallets
in two schemes: GBP, and HOUR with an overdraft floor of -600 minutes. A hold past its timeout is released
by the next draw on its wallet (or by the sweep, whichever comes first). The model predicts every outcome,
including the expected refusals, which must change nothing. After every step the trial balance is zero
per unit, no lot is below its floor, the audit check passes and every balance equals the model's. At the
end of each example the journal is sealed with a fresh key and verified.

Each example runs on its own database, cloned from the migrated template.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import itertools
import shutil
import time
from collections import defaultdict
from collections.abc import Callable, Collection, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import func, select

from ledger.clock import FixedClock
from ledger.db.engine import make_engine
from ledger.db.tables import transactions
from ledger.db.uow import unit_of_work_factory
from ledger.errors import (
    BudgetExhausted,
    Conflict,
    Expired,
    InsufficientFunds,
    LedgerError,
    ValidationFailed,
)
from ledger.receipts import Receipt
from ledger.service import read_only, run_in_transaction
from ledger.signing import generate_signing_key
from ledger.units import AccountKind, Unit
from ledger.usecases import expiry, flows, holds
from ledger.usecases.audit import check, trial_balance
from ledger.usecases.checkpoints import seal, verify
from ledger.usecases.common import ensure_account
from ledger.usecases.schemes import create_scheme

START = dt.datetime(2026, 11, 1, 9, 0, tzinfo=dt.UTC)
OWNERS = ("ann", "bob", "cat")
SCHEMES = ("leisure", "timebank")
CATEGORIES = ("food", "clothes")
# Where a spend happens: None accepts any lot; a tuple accepts uncategorised lots and those categories.
PLACES: tuple[tuple[str, ...] | None, ...] = (None, (), ("food",), ("clothes",), ("food", "clothes"))
HOUR_FLOOR = -600
REVERSIBLE = {"fund", "issue", "redeem", "transfer"}
# An amount, or one sized at the edge: all that is available, or one minor unit more.
AMOUNTS = st.integers(1, 3_000) | st.sampled_from(("all", "one more"))

# Examples per database, chosen so the file stays well under a minute on each even on a busy machine:
# PostgreSQL pays a network round trip per statement, so it runs fewer (its own paths are the locks,
# advisory locks and the snapshot horizon, which every example exercises).
EXAMPLES = {"sqlite": 40, "postgresql": 16}
SEAL_PATIENCE_SECONDS = 2
MACHINE_SETTINGS = settings(
    stateful_step_count=35,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)


@dataclasses.dataclass
class Account:
    """The model of one ledger account."""

    kind: AccountKind
    floor: int | None
    balance: int = 0


@dataclasses.dataclass(frozen=True)
class Lot:
    """The model of one lot in a wallet."""

    account_id: str
    owner: str
    scheme: str
    category: str | None
    expires_at: dt.datetime | None
    created_at: dt.datetime


@dataclasses.dataclass
class Hold:
    """The model of one hold."""

    id: str
    owner: str
    scheme: str
    amount: int
    taken: list[tuple[str, int]]
    account_id: str
    payable: str
    expires_at: dt.datetime
    status: str = "pending"


@dataclasses.dataclass
class Transaction:
    """The model of one recorded transaction."""

    id: str
    kind: str
    lines: list[tuple[str, int]]
    reversed: bool = False


Databases = Callable[[], tuple[str, Callable[[], None]]]


class LedgerMachine(RuleBasedStateMachine):
    """Drives the ledger's use cases and keeps a model of every balance alongside."""

    def __init__(self, databases: Databases) -> None:
        super().__init__()
        self.url, self._drop = databases()
        # One short-lived database per example: no need to ping pooled connections before each use.
        self.engine = make_engine(self.url, pool_pre_ping=False)
        self.uow = unit_of_work_factory(self.engine)
        self.clock = FixedClock(START)
        self._keys = itertools.count()
        self.accounts: dict[str, Account] = {}
        self.lots: dict[str, Lot] = {}
        self.main_lots: dict[tuple[str, str], str] = {}
        self.holds: list[Hold] = []
        self.transactions: list[Transaction] = []
        self.unchecked: list[Transaction] = []
        self.replays: list[tuple[Callable[[Any], Receipt], Receipt]] = []
        self.schemes: dict[str, dict[str, Any]] = {}
        self.payables: dict[str, str] = {}
        self.external: dict[Unit, str] = {}
        for slug, unit, rules in (
            ("leisure", Unit.GBP, {}),
            ("timebank", Unit.HOUR, {"spending": {"overdraft_floor_minor": HOUR_FLOOR}}),
        ):
            scheme = self.run(self.creating(slug, unit, rules))
            self.schemes[slug] = scheme
            self.accounts[scheme["budget_account_id"]] = Account(AccountKind.BUDGET, 0)
            payable = self.run(self.opening_payable(unit))
            self.payables[slug] = payable.id
            self.accounts[payable.id] = Account(AccountKind.PAYABLE, None)

    def creating(self, slug: str, unit: Unit, rules: dict[str, Any]) -> Callable[[Any], dict[str, Any]]:
        return lambda uow: create_scheme(
            uow, slug=slug, name=slug, unit=unit, rules=rules, now=self.now, actor="test"
        )

    def opening_payable(self, unit: Unit) -> Callable[[Any], Any]:
        return lambda uow: ensure_account(
            uow,
            name=f"outlet:pool:payable:{unit.value}",
            unit=unit,
            kind=AccountKind.PAYABLE,
            floor_minor=None,
            now=self.now,
        )

    # -- plumbing -------------------------------------------------------------------------------------

    @property
    def now(self) -> dt.datetime:
        return self.clock.now()

    def key(self) -> str:
        return f"step-{next(self._keys)}"

    def run(self, operation: Callable[[Any], Any]) -> Any:
        return run_in_transaction(self.uow, operation)

    def read(self, operation: Callable[[Any], Any]) -> Any:
        """Read in a plain transaction (rolled back): nothing else writes to this example's database."""
        with self.uow() as uow:
            return operation(uow)

    def attempt(
        self, operation: Callable[[Any], Receipt], refusal: type[LedgerError] | None
    ) -> Receipt | None:
        """Run a write; when the model predicts a refusal, it must be exactly that one."""
        if refusal is None:
            receipt: Receipt = self.run(operation)
            self.replays.append((operation, receipt))
            return receipt
        with pytest.raises(LedgerError) as raised:
            self.run(operation)
        assert type(raised.value) is refusal, f"expected {refusal.__name__}, got {raised.value!r}"
        return None

    def refusal(self, lines: list[tuple[str, int]]) -> type[LedgerError] | None:
        """What the ledger refuses these postings with: the first account (by id) crossing its floor."""
        deltas: dict[str, int] = defaultdict(int)
        for account_id, amount in lines:
            deltas[account_id] += amount
        for account_id in sorted(deltas):
            account = self.accounts[account_id]
            delta = deltas[account_id]
            if delta and account.floor is not None and account.balance + delta < account.floor:
                return BudgetExhausted if account.kind is AccountKind.BUDGET else InsufficientFunds
        return None

    def post(self, transaction_id: str, kind: str, lines: list[tuple[str, int]]) -> None:
        """Apply a transaction to the model; the invariant then checks the journal recorded exactly it."""
        assert self.refusal(lines) is None
        for account_id, amount in lines:
            self.accounts[account_id].balance += amount
        self.transactions.append(Transaction(transaction_id, kind, lines))
        self.unchecked.append(self.transactions[-1])

    def eligible(self, owner: str, scheme: str, places: Collection[str] | None) -> list[Lot]:
        """The owner's lots a spend here and now may draw on, earliest expiry first."""
        now = self.now
        eligible = [
            lot
            for lot in self.lots.values()
            if lot.owner == owner
            and lot.scheme == scheme
            and (lot.expires_at is None or lot.expires_at > now)
            and (places is None or lot.category is None or lot.category in places)
        ]
        eligible.sort(
            key=lambda lot: (lot.expires_at is None, lot.expires_at or now, lot.created_at, lot.account_id)
        )
        return eligible

    def available(self, lot: Lot) -> int:
        account = self.accounts[lot.account_id]
        assert account.floor is not None
        return max(0, account.balance - account.floor)

    @staticmethod
    def sized(amount: int | str, available: int) -> int:
        """An amount from AMOUNTS, given what is available."""
        if amount == "all":
            return max(1, available)
        if amount == "one more":
            return available + 1
        assert isinstance(amount, int)
        return amount

    def plan(
        self, owner: str, scheme: str, amount: int, places: Collection[str] | None
    ) -> list[tuple[str, int]] | None:
        """The lots a spend takes from, earliest expiry first; None when they cannot cover it."""
        plan: list[tuple[str, int]] = []
        remaining = amount
        for lot in self.eligible(owner, scheme, places):
            take = min(remaining, self.available(lot))
            if take:
                plan.append((lot.account_id, take))
                remaining -= take
            if not remaining:
                return plan
        return None

    def pick_hold(self, pick: int, any_hold: bool) -> Hold:
        """A hold: any at all, or (mostly) one still pending, so captures and voids often succeed."""
        pending = [hold for hold in self.holds if hold.status == "pending"]
        candidates = self.holds if any_hold or not pending else pending
        return candidates[pick % len(candidates)]

    def wallet(self, owner: str, scheme: str) -> int:
        return sum(
            self.accounts[lot.account_id].balance
            for lot in self.lots.values()
            if lot.owner == owner and lot.scheme == scheme
        )

    def add_lot(
        self, account_id: str, owner: str, scheme: str, category: str | None, expires_at: Any
    ) -> None:
        main = category is None and expires_at is None
        floor = HOUR_FLOOR if main and scheme == "timebank" else 0
        self.accounts[account_id] = Account(AccountKind.LOT, floor)
        self.lots[account_id] = Lot(account_id, owner, scheme, category, expires_at, self.now)
        if main:
            self.main_lots[(owner, scheme)] = account_id

    def main_lot(self, owner: str, scheme: str) -> str:
        """The owner's main lot, registered in the model when the ledger has just opened it."""
        known = self.main_lots.get((owner, scheme))
        if known is not None:
            return known
        account = self.read(lambda uow: uow.accounts.by_name(f"wallet:{owner}:{scheme}:main"))
        assert account is not None
        self.add_lot(account.id, owner, scheme, None, None)
        return str(account.id)

    # -- rules ----------------------------------------------------------------------------------------

    @initialize(
        budgets=st.tuples(st.integers(20_000, 60_000), st.integers(10_000, 30_000)),
        mains=st.lists(st.integers(1, 3_000), min_size=len(SCHEMES) * len(OWNERS), max_size=6),
        extras=st.lists(
            st.tuples(
                st.sampled_from(SCHEMES),
                st.sampled_from(OWNERS),
                st.integers(1, 3_000),
                st.sampled_from((None, *CATEGORIES)),
                st.none() | st.integers(1, 96),
            ),
            max_size=6,
        ),
    )
    def open_the_books(
        self,
        budgets: tuple[int, int],
        mains: list[int],
        extras: list[tuple[str, str, int, str | None, int | None]],
    ) -> None:
        """Start from funded budgets, a main lot in every wallet and a few more lots."""
        for scheme, amount in zip(SCHEMES, budgets, strict=True):
            self.fund(scheme, amount)
        wallets = [(scheme, owner) for scheme in SCHEMES for owner in OWNERS]
        for (scheme, owner), amount in zip(wallets, mains, strict=True):
            self.issue(scheme, owner, amount, None, None)
        for scheme, owner, amount, category, expires_in_hours in extras:
            self.issue(scheme, owner, amount, category, expires_in_hours)

    @rule(scheme=st.sampled_from(SCHEMES), amount=st.integers(1, 20_000))
    def fund(self, scheme: str, amount: int) -> None:
        definition = self.schemes[scheme]
        key = self.key()
        receipt = self.attempt(
            lambda uow: flows.fund(
                uow, scheme=definition, amount_minor=amount, now=self.now, actor="finance", key=key
            ),
            None,
        )
        assert receipt is not None and receipt.amount_minor == amount
        unit = Unit(definition["unit"])
        if unit not in self.external:
            name = "external:bank:GBP" if unit is Unit.GBP else f"external:issuer:{unit.value}"
            source = self.read(lambda uow: uow.accounts.by_name(name))
            self.external[unit] = source.id
            self.accounts[source.id] = Account(AccountKind.EXTERNAL, None)
        budget = definition["budget_account_id"]
        self.post(receipt.transaction_id, "fund", [(self.external[unit], -amount), (budget, amount)])

    @rule(
        scheme=st.sampled_from(SCHEMES),
        owner=st.sampled_from(OWNERS),
        amount=st.integers(1, 5_000) | st.sampled_from(("all", "one more")),
        category=st.sampled_from((None, *CATEGORIES)),
        expires_in_hours=st.none() | st.integers(1, 96),
    )
    def issue(
        self, scheme: str, owner: str, amount: int | str, category: str | None, expires_in_hours: int | None
    ) -> None:
        definition = self.schemes[scheme]
        amount = self.sized(amount, self.accounts[definition["budget_account_id"]].balance)
        expires_at = None if expires_in_hours is None else self.now + dt.timedelta(hours=expires_in_hours)
        key = self.key()
        refusal = self.refusal([(definition["budget_account_id"], -amount)])
        receipt = self.attempt(
            lambda uow: flows.issue(
                uow,
                scheme=definition,
                owner_id=owner,
                amount_minor=amount,
                now=self.now,
                actor="caseworker",
                key=key,
                category=category,
                expires_at=expires_at,
            ),
            refusal,
        )
        if receipt is None:
            return
        lot_id = receipt.lot_account_id
        assert lot_id is not None
        if category is None and expires_at is None and (owner, scheme) in self.main_lots:
            assert lot_id == self.main_lots[(owner, scheme)], "issues without expiry or category share a lot"
        elif lot_id not in self.lots:
            self.add_lot(lot_id, owner, scheme, category, expires_at)
        else:
            raise AssertionError("an issue with expiry or category opens a fresh lot")
        self.post(
            receipt.transaction_id, "issue", [(definition["budget_account_id"], -amount), (lot_id, amount)]
        )
        assert receipt.balance_after_minor == self.wallet(owner, scheme)

    @rule(
        scheme=st.sampled_from(SCHEMES),
        owner=st.sampled_from(OWNERS),
        amount=AMOUNTS,
        place=st.sampled_from(PLACES),
    )
    def spend(self, scheme: str, owner: str, amount: int | str, place: tuple[str, ...] | None) -> None:
        definition = self.schemes[scheme]
        payable = self.payables[scheme]
        releases = self.releasing(owner, scheme)
        amount = self.sized(amount, sum(map(self.available, self.eligible(owner, scheme, place))))
        plan = self.plan(owner, scheme, amount, place)
        before = self.wallet(owner, scheme)
        key = self.key()
        receipt = self.attempt(
            lambda uow: flows.spend(
                uow,
                scheme=definition,
                owner_id=owner,
                amount_minor=amount,
                payable_account_id=payable,
                categories=place,
                now=self.now,
                actor="kiosk",
                key=key,
            ),
            InsufficientFunds if plan is None else None,
        )
        self.released(releases, committed=receipt is not None)
        if receipt is None:
            return
        assert plan is not None
        assert list(receipt.taken) == plan, "earliest-expiring eligible lots are drawn first"
        assert receipt.balance_after_minor == before - amount
        self.post(
            receipt.transaction_id, "redeem", [*((lot, -take) for lot, take in plan), (payable, amount)]
        )

    @rule(
        scheme=st.sampled_from(SCHEMES),
        payer=st.sampled_from(OWNERS),
        payee=st.sampled_from(OWNERS),
        amount=AMOUNTS,
    )
    def transfer(self, scheme: str, payer: str, payee: str, amount: int | str) -> None:
        definition = self.schemes[scheme]
        releases = self.releasing(payer, scheme) if payer != payee else []
        amount = self.sized(amount, sum(map(self.available, self.eligible(payer, scheme, None))))
        plan = self.plan(payer, scheme, amount, None)
        refusal: type[LedgerError] | None = None
        if payer == payee:
            refusal = ValidationFailed
        elif plan is None:
            refusal = InsufficientFunds
        key = self.key()
        receipt = self.attempt(
            lambda uow: flows.transfer(
                uow,
                scheme=definition,
                from_owner_id=payer,
                to_owner_id=payee,
                amount_minor=amount,
                now=self.now,
                actor="member",
                key=key,
            ),
            refusal,
        )
        self.released(releases, committed=receipt is not None)
        if receipt is None:
            return
        assert plan is not None
        assert list(receipt.taken) == plan
        target = self.main_lot(payee, scheme)
        self.post(
            receipt.transaction_id, "transfer", [*((lot, -take) for lot, take in plan), (target, amount)]
        )

    @precondition(lambda self: self.transactions)
    @rule(pick=st.integers(0, 10_000), any_kind=st.booleans())
    def reverse(self, pick: int, any_kind: bool) -> None:
        """Reverse any transaction at all, or (mostly) one that may still be reversed."""
        open_ = [t for t in self.transactions if t.kind in REVERSIBLE and not t.reversed]
        candidates = self.transactions if any_kind or not open_ else open_
        original = candidates[pick % len(candidates)]
        lines = [(account_id, -amount) for account_id, amount in reversed(original.lines)]
        refusal = Conflict if original.kind not in REVERSIBLE or original.reversed else self.refusal(lines)
        key = self.key()
        receipt = self.attempt(
            lambda uow: flows.reverse(
                uow, transaction_id=original.id, now=self.now, actor="finance", key=key, reason="test"
            ),
            refusal,
        )
        if receipt is None:
            return
        assert receipt.reverses_id == original.id
        original.reversed = True
        self.post(receipt.transaction_id, "reversal", lines)

    @rule(
        scheme=st.sampled_from(SCHEMES),
        owner=st.sampled_from(OWNERS),
        amount=AMOUNTS,
        place=st.sampled_from(PLACES),
        timeout_hours=st.sampled_from((1, 6, 24)),
    )
    def hold(
        self, scheme: str, owner: str, amount: int | str, place: tuple[str, ...] | None, timeout_hours: int
    ) -> None:
        definition = self.schemes[scheme]
        payable = self.payables[scheme]
        releases = self.releasing(owner, scheme)
        amount = self.sized(amount, sum(map(self.available, self.eligible(owner, scheme, place))))
        plan = self.plan(owner, scheme, amount, place)
        key = self.key()
        receipt = self.attempt(
            lambda uow: holds.place_hold(
                uow,
                scheme=definition,
                owner_id=owner,
                amount_minor=amount,
                payable_account_id=payable,
                categories=place,
                timeout_seconds=timeout_hours * 3600,
                now=self.now,
                actor="kiosk",
                key=key,
            ),
            InsufficientFunds if plan is None else None,
        )
        self.released(releases, committed=receipt is not None)
        if receipt is None:
            return
        assert plan is not None and receipt.hold_id is not None
        assert list(receipt.taken) == plan
        record = self.read(lambda uow: uow.holds.get(receipt.hold_id))
        assert record.status == "pending" and record.amount_minor == amount
        self.accounts[record.hold_account_id] = Account(AccountKind.HOLD, 0)
        self.holds.append(
            Hold(
                receipt.hold_id,
                owner,
                scheme,
                amount,
                plan,
                record.hold_account_id,
                payable,
                self.now + dt.timedelta(hours=timeout_hours),
            )
        )
        self.post(
            receipt.transaction_id,
            "hold",
            [*((lot, -take) for lot, take in plan), (record.hold_account_id, amount)],
        )

    def resolution(self, hold: Hold, capture: int) -> list[tuple[str, int]]:
        """Postings that settle a hold: capture to the payee, the rest back to the lots drawn last."""
        lines = [(hold.account_id, -hold.amount)]
        if capture:
            lines.append((hold.payable, capture))
        remaining = hold.amount - capture
        for lot, taken in reversed(hold.taken):
            give = min(taken, remaining)
            if give:
                lines.append((lot, give))
                remaining -= give
        return lines

    def releasing(self, owner: str, scheme: str) -> list[Hold]:
        """Release (in the model, for now) the wallet's timed-out holds, as a draw on it does first."""
        now = self.now
        timed_out = sorted(
            (
                h
                for h in self.holds
                if (h.owner, h.scheme, h.status) == (owner, scheme, "pending") and h.expires_at <= now
            ),
            key=lambda h: h.id,
        )
        for hold in timed_out:
            for account_id, amount in self.resolution(hold, 0):
                self.accounts[account_id].balance += amount
            hold.status = "expired"
        return timed_out

    def released(self, holds_released: list[Hold], committed: bool) -> None:
        """The draw committed: record the releases it posted; it was refused: they were rolled back."""
        for hold in holds_released:
            lines = self.resolution(hold, 0)
            if committed:
                record = self.read(lambda uow, hold=hold: uow.holds.get(hold.id))
                assert record.status == "expired", "released by the draw on its wallet, not by a job"
                self.transactions.append(Transaction(record.resolved_transaction_id, "hold_expiry", lines))
                self.unchecked.append(self.transactions[-1])
                continue
            for account_id, amount in lines:
                self.accounts[account_id].balance -= amount
            hold.status = "pending"

    @precondition(lambda self: self.holds)
    @rule(pick=st.integers(0, 10_000), any_hold=st.booleans(), share=st.integers(0, 101))
    def capture(self, pick: int, any_hold: bool, share: int) -> None:
        """share 100 captures in full, 101 asks for more than was held, below 100 captures a part."""
        hold = self.pick_hold(pick, any_hold)
        capture = hold.amount + 1 if share == 101 else hold.amount * share // 100
        refusal: type[LedgerError] | None = None
        if hold.status in {"captured", "voided"}:
            refusal = Conflict
        elif hold.status == "expired" or hold.expires_at <= self.now:
            refusal = Expired  # timed out, released or not: its funds are the wallet's again
        elif capture > hold.amount:
            refusal = ValidationFailed
        key = self.key()
        receipt = self.attempt(
            lambda uow: holds.resolve_hold(
                uow,
                hold_id=hold.id,
                capture_minor=capture,
                now=self.now,
                actor="kiosk",
                key=key,
                outcome="captured",
            ),
            refusal,
        )
        if receipt is None:
            return
        assert (receipt.captured_minor, receipt.returned_minor) == (capture, hold.amount - capture)
        hold.status = "captured"
        self.post(receipt.transaction_id, "capture", self.resolution(hold, capture))

    @precondition(lambda self: self.holds)
    @rule(pick=st.integers(0, 10_000), any_hold=st.booleans())
    def void(self, pick: int, any_hold: bool) -> None:
        hold = self.pick_hold(pick, any_hold)
        key = self.key()
        receipt = self.attempt(
            lambda uow: holds.resolve_hold(
                uow, hold_id=hold.id, capture_minor=0, now=self.now, actor="kiosk", key=key, outcome="voided"
            ),
            None if hold.status == "pending" else Conflict,
        )
        if receipt is None:
            return
        hold.status = "voided"
        self.post(receipt.transaction_id, "void", self.resolution(hold, 0))

    @rule(hours=st.integers(0, 48) | st.just("to the next deadline"), sweep=st.booleans())
    def time_passes(self, hours: int | str, sweep: bool) -> None:
        """Move the clock on (sometimes exactly onto a lot's expiry or a hold's timeout); maybe sweep."""
        if hours == "to the next deadline":
            deadlines = [lot.expires_at for lot in self.lots.values() if lot.expires_at is not None]
            deadlines += [hold.expires_at for hold in self.holds if hold.status == "pending"]
            upcoming = [deadline for deadline in deadlines if deadline > self.now]
            if upcoming:
                self.clock.at = min(upcoming)
        else:
            assert isinstance(hours, int)
            self.clock.advance(dt.timedelta(hours=hours))
        if sweep:
            self.expire()

    def expire(self) -> None:
        now = self.now
        known = {t.id for t in self.transactions}
        released = sorted(
            (h for h in self.holds if h.status == "pending" and h.expires_at <= now),
            key=lambda h: (h.expires_at, h.id),
        )
        expected: list[tuple[str, list[tuple[str, int]]]] = []
        for hold in released:
            lines = self.resolution(hold, 0)
            expected.append(("hold_expiry", lines))
            for account_id, amount in lines:
                self.accounts[account_id].balance += amount
            hold.status = "expired"
        returned: dict[str, int] = defaultdict(int)
        lots_expired = 0
        for lot in sorted(self.lots.values(), key=lambda lot: lot.account_id):
            balance = self.accounts[lot.account_id].balance
            if lot.expires_at is not None and lot.expires_at <= now and balance > 0:
                budget = self.schemes[lot.scheme]["budget_account_id"]
                lines = [(lot.account_id, -balance), (budget, balance)]
                expected.append(("expire", lines))
                for account_id, amount in lines:
                    self.accounts[account_id].balance += amount
                returned[self.schemes[lot.scheme]["id"]] += balance
                lots_expired += 1

        report = expiry.expire_all(self.uow, self.clock)

        assert report == expiry.ExpiryReport(lots_expired, dict(returned), len(released))
        written = self.read(
            lambda uow: [
                uow.journal.get(transaction_id)
                for transaction_id in uow.execute_now(select(transactions.c.id)).scalars()
                if transaction_id not in known
            ]
        )
        assert sorted(
            (t.kind, sorted((p.account_id, p.amount_minor) for p in t.postings)) for t in written
        ) == sorted((kind, sorted(lines)) for kind, lines in expected), (
            "one transaction per released hold and per expired lot"
        )
        for record in written:
            self.transactions.append(
                Transaction(record.id, record.kind, [(p.account_id, p.amount_minor) for p in record.postings])
            )

    @precondition(lambda self: self.replays)
    @rule(pick=st.integers(0, 10_000))
    def replay(self, pick: int) -> None:
        """A write sent again under its idempotency key returns its first receipt and changes nothing."""
        operation, receipt = self.replays[pick % len(self.replays)]
        assert self.run(operation) == receipt

    # -- invariants -----------------------------------------------------------------------------------

    @invariant()
    def the_books_balance_and_agree_with_the_model(self) -> None:
        def gather(uow: Any) -> dict[str, Any]:
            return {
                "trial": trial_balance(uow),
                "check": check(uow),
                "balances": uow.accounts.all_balances(),
                "lots": [lot for owner in OWNERS for lot in uow.lots.wallet(owner)],
                "count": uow.execute_now(select(func.count()).select_from(transactions)).scalar_one(),
                "recorded": [uow.journal.get(t.id) for t in self.unchecked],
            }

        seen = self.read(gather)
        assert seen["trial"].balanced and all(total == 0 for total in seen["trial"].totals_by_unit.values())
        assert seen["check"].ok, seen["check"].problems
        for lot in seen["lots"]:
            assert lot.balance_minor >= lot.floor_minor, f"lot {lot.account_id} is below its floor"
        assert {a: b for a, b in seen["balances"].items() if b} == {
            a: account.balance for a, account in self.accounts.items() if account.balance
        }
        slugs = {scheme["id"]: slug for slug, scheme in self.schemes.items()}
        wallets: dict[tuple[str, str], int] = defaultdict(int)
        for lot in seen["lots"]:
            wallets[(lot.owner_id, slugs[lot.scheme_id])] += lot.balance_minor
        assert wallets == {(owner, slug): self.wallet(owner, slug) for owner, slug in wallets}
        assert set(wallets) == {(lot.owner, lot.scheme) for lot in self.lots.values()}
        assert seen["count"] == len(self.transactions)
        for expected, recorded in zip(self.unchecked, seen["recorded"], strict=True):
            assert recorded is not None and recorded.kind == expected.kind
            assert sorted((p.account_id, p.amount_minor) for p in recorded.postings) == sorted(expected.lines)
        self.unchecked.clear()

    def teardown(self) -> None:
        try:
            if self.transactions:
                self.seal_and_verify()
        finally:
            self.engine.dispose()
            self._drop()

    def seal_and_verify(self) -> None:
        """Seal the journal with a fresh key, then verify every hash, root and signature.

        SQLite seals everything at once. PostgreSQL seals only behind the oldest write transaction open
        anywhere on the server, so on a busy shared server the last few may wait for a later seal: give it
        a moment, then verify what is sealed (every content hash is checked either way).
        """
        key = generate_signing_key()
        expected = len(self.transactions)
        sqlite = self.engine.dialect.name == "sqlite"
        patience = time.monotonic() + (0 if sqlite else SEAL_PATIENCE_SECONDS)
        while True:
            self.run(lambda uow: seal(uow, key, self.now))
            sealed, heads = self.read(lambda uow: (uow.audit.sealed_count(), uow.audit.checkpoints()))
            if sealed == expected or time.monotonic() >= patience:
                break
            time.sleep(0.02)
        if sqlite:
            assert sealed == expected, "with no horizon to wait for, one seal covers the whole journal"
        assert [head.tree_size for head in heads][-1:] == ([sealed] if sealed else [])
        report = read_only(self.uow, lambda uow: verify(uow, {key.key_id}))
        assert report.ok, report.problem
        assert report.transactions_checked == expected
        assert report.checkpoints_checked == len(heads)


@pytest.fixture
def databases(request: pytest.FixtureRequest, database_url: str, tmp_path: Path) -> Iterator[Databases]:
    """Makes a fresh migrated database of the same kind as `database_url` for each hypothesis example."""
    counter = itertools.count()
    if database_url.startswith("sqlite"):
        template: Path = request.getfixturevalue("sqlite_template")

        def sqlite_database() -> tuple[str, Callable[[], None]]:
            path = tmp_path / f"example-{next(counter)}.sqlite3"
            shutil.copyfile(template, path)

            def drop() -> None:
                for suffix in ("", "-wal", "-shm"):
                    Path(f"{path}{suffix}").unlink(missing_ok=True)

            return f"sqlite:///{path}", drop

        yield sqlite_database
        return
    server = request.getfixturevalue("postgres_databases")

    def postgres_database() -> tuple[str, Callable[[], None]]:
        url = server.create()
        return url, lambda: server.drop(url)

    yield postgres_database


def test_random_operations_keep_the_books_balanced_and_match_the_model(
    databases: Databases, database_url: str
) -> None:
    class Machine(LedgerMachine):
        def __init__(self) -> None:
            super().__init__(databases)

    examples = EXAMPLES["sqlite" if database_url.startswith("sqlite") else "postgresql"]
    run_state_machine_as_test(Machine, settings=settings(MACHINE_SETTINGS, max_examples=examples))
