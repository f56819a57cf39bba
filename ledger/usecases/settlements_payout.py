"""Approving a batch and paying it: approval moves every payable line into clearing in one transaction
(one decision, all of it or none); each line then leaves clearing for the bank on its own, when Stripe
confirms its transfer or, for a payment file, when finance confirms the bank paid the file.

A Stripe transfer is asked for outside any database transaction, with an idempotency key derived from the
line (`settlement-<batch>-<outlet>`), and its id is stored afterwards: a crash in between leaves the line
in clearing, and the re-run asks again with the same key, so Stripe answers with the same transfer."""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
from collections.abc import Callable
from typing import Any, Protocol, TypeVar

from ledger.actors import Actor, as_actor
from ledger.errors import Conflict, LedgerError
from ledger.ports import UnitOfWork
from ledger.usecases.replays import once_per_key
from ledger.usecases.settlements import (
    HELD,
    IN_CLEARING,
    LINE_PAID,
    OPEN_LINE_STATUSES,
    PAID,
    PAYING,
    PAYMENT_FILE_MODE,
    RETURNED,
    SETTLE_RETURN_KIND,
    STRIPE_MODE,
    TO_PAY,
    TRANSFERRED,
    SettlementBatch,
    bank_account,
    clearing_account,
    get_settlement,
    payable_account_id,
    post_settlement,
)
from ledger.usecases.settlements_payees import payees_of
from ledger.usecases.staff_log import record_action

T = TypeVar("T")
Write = Callable[[Callable[[UnitOfWork], T]], T]


@dataclasses.dataclass(frozen=True)
class TransferState:
    """What Stripe says about one transfer."""

    id: str
    amount_minor: int
    destination: str
    reversed: bool


class TransferGateway(Protocol):
    """Stripe Connect transfers, as settlement needs them (clubcard.stripe_transfers implements it)."""

    def create_transfer(
        self, *, amount_minor: int, destination: str, idempotency_key: str, metadata: dict[str, str]
    ) -> TransferState:
        """Ask for a transfer once per key (a repeat returns the first transfer)."""
        ...

    def transfer(self, transfer_id: str) -> TransferState:
        """The transfer as Stripe has it now."""
        ...


@dataclasses.dataclass(frozen=True)
class PayoutCounts:
    """What a payout or reconcile run did."""

    transferred: int = 0
    confirmed: int = 0
    returned: int = 0
    failed: int = 0


def transfer_key(batch_id: str, outlet_id: str, attempt: int = 0) -> str:
    """The idempotency key of a line's transfer: the same for every run, so it is paid once. Only after
    Stripe refused it outright (nothing paid; Stripe replays a refusal to the same key) is it a new one."""
    base = f"settlement-{batch_id}-{outlet_id}"
    return base if attempt == 0 else f"{base}-attempt-{attempt}"


def approve_settlement(
    uow: UnitOfWork, *, batch_id: str, now: dt.datetime, actor: Actor | str, idempotency_key: str | None
) -> SettlementBatch:
    """The second finance user's approval: lines with payout details go into clearing, others are held."""
    who = as_actor(actor)

    def operation() -> dict[str, Any]:
        batch = get_settlement(uow, batch_id)
        batch.check_approver(who.name)
        if not uow.settlements.move_batch(batch_id, batch.status, _approved(batch, who.name, now)):
            raise Conflict("someone else approved this batch first")
        to_pay = [line for line in batch.lines if line.status == TO_PAY]
        payees = payees_of(uow, [line.outlet_id for line in to_pay])
        clearing, moves, held = clearing_account(uow, now), [], 0
        for line in to_pay:
            payee = payees[line.outlet_id]
            reason = payee.hold_reason(batch.mode)
            if reason is not None:
                uow.settlements.move_line(
                    batch_id, line.outlet_id, TO_PAY, {"status": HELD, "reason": reason}
                )
                held += 1
                continue
            destination = payee.connected_account_id if batch.mode == STRIPE_MODE else None
            values = {"status": IN_CLEARING, "destination": destination}
            uow.settlements.move_line(batch_id, line.outlet_id, TO_PAY, values)
            moves.append((payable_account_id(uow, line.outlet_id), clearing, line.amount_minor))
        if moves:
            post_settlement(uow, moves=moves, batch_id=batch_id, now=now, actor=who.name)
        else:
            uow.settlements.move_batch(batch_id, PAYING, {"status": PAID, "paid_at": now})
        detail = {"in_clearing": len(moves), "held": held, "mode": batch.mode}
        record_action(uow, actor=who, action="settlement.approve", target=batch_id, detail=detail, now=now)
        return {"batch_id": batch_id}

    request = {"op": "settlement.approve", "batch_id": batch_id}
    once_per_key(uow, actor=who, key=idempotency_key, request=request, now=now, operation=operation)
    return get_settlement(uow, batch_id)


