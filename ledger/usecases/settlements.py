"""Settlement batches: each outlet's GBP payable up to a period end becomes a line; a second finance user
approves (the two-person rule), and approval moves every payable line into settlement clearing at once.

A line is what the outlet earned up to the period end less everything already settled, so a refund after a
settlement makes the next batch's line smaller, or negative: a negative (or zero) line is carried, never
paid and never lost, because it stays in the outlet's payable account for the batch after."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping
from typing import Any

from ledger.actors import Actor, as_actor
from ledger.errors import Conflict, NotFound, TwoPersonRule, ValidationFailed
from ledger.journal import MAX_POSTINGS_PER_TRANSACTION, Posting
from ledger.ports import UnitOfWork
from ledger.units import AccountKind, Unit, format_amount
from ledger.usecases.common import draft, ensure_account, funding_source, new_id, record
from ledger.usecases.replays import once_per_key
from ledger.usecases.staff_log import record_action

SETTLE_KIND = "settle"  # payable → clearing, and clearing → bank
SETTLE_RETURN_KIND = "settle_return"  # a reversed or failed transfer: the money owed again
SETTLEMENT_KINDS = (SETTLE_KIND, SETTLE_RETURN_KIND)
CLEARING_ACCOUNT = "settlement:clearing:GBP"
# Each move is two postings at most, so a chunk of moves always fits one transaction's posting limit.
MOVES_PER_TRANSACTION = MAX_POSTINGS_PER_TRANSACTION // 2 - 1
STRIPE_MODE, PAYMENT_FILE_MODE = "stripe", "payment_file"
AWAITING_APPROVAL, PAYING, PAID = "awaiting_approval", "paying", "paid"
# Line statuses: to_pay (awaiting approval), carried (≤ 0), held (no payee details), in_clearing (approved),
# transferred (a Stripe transfer exists), paid (confirmed: in the bank), returned (reversed or failed).
TO_PAY, CARRIED, HELD, IN_CLEARING, TRANSFERRED, LINE_PAID, RETURNED = (
    "to_pay",
    "carried",
    "held",
    "in_clearing",
    "transferred",
    "paid",
    "returned",
)
OPEN_LINE_STATUSES = (IN_CLEARING, TRANSFERRED)
CARRIED_REASON = (
    "refunds since the last settlement came to more than its redemptions: carried to the next batch"
)


@dataclasses.dataclass(frozen=True)
class SettlementLine:
    """One outlet's line of a batch."""

    outlet_id: str
    outlet_name: str
    amount_minor: int
    status: str
    reason: str | None
    destination: str | None
    transfer_id: str | None
    settled_at: dt.datetime | None

    @property
    def amount(self) -> str:
        """The amount as people read it."""
        return format_amount(self.amount_minor, Unit.GBP)


@dataclasses.dataclass(frozen=True)
class SettlementBatch:
    """A batch of outlet payables for a period, and where it is on its way to the outlets."""

    id: str
    sequence: int
    period_start: dt.datetime | None
    period_end: dt.datetime
    mode: str
    status: str
    created_by: str
    created_at: dt.datetime
    approved_by: str | None
    approved_at: dt.datetime | None
    paid_by: str | None
    paid_at: dt.datetime | None
    lines: tuple[SettlementLine, ...]

    @property
    def total_to_pay_minor(self) -> int:
        """What this batch pays (or would pay): its positive lines that are not held back."""
        return sum(line.amount_minor for line in self.lines if line.status not in (CARRIED, HELD, RETURNED))

    @property
    def total_to_pay(self) -> str:
        """The total as people read it."""
        return format_amount(self.total_to_pay_minor, Unit.GBP)

    def may_be_approved_by(self, actor_name: str) -> bool:
        """The two-person rule: anyone but the creator (finance, checked by the caller) approves."""
        return self.status == AWAITING_APPROVAL and actor_name != self.created_by

    def check_approver(self, actor_name: str) -> None:
        """Refuse an approval the rule does not allow, saying why."""
        if self.status != AWAITING_APPROVAL:
            raise Conflict(f"this batch is already {self.status.replace('_', ' ')}: nothing to approve")
        if actor_name == self.created_by:
            raise TwoPersonRule(
                "you made this batch, so you cannot approve it: ask another finance user to approve it"
            )


