"""Value flows: fund a budget, issue a lot, spend from a wallet, transfer, reverse."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Mapping, Sequence
from typing import Any

from ledger.clock import rfc3339
from ledger.errors import Conflict, NotFound, ValidationFailed
from ledger.journal import Posting
from ledger.kinds import REVERSIBLE_KINDS, SPEND_COUNTED_KINDS, TransactionKind
from ledger.ports import UnitOfWork
from ledger.receipts import Receipt
from ledger.records import LotRecord
from ledger.units import AccountKind, Unit
from ledger.usecases.common import (
    draft,
    ensure_account,
    funding_source,
    idempotent,
    new_id,
    record,
    transfer_lines,
)
from ledger.usecases.holds import locked_wallet
from ledger.usecases.spending import council_day
from ledger.wallets import plan_spend


def positive_amount(amount_minor: int) -> int:
    """The amount, or ValidationFailed unless it is a positive integer."""
    if type(amount_minor) is not int or amount_minor <= 0:
        raise ValidationFailed("amount_minor is a positive integer")
    return amount_minor


def fund(
    uow: UnitOfWork,
    *,
    scheme: Mapping[str, Any],
    amount_minor: int,
    now: dt.datetime,
    actor: str,
    key: str,
    metadata: Mapping[str, Any] | None = None,
) -> Receipt:
    """Move value from outside (bank or issuer) into a scheme's budget."""
    unit = Unit(scheme["unit"])
    request = {"op": "fund", "scheme": scheme["id"], "amount_minor": positive_amount(amount_minor)}

    def operation() -> dict[str, Any]:
        source = funding_source(uow, unit, now)
        lines = transfer_lines(unit, [(source.id, amount_minor)], scheme["budget_account_id"])
        tx = draft(
            kind=TransactionKind.FUND,
            postings=lines,
            now=now,
            actor=actor,
            idempotency_key=key,
            scheme_id=scheme["id"],
            metadata=metadata,
        )
        record(uow, tx)
        return Receipt(tx.id, TransactionKind.FUND, unit.value, amount_minor, rfc3339(now)).to_dict()

    return Receipt.from_dict(
        idempotent(uow, scope=actor, key=key, request=request, now=now, operation=operation)
    )


def main_lot(uow: UnitOfWork, scheme: Mapping[str, Any], owner_id: str, now: dt.datetime) -> str:
    """The owner's never-expiring lot in a scheme (its floor is the scheme's overdraft floor)."""
    name = f"wallet:{owner_id}:{scheme['slug']}:main"
    existing = uow.accounts.by_name(name)
    if existing is not None:
        return str(existing.id)
    floor = int(scheme["rules"].get("spending", {}).get("overdraft_floor_minor", 0))
    account = ensure_account(
        uow, name=name, unit=Unit(scheme["unit"]), kind=AccountKind.LOT, floor_minor=min(0, floor), now=now
    )
    uow.lots.create(
        account_id=account.id,
        owner_id=owner_id,
        scheme_id=scheme["id"],
        category=None,
        expires_at=None,
        now=now,
    )
    return account.id


def new_lot(
    uow: UnitOfWork,
    scheme: Mapping[str, Any],
    owner_id: str,
    category: str | None,
    expires_at: dt.datetime | None,
    now: dt.datetime,
) -> str:
    """Open a fresh lot (its own category and expiry) in the owner's wallet."""
    if category is None and expires_at is None:
        return main_lot(uow, scheme, owner_id, now)
    lot_id = new_id()
    uow.accounts.open(
        id=lot_id,
        name=f"wallet:{owner_id}:{scheme['slug']}:lot:{lot_id}",
        unit=Unit(scheme["unit"]),
        kind=AccountKind.LOT,
        floor_minor=0,
        now=now,
    )
    uow.lots.create(
        account_id=lot_id,
        owner_id=owner_id,
        scheme_id=scheme["id"],
        category=category,
        expires_at=expires_at,
        now=now,
    )
    return lot_id


