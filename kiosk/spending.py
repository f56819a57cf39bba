"""Spends at the counter: redeem or hold, refund the last spend, capture or void a hold; each exactly once.

The idempotency key comes with the form the staff member submitted, so pressing the button twice, or
Try again after a lost answer, sends the same key: the outbox answers "already used here" for a spend it
already has a receipt for, and the API replays rather than charging twice for one it applied.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from kiosk import outcomes
from kiosk.client import ApiProblem, ApiUnreachable
from kiosk.counter import RETRY_LATER_PROBLEMS, Counter
from kiosk.outcomes import Outcome
from kiosk.screens import ReceiptView
from kiosk.verifier import CardRevoked
from ledger.cards.token import InvalidCardToken
from ledger.clock import rfc3339

RECEIPT_STATES = {"done", "queued", "synced", "sync-refused"}


@dataclasses.dataclass(frozen=True)
class Spend:
    """What staff asked for: redeem (or hold) an amount from one scheme on the scanned card."""

    key: str
    card_token: str
    card_number: str
    scheme: str
    unit: str
    amount_minor: int
    hold: bool = False


def spend(counter: Counter, request: Spend) -> ReceiptView | Outcome:
    """Redeem or hold, online if the API answers, else (redemptions only) within the offline floor."""
    existing = counter.outbox.get(request.key)
    if existing is not None and existing.state in RECEIPT_STATES:
        return counter.receipt_view(existing, outcomes.ALREADY_USED)
    # A retry of an attempt that got no answer: the API may already have applied it.
    in_doubt = existing is not None and existing.state in {"pending", "unknown"}
    now = counter.now()
    if existing is None:
        counter.outbox.record(
            key=request.key,
            kind="hold" if request.hold else "redeem",
            state="pending",
            occurred_at=rfc3339(now),
            local_day=counter.local_day(now),
            card_token=request.card_token,
            card_number=request.card_number,
            scheme=request.scheme,
            unit=request.unit,
            amount_minor=request.amount_minor,
        )
    if counter.online or in_doubt:  # Try again after no answer always asks the API
        try:
            return _online(counter, request)
        except ApiUnreachable as error:
            in_doubt = in_doubt or error.maybe_applied
    if request.hold:
        counter.outbox.update(request.key, state="refused", at=rfc3339(counter.now()), problem="offline")
        return outcomes.OFFLINE_NEEDS_CONNECTION
    return _offline(counter, request, in_doubt)


def _online(counter: Counter, request: Spend) -> ReceiptView | Outcome:
    send = counter.client.hold if request.hold else counter.client.redeem
    try:
        receipt = counter.call(
            lambda: send(
                token=request.card_token,
                scheme=request.scheme,
                amount_minor=request.amount_minor,
                key=request.key,
            )
        )
    except ApiProblem as problem:
        slug = outcomes.problem_slug(problem.type)
        if slug in RETRY_LATER_PROBLEMS:
            counter.outbox.update(request.key, state="unknown", at=rfc3339(counter.now()), problem=slug)
            return outcomes.NO_ANSWER
        counter.outbox.update(request.key, state="refused", at=rfc3339(counter.now()), problem=slug)
        return outcomes.for_problem(problem.type, problem.body, counter.zone)
    counter.outbox.update(request.key, state="done", at=rfc3339(counter.now()), response=receipt)
    row = counter.outbox.get(request.key)
    assert row is not None, "the request was recorded before it was sent"
    return counter.receipt_view(row, outcomes.ACCEPTED)


def _offline(counter: Counter, request: Spend, in_doubt: bool) -> ReceiptView | Outcome:
    """Accept within the offline floor, queued durably under the same key before the receipt shows."""
    at = rfc3339(counter.now())
    try:
        claims = counter.verifier().verify(request.card_token)
    except InvalidCardToken:
        counter.outbox.update(request.key, state="refused", at=at, problem="invalid-token")
        return outcomes.NOT_A_CLUBCARD
    except CardRevoked:
        counter.outbox.update(request.key, state="refused", at=at, problem="card-blocked")
        return outcomes.BLOCKED
    info = counter.scheme_info(request.scheme)
    floor = int(info["offline_floor_limit_minor"]) if info else 0
    row = counter.outbox.get(request.key)
    assert row is not None
    queued = counter.outbox.queue_offline(
        key=request.key,
        floor_minor=floor,
        at=at,
        card_token=request.card_token,
        card_number=claims.card_number,
        scheme=request.scheme,
        unit=request.unit,
        amount_minor=request.amount_minor,
        occurred_at=row.occurred_at,
        local_day=row.local_day,
    )
    if not queued:
        # An attempt that may have reached the API before the network went is never dropped silently:
        # it stays "unknown" until Try again or the sync loop settles it.
        state = "unknown" if in_doubt else "refused"
        counter.outbox.update(request.key, state=state, at=at, problem="offline-floor")
        return outcomes.NO_ANSWER if state == "unknown" else outcomes.OVER_OFFLINE_LIMIT
    queued_row = counter.outbox.get(request.key)
    assert queued_row is not None and queued_row.state == "queued"
    return counter.receipt_view(queued_row, outcomes.ACCEPTED_OFFLINE)


def refund(counter: Counter, redemption_key: str) -> ReceiptView | Outcome:
    """Refund a spend made at this kiosk (online only; the API checks the window)."""
    original = counter.outbox.get(redemption_key)
    if original is None or original.kind != "redeem" or original.state != "done" or not original.response:
        return outcomes.NOT_REFUNDABLE
    key = f"{redemption_key}:refund"
    transaction_id = str(original.response["transaction_id"])
    return _resolution(
        counter,
        original,
        key,
        "refund",
        transaction_id,
        lambda: counter.client.refund(transaction_id, key=key),
    )


def resolve_hold(counter: Counter, hold_key: str, capture_minor: int) -> ReceiptView | Outcome:
    """Capture part or all of a hold placed here, or void it with zero."""
    original = counter.outbox.get(hold_key)
    if original is None or original.kind != "hold" or original.state != "done" or not original.response:
        return outcomes.TRY_AGAIN
    hold_id = str(original.response["hold_id"])
    if capture_minor > 0:
        key = f"{hold_key}:capture"
        return _resolution(
            counter,
            original,
            key,
            "capture",
            hold_id,
            lambda: counter.client.capture(hold_id, amount_minor=capture_minor, key=key),
            capture_minor,
        )
    key = f"{hold_key}:void"
    return _resolution(
        counter, original, key, "void", hold_id, lambda: counter.client.void(hold_id, key=key), 0
    )


def _resolution(
    counter: Counter,
    original: Any,
    key: str,
    kind: str,
    target_id: str,
    send: Any,
    amount_minor: int | None = None,
) -> ReceiptView | Outcome:
    existing = counter.outbox.get(key)
    if existing is not None and existing.state == "done":
        return counter.receipt_view(existing, outcomes.ALREADY_USED)
    if not counter.online:
        return outcomes.OFFLINE_NEEDS_CONNECTION
    now = counter.now()
    counter.outbox.record(
        key=key,
        kind=kind,
        state="pending",
        occurred_at=rfc3339(now),
        local_day=counter.local_day(now),
        card_number=original.card_number,
        scheme=original.scheme,
        unit=original.unit,
        amount_minor=original.amount_minor if amount_minor is None else amount_minor,
        target_id=target_id,
    )
    try:
        answer = counter.call(send)
    except ApiUnreachable:
        counter.outbox.update(key, state="unknown", at=rfc3339(counter.now()), problem="unreachable")
        return outcomes.NO_ANSWER
    except ApiProblem as problem:
        counter.outbox.update(
            key, state="refused", at=rfc3339(counter.now()), problem=outcomes.problem_slug(problem.type)
        )
        if kind == "refund" and outcomes.problem_slug(problem.type) in {"expired", "conflict", "not-found"}:
            return outcomes.NOT_REFUNDABLE
        return outcomes.for_problem(problem.type, problem.body, counter.zone)
    counter.outbox.update(key, state="done", at=rfc3339(counter.now()), response=answer)
    row = counter.outbox.get(key)
    assert row is not None
    return counter.receipt_view(row, outcomes.ACCEPTED)
