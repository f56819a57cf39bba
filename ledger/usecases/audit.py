"""Auditor reads: trial balance at an instant, and the check that balances equal the sums of postings."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections import defaultdict

from ledger.ports import UnitOfWork

MAX_PROBLEMS_REPORTED = 20


@dataclasses.dataclass(frozen=True)
class TrialBalanceLine:
    """One account's balance in the trial balance."""

    account_id: str
    name: str
    unit: str
    balance_minor: int


@dataclasses.dataclass(frozen=True)
class TrialBalance:
    """Every account's balance at an instant; per unit the total is zero."""

    at: dt.datetime | None
    lines: tuple[TrialBalanceLine, ...]
    totals_by_unit: dict[str, int]

    @property
    def balanced(self) -> bool:
        """True when every unit totals zero."""
        return all(total == 0 for total in self.totals_by_unit.values())


def trial_balance(uow: UnitOfWork, at: dt.datetime | None = None) -> TrialBalance:
    """Sum the postings of every account up to `at` (or now)."""
    lines = tuple(TrialBalanceLine(*row) for row in uow.audit.sums_by_account(at) if row[3] != 0)
    totals: dict[str, int] = defaultdict(int)
    for line in lines:
        totals[line.unit] += line.balance_minor
    return TrialBalance(at, lines, dict(totals))


@dataclasses.dataclass(frozen=True)
class CheckReport:
    """The outcome of `clubcard audit check`."""

    accounts_checked: int
    problems: tuple[str, ...]

    @property
    def ok(self) -> bool:
        """True when no problem was found."""
        return not self.problems


def check(uow: UnitOfWork) -> CheckReport:
    """Prove stored balances equal sums of postings, every transaction sums to zero per unit, floors hold."""
    problems: list[str] = []
    sums = {row[0]: row[3] for row in uow.audit.sums_by_account(None)}
    stored = uow.accounts.all_balances()
    for account_id in sorted(set(sums) | set(stored)):
        if sums.get(account_id, 0) != stored.get(account_id, 0):
            problems.append(
                f"account {account_id}: stored balance {stored.get(account_id, 0)} "
                f"!= sum of postings {sums.get(account_id, 0)}"
            )
    for transaction_id in uow.audit.unbalanced_transactions():
        problems.append(f"transaction {transaction_id}: postings do not sum to zero per unit")
    for transaction_id in uow.audit.mixed_unit_postings():
        problems.append(f"transaction {transaction_id}: a posting's unit differs from its account's")
    accounts = uow.accounts.get_many(stored)
    for account_id, balance in stored.items():
        floor = accounts[account_id].floor_minor
        if floor is not None and balance < floor:
            problems.append(f"account {account_id}: balance {balance} is below its floor {floor}")
    return CheckReport(len(stored), tuple(problems[:MAX_PROBLEMS_REPORTED]))