def issue(
    uow: UnitOfWork,
    *,
    scheme: Mapping[str, Any],
    owner_id: str,
    amount_minor: int,
    now: dt.datetime,
    actor: str,
    key: str,
    category: str | None = None,
    expires_at: dt.datetime | None = None,
    kind: str = TransactionKind.ISSUE,
    metadata: Mapping[str, Any] | None = None,
    outlet_id: str | None = None,
) -> Receipt:
    """Credit a wallet from the scheme budget (which cannot go below zero)."""
    request = {
        "op": kind,
        "scheme": scheme["id"],
        "owner": owner_id,
        "amount_minor": positive_amount(amount_minor),
        "category": category,
        "expires_at": expires_at and rfc3339(expires_at),
        "metadata": dict(metadata or {}),
    }

    def operation() -> dict[str, Any]:
        lot_id = new_lot(uow, scheme, owner_id, category, expires_at, now)
        lines = transfer_lines(Unit(scheme["unit"]), [(scheme["budget_account_id"], amount_minor)], lot_id)
        tx = draft(
            kind=kind,
            postings=lines,
            now=now,
            actor=actor,
            idempotency_key=key,
            outlet_id=outlet_id,
            scheme_id=scheme["id"],
            rule_version=scheme["version"],
            metadata=metadata,
        )
        record(uow, tx)
        balance = uow.lots.owners_total(owner_id, scheme["id"])
        return Receipt(
            tx.id,
            kind,
            scheme["unit"],
            amount_minor,
            rfc3339(now),
            ((lot_id, amount_minor),),
            balance,
            lot_account_id=lot_id,
        ).to_dict()

    return Receipt.from_dict(
        idempotent(uow, scope=actor, key=key, request=request, now=now, operation=operation)
    )


def spend(
    uow: UnitOfWork,
    *,
    scheme: Mapping[str, Any],
    owner_id: str,
    amount_minor: int,
    payable_account_id: str,
    categories: Collection[str] | None,
    now: dt.datetime,
    actor: str,
    key: str,
    kind: str = TransactionKind.REDEEM,
    outlet_id: str | None = None,
    metadata: Mapping[str, Any] | None = None,
    zone: dt.tzinfo | None = None,
) -> Receipt:
    """Take from a wallet's eligible lots, earliest expiry first, into one account (counted on its day)."""
    request = {
        "op": kind,
        "scheme": scheme["id"],
        "owner": owner_id,
        "amount_minor": positive_amount(amount_minor),
        "to": payable_account_id,
        "outlet": outlet_id,
        "metadata": dict(metadata or {}),
    }

    def operation() -> dict[str, Any]:
        return draw(
            uow,
            scheme,
            owner_id,
            amount_minor,
            payable_account_id,
            categories,
            now,
            kind=kind,
            actor=actor,
            key=key,
            outlet_id=outlet_id,
            metadata=metadata,
            zone=zone,
        )

    return Receipt.from_dict(
        idempotent(uow, scope=actor, key=key, request=request, now=now, operation=operation)
    )


def draw(
    uow: UnitOfWork,
    scheme: Mapping[str, Any],
    owner_id: str,
    amount_minor: int,
    to_account_id: str,
    categories: Collection[str] | None,
    now: dt.datetime,
    *,
    kind: str,
    actor: str,
    key: str,
    outlet_id: str | None,
    metadata: Mapping[str, Any] | None,
    zone: dt.tzinfo | None = None,
    lots: Sequence[LotRecord] | None = None,
) -> dict[str, Any]:
    """Take from the wallet's eligible lots (earliest expiry first) and pay one account; not idempotent.

    `lots` is the wallet as the caller already locked and read it (`locked_wallet`), so a rule-checked
    spend reads it once; without it the wallet is locked and read here."""
    unit = Unit(scheme["unit"])
    positive_amount(amount_minor)
    if lots is None:
        lots = locked_wallet(uow, owner_id, scheme["id"], now)  # a timed-out hold's funds count again
    plan = plan_spend(lots, amount_minor, now, categories, unit=unit)
    lines = transfer_lines(unit, plan, to_account_id)
    tx = draft(
        kind=kind,
        postings=lines,
        now=now,
        actor=actor,
        idempotency_key=key,
        outlet_id=outlet_id,
        scheme_id=scheme["id"],
        rule_version=scheme["version"],
        metadata=metadata,
    )
    record(uow, tx)
    if kind in SPEND_COUNTED_KINDS:  # the per-day limit reads this counter, kept in the same transaction
        uow.activity.count_spend(owner_id, scheme["id"], council_day(now, zone), amount_minor)
    before = sum(lot.balance_minor for lot in lots)
    return Receipt(
        tx.id, kind, scheme["unit"], amount_minor, rfc3339(now), tuple(plan), before - amount_minor
    ).to_dict()