@dataclasses.dataclass(frozen=True)
class PreviewLine:
    """A line a batch would have."""

    outlet_id: str
    outlet_name: str
    amount_minor: int
    carried: bool


@dataclasses.dataclass(frozen=True)
class SettlementPreview:
    """The lines and totals a batch for this period end would have, before it is made."""

    period_start: dt.datetime | None
    period_end: dt.datetime
    lines: tuple[PreviewLine, ...]

    @property
    def total_to_pay_minor(self) -> int:
        """The sum of the lines that would be paid."""
        return sum(line.amount_minor for line in self.lines if not line.carried)

    @property
    def carried_minor(self) -> int:
        """The sum of the negative lines carried to the next batch."""
        return sum(line.amount_minor for line in self.lines if line.carried)


def _check_period_end(uow: UnitOfWork, period_end: dt.datetime, now: dt.datetime) -> dict[str, Any] | None:
    if period_end.tzinfo is None:
        raise ValidationFailed("period_end: give a time zone")
    if period_end > now:
        raise ValidationFailed("period_end: the period must have ended; choose an instant in the past")
    latest: dict[str, Any] | None = uow.settlements.latest_batch()
    if latest is not None and latest["status"] == AWAITING_APPROVAL:
        raise Conflict("the previous batch still awaits approval: approve it before making the next one")
    if latest is not None and period_end <= latest["period_end"]:
        raise ValidationFailed("period_end: choose an instant after the end of the previous batch")
    return latest


def preview_settlement(uow: UnitOfWork, *, period_end: dt.datetime, now: dt.datetime) -> SettlementPreview:
    """What a batch for this period end would hold: every outlet with something owed or carried."""
    latest = _check_period_end(uow, period_end, now)
    owed: dict[str, int] = uow.settlements.owed_by_outlet(period_end, SETTLEMENT_KINDS)
    names: dict[str, str] = uow.books.outlet_names([o for o, amount in owed.items() if amount])
    lines = tuple(
        PreviewLine(outlet_id, names.get(outlet_id, outlet_id), amount, amount <= 0)
        for outlet_id, amount in sorted(owed.items(), key=lambda item: (names.get(item[0], ""), item[0]))
        if amount != 0
    )
    return SettlementPreview(latest["period_end"] if latest else None, period_end, lines)


def create_settlement(
    uow: UnitOfWork,
    *,
    period_end: dt.datetime,
    stripe_on: bool,
    now: dt.datetime,
    actor: Actor | str,
    idempotency_key: str | None,
) -> SettlementBatch:
    """Make a batch for the period ending at `period_end` (it starts where the previous batch ended)."""
    who = as_actor(actor)

    def operation() -> dict[str, Any]:
        preview = preview_settlement(uow, period_end=period_end, now=now)
        latest = uow.settlements.latest_batch()
        batch_id = new_id()
        batch = {
            "id": batch_id,
            "sequence": (latest["sequence"] if latest else 0) + 1,
            "period_start": preview.period_start,
            "period_end": period_end,
            "mode": STRIPE_MODE if stripe_on else PAYMENT_FILE_MODE,
            "status": AWAITING_APPROVAL,
            "created_by": who.name,
            "created_at": now,
        }
        lines = [
            {
                "outlet_id": line.outlet_id,
                "amount_minor": line.amount_minor,
                "status": CARRIED if line.carried else TO_PAY,
                "reason": CARRIED_REASON if line.carried else None,
            }
            for line in preview.lines
        ]
        uow.settlements.add_batch(batch, lines)
        detail = {"period_end": period_end.isoformat(), "lines": len(lines), "mode": batch["mode"]}
        detail["total_to_pay_minor"] = preview.total_to_pay_minor
        record_action(uow, actor=who, action="settlement.create", target=batch_id, detail=detail, now=now)
        return {"batch_id": batch_id}

    request = {"op": "settlement.create", "period_end": period_end.isoformat(), "stripe": stripe_on}
    made = once_per_key(uow, actor=who, key=idempotency_key, request=request, now=now, operation=operation)
    return get_settlement(uow, made["batch_id"])


