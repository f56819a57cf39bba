"""Two-phase spends: a hold reserves funds; capture (all or part) or void; a timed-out hold releases.

A hold past its timeout gives its funds back the instant it times out, with no job needed: every write
that draws on a wallet first releases that wallet's timed-out holds in its own database transaction
(`locked_wallet`), and reads show the lots as that release will leave them (`as_released`). The sweep in
ledger.usecases.expiry posts the release for wallets nobody touched. Each release is guarded by the hold
row itself (locked, and moved from pending exactly once), so a wallet's own release, the sweep and a
concurrent capture can never release or pay one hold twice.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Collection, Mapping, Sequence
from typing import Any

from ledger.clock import rfc3339
from ledger.errors import Conflict, Expired, NotFound, ValidationFailed
from ledger.journal import Posting
from ledger.kinds import TransactionKind
from ledger.ports import UnitOfWork
from ledger.receipts import Receipt
from ledger.records import HoldRecord, LotRecord
from ledger.units import AccountKind, Unit, format_amount
from ledger.usecases.common import draft, idempotent, new_id, record, transfer_lines
from ledger.usecases.spending import council_day
from ledger.wallets import plan_spend

MAX_HOLD_TIMEOUT_SECONDS = 7 * 24 * 3600
TIMEOUT_ACTOR = "system:hold-timeout"
OUTCOME_KINDS = {
    "captured": TransactionKind.CAPTURE,
    "voided": TransactionKind.VOID,
    "expired": TransactionKind.HOLD_EXPIRY,
}


@dataclasses.dataclass(frozen=True)
class HoldResolution:
    """What capturing, voiding or timing out a hold did: paid to the outlet, and given back to which lots."""

    transaction_id: str
    kind: str
    hold_id: str
    unit: str
    captured_minor: int
    returned_minor: int
    returned_to: tuple[tuple[str, int], ...]
    recorded_at: str

    def to_dict(self) -> dict[str, Any]:
        """As JSON-ready data (stored with the idempotency key)."""
        data = dataclasses.asdict(self)
        data["returned_to"] = [list(item) for item in self.returned_to]
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> HoldResolution:
        """Back from stored data."""
        returned_to = tuple((str(lot), int(amount)) for lot, amount in data["returned_to"])
        return cls(**{**data, "returned_to": returned_to})


def timeout_key(hold_id: str) -> str:
    """The idempotency key of the transaction that releases a timed-out hold, whoever posts it."""
    return f"hold-timeout:{hold_id}"


def locked_wallet(uow: UnitOfWork, owner_id: str, scheme_id: str, now: dt.datetime) -> list[LotRecord]:
    """Release the wallet's timed-out holds, then lock and read its lots: what any draw on it must use."""
    # Holds first, lots second: the sweep and a capture lock a hold before the lots it refills, so every
    # writer takes these locks in one order and none waits on another in a cycle.
    for hold in uow.holds.timed_out_of_wallet(owner_id, scheme_id, now, lock=True):
        _settle(uow, hold, 0, now, actor=TIMEOUT_ACTOR, key=timeout_key(hold.id), outcome="expired")
    lots: list[LotRecord] = uow.lots.wallet(owner_id, scheme_id, lock=True)
    return lots


def as_released(
    uow: UnitOfWork, lots: Sequence[LotRecord], owner_id: str, scheme_id: str, now: dt.datetime
) -> tuple[list[LotRecord], list[HoldRecord]]:
    """For reads: the lots as releasing the wallet's timed-out holds will leave them, and those holds."""
    timed_out: list[HoldRecord] = uow.holds.timed_out_of_wallet(owner_id, scheme_id, now, lock=False)
    back: dict[str, int] = {}
    for hold in timed_out:
        original = uow.journal.get(hold.hold_transaction_id)
        for account_id, amount in _returns(original.postings, hold.hold_account_id, hold.amount_minor):
            back[account_id] = back.get(account_id, 0) + amount
    released = [
        dataclasses.replace(lot, balance_minor=lot.balance_minor + back.get(lot.account_id, 0))
        for lot in lots
    ]
    return released, timed_out


def release_if_timed_out(uow: UnitOfWork, hold_id: str, now: dt.datetime, actor: str) -> bool:
    """Release one hold if it is still pending past its timeout (for the sweep); False if not."""
    hold: HoldRecord | None = uow.holds.get(hold_id, lock=True)
    if hold is None or hold.status != "pending" or hold.expires_at > now:
        return False  # captured, voided or released by a spend meanwhile: nothing to release
    _settle(uow, hold, 0, now, actor=actor, key=timeout_key(hold.id), outcome="expired")
    return True


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
    zone: dt.tzinfo | None = None,
) -> Receipt:
    """Move funds from the wallet's lots into a fresh hold account until capture, void or timeout (once)."""
    _check_hold_request(amount_minor, timeout_seconds)
    request = {
        "op": "hold",
        "scheme": scheme["id"],
        "owner": owner_id,
        "amount_minor": amount_minor,
        "to": payable_account_id,
        "timeout_seconds": timeout_seconds,
    }
    wallet = HeldWallet(owner_id, categories, None)

    def operation() -> dict[str, Any]:
        return hold_funds(
            uow,
            scheme=scheme,
            wallet=wallet,
            amount_minor=amount_minor,
            payable_account_id=payable_account_id,
            timeout_seconds=timeout_seconds,
            now=now,
            actor=actor,
            key=key,
            outlet_id=outlet_id,
            zone=zone,
        )

    return Receipt.from_dict(
        idempotent(uow, scope=actor, key=key, request=request, now=now, operation=operation)
    )