def _approved(batch: SettlementBatch, approver: str, now: dt.datetime) -> dict[str, Any]:
    return {"status": PAYING, "approved_by": approver, "approved_at": now}


def pay_out(write: Write[Any], gateway: TransferGateway) -> PayoutCounts:
    """Transfer every approved Stripe line still in clearing (a re-run after a crash pays nobody twice)."""
    waiting: list[dict[str, Any]] = write(lambda uow: uow.settlements.lines_in_status(IN_CLEARING))
    transferred = failed = 0
    for line in waiting:
        if line["destination"] is None:
            continue  # a payment-file line: the bank pays it
        try:
            state = gateway.create_transfer(
                amount_minor=line["amount_minor"],
                destination=line["destination"],
                idempotency_key=transfer_key(line["batch_id"], line["outlet_id"], line["transfer_attempt"]),
                metadata={"settlement_batch": line["batch_id"], "outlet": line["outlet_id"]},
            )
        except LedgerError as error:
            failed += 1
            reason = f"Stripe did not take the transfer ({error.detail}); run clubcard settlements reconcile"
            write(
                functools.partial(_note, line=line, reason=reason, refused=bool(error.extra.get("refused")))
            )
            continue
        write(functools.partial(_transferred, line=line, transfer_id=state.id))
        transferred += 1
    return PayoutCounts(transferred=transferred, failed=failed)


def _note(uow: UnitOfWork, line: dict[str, Any], reason: str, refused: bool) -> None:
    values: dict[str, Any] = {"reason": reason}
    if (
        refused
    ):  # nothing was paid, and Stripe would replay the refusal to this key: the next try gets a new one
        values["transfer_attempt"] = line["transfer_attempt"] + 1
    uow.settlements.move_line(line["batch_id"], line["outlet_id"], IN_CLEARING, values)


def _transferred(uow: UnitOfWork, line: dict[str, Any], transfer_id: str) -> None:
    values = {"status": TRANSFERRED, "transfer_id": transfer_id, "reason": None}
    uow.settlements.move_line(line["batch_id"], line["outlet_id"], IN_CLEARING, values)


def confirm_transfer(
    uow: UnitOfWork, *, transfer_id: str, metadata: dict[str, Any], now: dt.datetime, actor: str
) -> bool:
    """Stripe confirmed a transfer (webhook or reconcile): its line leaves clearing for the bank, once.

    A confirmation that arrives before we stored the transfer id (we crashed after asking) finds its line
    by the batch and outlet in the transfer's metadata. False when it is not ours or already confirmed."""
    line = _line_of(uow, transfer_id, metadata)
    if line is None or line["status"] not in OPEN_LINE_STATUSES:
        return False
    values = {"status": LINE_PAID, "transfer_id": transfer_id, "settled_at": now, "reason": None}
    if not uow.settlements.move_line(line["batch_id"], line["outlet_id"], line["status"], values):
        return False
    moves = [(clearing_account(uow, now), bank_account(uow, now), line["amount_minor"])]
    metadata_out = {"outlet": line["outlet_id"], "transfer": transfer_id}
    post_settlement(uow, moves=moves, batch_id=line["batch_id"], now=now, actor=actor, metadata=metadata_out)
    _close_if_settled(uow, line["batch_id"], now)
    return True