def transfer(
    uow: UnitOfWork,
    *,
    scheme: Mapping[str, Any],
    from_owner_id: str,
    to_owner_id: str,
    amount_minor: int,
    now: dt.datetime,
    actor: str,
    key: str,
    metadata: Mapping[str, Any] | None = None,
) -> Receipt:
    """Member to member within one scheme: from the payer's lots to the payee's main lot."""
    if from_owner_id == to_owner_id:
        raise ValidationFailed("a transfer needs two different members")
    request = {
        "op": "transfer",
        "scheme": scheme["id"],
        "from": from_owner_id,
        "to": to_owner_id,
        "amount_minor": positive_amount(amount_minor),
        "metadata": dict(metadata or {}),
    }

    def operation() -> dict[str, Any]:
        target = main_lot(uow, scheme, to_owner_id, now)
        return draw(
            uow,
            scheme,
            from_owner_id,
            amount_minor,
            target,
            None,
            now,
            kind=TransactionKind.TRANSFER,
            actor=actor,
            key=key,
            outlet_id=None,
            metadata=metadata,
        )

    return Receipt.from_dict(
        idempotent(uow, scope=actor, key=key, request=request, now=now, operation=operation)
    )


def reverse(
    uow: UnitOfWork,
    *,
    transaction_id: str,
    now: dt.datetime,
    actor: str,
    key: str,
    reason: str = "",
    kind: str = TransactionKind.REVERSAL,
) -> Receipt:
    """Post the exact opposite of a transaction, once; the original stays as it was."""
    request = {"op": "reverse", "transaction": transaction_id, "reason": reason}

    def operation() -> dict[str, Any]:
        original = uow.journal.get(transaction_id)
        if original is None:
            raise NotFound(f"no transaction {transaction_id}")
        if original.kind not in REVERSIBLE_KINDS:
            raise Conflict(f"{original.kind} transactions cannot be reversed")
        if uow.journal.reversal_of(transaction_id) is not None:
            raise Conflict("this transaction has already been reversed")
        lines = [Posting(p.account_id, p.unit, -p.amount_minor) for p in reversed(original.postings)]
        tx = draft(
            kind=kind,
            postings=lines,
            now=now,
            actor=actor,
            idempotency_key=key,
            outlet_id=original.outlet_id,
            scheme_id=original.scheme_id,
            rule_version=original.rule_version,
            reverses_id=original.id,
            metadata={"reason": reason} if reason else {},
        )
        record(uow, tx)
        if kind == TransactionKind.REFUND and original.kind in SPEND_COUNTED_KINDS:
            _uncount_refund(uow, original)
        amount = sum(p.amount_minor for p in original.postings if p.amount_minor > 0)
        unit = original.postings[0].unit.value
        return Receipt(tx.id, kind, unit, amount, rfc3339(now), reverses_id=original.id).to_dict()

    return Receipt.from_dict(
        idempotent(uow, scope=actor, key=key, request=request, now=now, operation=operation)
    )


def _uncount_refund(uow: UnitOfWork, original: Any) -> None:
    """A refunded spend no longer counts towards the day it was made on."""
    drawn = [p for p in original.postings if p.amount_minor < 0]
    lot = uow.lots.wallet_lot(drawn[0].account_id)
    assert lot is not None, "a redemption draws on wallet lots"
    amount = -sum(p.amount_minor for p in drawn)
    uow.activity.uncount_spend(lot.owner_id, lot.scheme_id, original.recorded_at, amount)