def get_settlement(uow: UnitOfWork, batch_id: str) -> SettlementBatch:
    """A batch and its lines, or NotFound."""
    row = uow.settlements.batch(batch_id) if 0 < len(batch_id) <= 36 else None
    if row is None:
        raise NotFound(f"no settlement batch {batch_id}")
    lines = tuple(_line(line) for line in uow.settlements.lines(batch_id))
    fields = {field.name for field in dataclasses.fields(SettlementBatch)} - {"lines"}
    return SettlementBatch(**{name: row[name] for name in fields}, lines=lines)


def _line(row: Mapping[str, Any]) -> SettlementLine:
    fields = {field.name for field in dataclasses.fields(SettlementLine)}
    return SettlementLine(**{name: row[name] for name in fields})


def list_settlements(uow: UnitOfWork, *, limit: int, starting_after: str) -> list[SettlementBatch]:
    """Batches newest first; `starting_after` is the id of the last batch of the previous page."""
    before = None
    if starting_after:
        cursor = uow.settlements.batch(starting_after) if len(starting_after) <= 36 else None
        if cursor is None:
            raise ValidationFailed("starting_after is not the id of a settlement batch")
        before = cursor["sequence"]
    rows = uow.settlements.batches(limit=limit, before_sequence=before)
    return [get_settlement(uow, row["id"]) for row in rows]


def clearing_account(uow: UnitOfWork, now: dt.datetime) -> str:
    """Where approved settlements wait until the money is confirmed out of the bank."""
    return ensure_account(
        uow, name=CLEARING_ACCOUNT, unit=Unit.GBP, kind=AccountKind.PAYABLE, floor_minor=None, now=now
    ).id


def bank_account(uow: UnitOfWork, now: dt.datetime) -> str:
    """The council's bank, where settled money goes out."""
    return funding_source(uow, Unit.GBP, now).id


def payable_account_id(uow: UnitOfWork, outlet_id: str) -> str:
    """An outlet's GBP payable account (it exists: the line came from it)."""
    account = uow.accounts.by_name(f"outlet:{outlet_id}:payable:GBP")
    assert account is not None, f"outlet {outlet_id} has a line but no payable account"
    return str(account.id)


def post_settlement(
    uow: UnitOfWork,
    *,
    moves: list[tuple[str, str, int]],
    batch_id: str,
    now: dt.datetime,
    actor: str,
    kind: str = SETTLE_KIND,
    metadata: Mapping[str, Any] | None = None,
) -> list[str]:
    """Balanced transactions of (from account, to account, amount) moves, in the caller's one database
    transaction: as few as a transaction's posting limit allows (a borough's 300 outlets take two)."""
    ids = []
    for start in range(0, len(moves), MOVES_PER_TRANSACTION):
        lines = _settlement_postings(moves[start : start + MOVES_PER_TRANSACTION])
        transaction = draft(
            kind=kind,
            postings=lines,
            now=now,
            actor=actor,
            idempotency_key=None,
            metadata={"settlement_batch": batch_id, **dict(metadata or {})},
        )
        record(uow, transaction)
        ids.append(transaction.id)
    return ids


def _settlement_postings(moves: list[tuple[str, str, int]]) -> list[Posting]:
    """One posting per account (a chunk of a batch into clearing is one credit); the invariant re-checked."""
    deltas: dict[str, int] = {}
    for source, target, amount_minor in moves:
        assert amount_minor > 0, "a settlement moves a positive amount"
        deltas[source] = deltas.get(source, 0) - amount_minor
        deltas[target] = deltas.get(target, 0) + amount_minor
    lines = [Posting(account, Unit.GBP, delta) for account, delta in sorted(deltas.items()) if delta]
    assert 2 <= len(lines) <= MAX_POSTINGS_PER_TRANSACTION, "a settlement transaction's postings"
    assert sum(line.amount_minor for line in lines) == 0, "settlement postings sum to zero"
    return lines
