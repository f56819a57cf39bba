"""Two-phase spends: a hold reserves funds; capture (all or part) or void; a timed-out hold releases."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Mapping
from typing import Any

from ledger.clock import rfc3339
from ledger.errors import Conflict, Expired, NotFound, ValidationFailed
from ledger.journal import Posting
from ledger.ports import UnitOfWork
from ledger.receipts import Receipt
from ledger.records import HoldRecord
from ledger.units import AccountKind, Unit
from ledger.usecases.common import draft, idempotent, new_id, record, transfer_lines
from ledger.wallets import plan_spend

MAX_HOLD_TIMEOUT_SECONDS = 7 * 24 * 3600


def place_hold(
    uow: UnitOfWork,
    *,
    scheme: Mapping[str, Any],
    owner_id: str,
    amount_minor: int,
    payable_account_id: str,
    categories: Collection[str] | None,
    timeout_seconds: int,
    now: dt.datetime,
    actor: str,
    key: str,
    outlet_id: str | None = None,
) -> Receipt:
    """Move funds from the wallet's lots into a fresh hold account until capture, void or timeout."""
    if type(amount_minor) is not int or amount_minor <= 0:
        raise ValidationFailed("amount_minor is a positive integer")
    if type(timeout_seconds) is not int or not 1 <= timeout_seconds <= MAX_HOLD_TIMEOUT_SECONDS:
        raise ValidationFailed("timeout_seconds is between 1 second and 7 days")
    request = {
        "op": "hold",
        "scheme": scheme["id"],
        "owner": owner_id,
        "amount_minor": amount_minor,
        "to": payable_account_id,
        "timeout_seconds": timeout_seconds,
    }

    def operation() -> dict[str, Any]:
        unit = Unit(scheme["unit"])
        lots = uow.lots.wallet(owner_id, scheme["id"], lock=True)
        plan = plan_spend(lots, amount_minor, now, categories)
        hold_id = new_id()
        hold_account = uow.accounts.open(
            id=new_id(), name=f"hold:{hold_id}", unit=unit, kind=AccountKind.HOLD, floor_minor=0, now=now
        )
        tx = draft(
            kind="hold",
            postings=transfer_lines(unit, plan, hold_account.id),
            now=now,
            actor=actor,
            idempotency_key=key,
            outlet_id=outlet_id,
            scheme_id=scheme["id"],
            rule_version=scheme["version"],
            metadata={"hold_id": hold_id},
        )
        record(uow, tx)
        uow.holds.create(
            HoldRecord(
                id=hold_id,
                status="pending",
                owner_id=owner_id,
                scheme_id=scheme["id"],
                unit=unit,
                amount_minor=amount_minor,
                hold_account_id=hold_account.id,
                payable_account_id=payable_account_id,
                outlet_id=outlet_id,
                hold_transaction_id=tx.id,
                resolved_transaction_id=None,
                expires_at=now + dt.timedelta(seconds=timeout_seconds),
                created_at=now,
            )
        )
        return Receipt(
            tx.id, "hold", unit.value, amount_minor, rfc3339(now), tuple(plan), hold_id=hold_id
        ).to_dict()

    return Receipt.from_dict(
        idempotent(uow, scope=actor, key=key, request=request, now=now, operation=operation)
    )


def _returns(
    hold_postings: tuple[Posting, ...], hold_account_id: str, amount_minor: int
) -> list[tuple[str, int]]:
    """Which lots get `amount_minor` back: the lots drawn last are refilled first."""
    drawn = [(p.account_id, -p.amount_minor) for p in hold_postings if p.account_id != hold_account_id]
    remaining = amount_minor
    result: list[tuple[str, int]] = []
    for account_id, taken in reversed(drawn):
        give = min(taken, remaining)
        if give > 0:
            result.append((account_id, give))
            remaining -= give
    assert remaining == 0, "a hold returns no more than it took"
    return result


def resolve_hold(
    uow: UnitOfWork,
    *,
    hold_id: str,
    capture_minor: int,
    now: dt.datetime,
    actor: str,
    key: str,
    outcome: str,
    outlet_id: str | None = None,
) -> Receipt:
    """Capture `capture_minor` to the payee and return the rest to the wallet; outcome names the status."""
    assert outcome in {"captured", "voided", "expired"}
    request = {"op": outcome, "hold": hold_id, "capture_minor": capture_minor}

    def operation() -> dict[str, Any]:
        hold: HoldRecord | None = uow.holds.get(hold_id, lock=True)
        if hold is None or (outlet_id is not None and hold.outlet_id != outlet_id):
            raise NotFound(f"no hold {hold_id}")
        if hold.status != "pending":
            raise Conflict(f"the hold is already {hold.status}")
        if outcome == "captured" and hold.expires_at <= now:
            raise Expired("the hold has timed out")
        if type(capture_minor) is not int or not 0 <= capture_minor <= hold.amount_minor:
            raise ValidationFailed("capture between zero and the held amount")
        original = uow.journal.get(hold.hold_transaction_id)
        lines = [Posting(hold.hold_account_id, hold.unit, -hold.amount_minor)]
        if capture_minor:
            lines.append(Posting(hold.payable_account_id, hold.unit, capture_minor))
        give_back = _returns(original.postings, hold.hold_account_id, hold.amount_minor - capture_minor)
        lines.extend(Posting(account_id, hold.unit, amount) for account_id, amount in give_back)
        kind = {"captured": "capture", "voided": "void", "expired": "hold_expiry"}[outcome]
        tx = draft(
            kind=kind,
            postings=lines,
            now=now,
            actor=actor,
            idempotency_key=key,
            outlet_id=hold.outlet_id,
            scheme_id=hold.scheme_id,
            metadata={"hold_id": hold.id},
        )
        record(uow, tx)
        if not uow.holds.resolve(hold.id, outcome, tx.id):
            raise Conflict("the hold was resolved concurrently")
        return Receipt(
            tx.id, kind, hold.unit.value, capture_minor, rfc3339(now), tuple(give_back), hold_id=hold.id
        ).to_dict()

    return Receipt.from_dict(
        idempotent(uow, scope=actor, key=key, request=request, now=now, operation=operation)
    )