@dataclasses.dataclass(frozen=True)
class HeldWallet:
    """Whose wallet a hold draws on, where (lot categories), the lots the caller already locked, and the
    plan the spend path's one planner made of them (None: plan them here)."""

    owner_id: str
    categories: Collection[str] | None
    lots: Sequence[LotRecord] | None
    plan: Sequence[tuple[str, int]] | None = None


def hold_funds(
    uow: UnitOfWork,
    *,
    scheme: Mapping[str, Any],
    wallet: HeldWallet,
    amount_minor: int,
    payable_account_id: str,
    timeout_seconds: int,
    now: dt.datetime,
    actor: str,
    key: str,
    outlet_id: str | None,
    zone: dt.tzinfo | None,
) -> dict[str, Any]:
    """Post a hold (not idempotent: the caller keeps the one idempotency record) and count it as spent."""
    _check_hold_request(amount_minor, timeout_seconds)
    unit = Unit(scheme["unit"])
    owner_id = wallet.owner_id
    lots = wallet.lots if wallet.lots is not None else locked_wallet(uow, owner_id, scheme["id"], now)
    if wallet.plan is not None:
        assert wallet.lots is not None, "a plan is made of lots the caller locked"
        plan = list(wallet.plan)
        assert sum(amount for _, amount in plan) == amount_minor, "the plan holds the amount asked for"
    else:
        plan = plan_spend(lots, amount_minor, now, wallet.categories, unit=unit)
    hold_id = new_id()
    hold_account = uow.accounts.open(
        id=new_id(), name=f"hold:{hold_id}", unit=unit, kind=AccountKind.HOLD, floor_minor=0, now=now
    )
    tx = draft(
        kind=TransactionKind.HOLD,
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
    # Held counts as spent today; what the hold gives back is taken off that day when it resolves.
    uow.activity.count_spend(owner_id, scheme["id"], council_day(now, zone), amount_minor)
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
    after = sum(lot.balance_minor for lot in lots) - amount_minor
    receipt = Receipt(tx.id, "hold", unit.value, amount_minor, rfc3339(now), tuple(plan), after)
    return {**receipt.to_dict(), "hold_id": hold_id}


def _check_hold_request(amount_minor: int, timeout_seconds: int) -> None:
    if type(amount_minor) is not int or amount_minor <= 0:
        raise ValidationFailed("amount_minor is a positive integer")
    if type(timeout_seconds) is not int or not 1 <= timeout_seconds <= MAX_HOLD_TIMEOUT_SECONDS:
        raise ValidationFailed("timeout_seconds is between 1 second and 7 days")


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
) -> HoldResolution:
    """Capture `capture_minor` to the payee and return the rest to the wallet; outcome names the status."""
    assert outcome in OUTCOME_KINDS
    request = {"op": outcome, "hold": hold_id, "capture_minor": capture_minor}

    def operation() -> dict[str, Any]:
        hold: HoldRecord | None = uow.holds.get(hold_id, lock=True)
        if hold is None or (outlet_id is not None and hold.outlet_id != outlet_id):
            raise NotFound(f"no hold {hold_id}")
        if hold.status in {"captured", "voided"}:
            raise Conflict(f"the hold is already {hold.status}")
        if outcome == "captured" and (hold.status == "expired" or hold.expires_at <= now):
            # Timed out, whether or not its release has been posted yet: the funds are the card's again.
            raise Expired(f"the hold timed out at {rfc3339(hold.expires_at)}; its funds are back on the card")
        if hold.status != "pending":
            raise Conflict(f"the hold is already {hold.status}")
        if type(capture_minor) is not int or not 0 <= capture_minor <= hold.amount_minor:
            held = format_amount(hold.amount_minor, hold.unit)
            raise ValidationFailed(
                f"capture between {format_amount(0, hold.unit)} and {held} (the held amount)",
                held_minor=hold.amount_minor,
                unit=hold.unit.value,
            )
        return _settle(uow, hold, capture_minor, now, actor=actor, key=key, outcome=outcome).to_dict()

    return HoldResolution.from_dict(
        idempotent(uow, scope=actor, key=key, request=request, now=now, operation=operation)
    )


def _settle(
    uow: UnitOfWork,
    hold: HoldRecord,
    capture_minor: int,
    now: dt.datetime,
    *,
    actor: str,
    key: str,
    outcome: str,
) -> HoldResolution:
    """Post the capture (or none) and the return of the rest, and move the (locked) hold out of pending."""
    original = uow.journal.get(hold.hold_transaction_id)
    lines = [Posting(hold.hold_account_id, hold.unit, -hold.amount_minor)]
    if capture_minor:
        lines.append(Posting(hold.payable_account_id, hold.unit, capture_minor))
    give_back = _returns(original.postings, hold.hold_account_id, hold.amount_minor - capture_minor)
    lines.extend(Posting(account_id, hold.unit, amount) for account_id, amount in give_back)
    kind = OUTCOME_KINDS[outcome]
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
    uow.activity.uncount_spend(
        hold.owner_id, hold.scheme_id, hold.created_at, hold.amount_minor - capture_minor
    )
    return HoldResolution(
        transaction_id=tx.id,
        kind=kind,
        hold_id=hold.id,
        unit=hold.unit.value,
        captured_minor=capture_minor,
        returned_minor=hold.amount_minor - capture_minor,
        returned_to=tuple(give_back),
        recorded_at=rfc3339(now),
    )