def return_transfer(
    uow: UnitOfWork, *, transfer_id: str, metadata: dict[str, Any], now: dt.datetime, actor: str
) -> bool:
    """A transfer was reversed or failed: the amount goes back to the outlet's payable, owed again (and
    so carried into the next batch). False when it is not ours or already returned."""
    line = _line_of(uow, transfer_id, metadata)
    if line is None or line["status"] not in (*OPEN_LINE_STATUSES, LINE_PAID):
        return False
    source = bank_account(uow, now) if line["status"] == LINE_PAID else clearing_account(uow, now)
    values = {"status": RETURNED, "reason": "Stripe reversed or failed the transfer: owed again"}
    if not uow.settlements.move_line(line["batch_id"], line["outlet_id"], line["status"], values):
        return False
    moves = [(source, payable_account_id(uow, line["outlet_id"]), line["amount_minor"])]
    post_settlement(
        uow,
        moves=moves,
        batch_id=line["batch_id"],
        now=now,
        actor=actor,
        kind=SETTLE_RETURN_KIND,
        metadata={"outlet": line["outlet_id"], "transfer": transfer_id},
    )
    _close_if_settled(uow, line["batch_id"], now)
    return True


def _line_of(uow: UnitOfWork, transfer_id: str, metadata: dict[str, Any]) -> dict[str, Any] | None:
    line: dict[str, Any] | None = uow.settlements.line_by_transfer(transfer_id)
    if line is not None:
        return line
    batch_id, outlet_id = str(metadata.get("settlement_batch", "")), str(metadata.get("outlet", ""))
    if not batch_id or not outlet_id or len(batch_id) > 36:
        return None
    for candidate in uow.settlements.lines(batch_id):
        if candidate["outlet_id"] == outlet_id and candidate["transfer_id"] in (None, transfer_id):
            return dict(candidate)
    return None


def _close_if_settled(uow: UnitOfWork, batch_id: str, now: dt.datetime) -> None:
    if all(line["status"] not in OPEN_LINE_STATUSES for line in uow.settlements.lines(batch_id)):
        uow.settlements.move_batch(batch_id, PAYING, {"status": PAID, "paid_at": now})


def reconcile(write: Write[Any], gateway: TransferGateway, *, now: Callable[[], dt.datetime]) -> PayoutCounts:
    """Pay what is still in clearing, then ask Stripe about every unconfirmed transfer and book it."""
    paid = pay_out(write, gateway)
    confirmed = returned = 0
    open_lines: list[dict[str, Any]] = write(lambda uow: uow.settlements.lines_in_status(TRANSFERRED))
    for line in open_lines:
        state = gateway.transfer(line["transfer_id"])
        handler = return_transfer if state.reversed else confirm_transfer

        def book(uow: UnitOfWork, handler: Any = handler, state: TransferState = state) -> bool:
            done: bool = handler(uow, transfer_id=state.id, metadata={}, now=now(), actor="reconcile")
            return done

        if write(book):
            confirmed, returned = confirmed + (not state.reversed), returned + state.reversed
    return dataclasses.replace(paid, confirmed=confirmed, returned=returned)


def confirm_payment_file_paid(
    uow: UnitOfWork, *, batch_id: str, now: dt.datetime, actor: Actor | str, idempotency_key: str | None
) -> SettlementBatch:
    """Finance confirms the bank paid the payment file: every line in clearing goes to the bank."""
    who = as_actor(actor)

    def operation() -> dict[str, Any]:
        batch = get_settlement(uow, batch_id)
        if batch.mode != PAYMENT_FILE_MODE or batch.status != PAYING:
            raise Conflict("only an approved payment-file batch that is not yet paid can be confirmed paid")
        lines = [line for line in batch.lines if line.status == IN_CLEARING]
        for line in lines:
            values = {"status": LINE_PAID, "settled_at": now}
            uow.settlements.move_line(batch_id, line.outlet_id, IN_CLEARING, values)
        total = sum(line.amount_minor for line in lines)
        if total:
            moves = [(clearing_account(uow, now), bank_account(uow, now), total)]
            post_settlement(uow, moves=moves, batch_id=batch_id, now=now, actor=who.name)
        if not uow.settlements.move_batch(
            batch_id, PAYING, {"status": PAID, "paid_by": who.name, "paid_at": now}
        ):
            raise Conflict("someone else confirmed this batch first")
        detail = {"lines": len(lines), "total_minor": total}
        record_action(
            uow, actor=who, action="settlement.confirm_paid", target=batch_id, detail=detail, now=now
        )
        return {"batch_id": batch_id}

    request = {"op": "settlement.confirm_paid", "batch_id": batch_id}
    once_per_key(uow, actor=who, key=idempotency_key, request=request, now=now, operation=operation)
    return get_settlement(uow, batch_id)
