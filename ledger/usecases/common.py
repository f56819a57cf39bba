"""The one path every transaction takes into the ledger, and idempotent execution."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

from ledger.errors import (
    BudgetExhausted,
    IdempotencyMismatch,
    InsufficientFunds,
    ValidationFailed,
)
from ledger.journal import Posting, TransactionDraft, request_fingerprint
from ledger.ports import UnitOfWork
from ledger.records import AccountRecord
from ledger.units import AccountKind, Unit

T = TypeVar("T")
MAX_IDEMPOTENCY_KEY_LENGTH = 255


def new_id() -> str:
    """A new random UUID as text: portable keys, no gapless sequences."""
    return str(uuid.uuid4())


def record(uow: UnitOfWork, draft: TransactionDraft) -> None:
    """Apply a balanced draft: floors checked atomically, balances moved, postings appended."""
    known: dict[str, AccountRecord] = uow.accounts.get_many(p.account_id for p in draft.postings)
    for posting in draft.postings:
        if known[posting.account_id].unit != posting.unit:
            raise ValidationFailed(
                f"posting in {posting.unit} to an account in {known[posting.account_id].unit}"
            )
    try:
        uow.accounts.apply_constrained(draft.postings)
    except InsufficientFunds as error:
        if error.account_kind == AccountKind.BUDGET:
            raise BudgetExhausted("the scheme budget cannot cover this") from error
        raise
    uow.journal.insert(draft)
    # Hot floorless accounts (an outlet's payable) last, so their shard rows are locked only until commit.
    uow.accounts.apply_unconstrained(draft.id, draft.postings)


def draft(
    *,
    kind: str,
    postings: Sequence[Posting],
    now: dt.datetime,
    actor: str,
    idempotency_key: str | None,
    occurred_at: dt.datetime | None = None,
    outlet_id: str | None = None,
    scheme_id: str | None = None,
    rule_version: int | None = None,
    reverses_id: str | None = None,
    metadata: Mapping[str, Any] | None = None,
) -> TransactionDraft:
    """A new transaction draft stamped with the clock's time."""
    return TransactionDraft(
        id=new_id(),
        kind=kind,
        postings=tuple(postings),
        occurred_at=occurred_at or now,
        recorded_at=now,
        actor=actor,
        idempotency_key=idempotency_key,
        outlet_id=outlet_id,
        scheme_id=scheme_id,
        rule_version=rule_version,
        reverses_id=reverses_id,
        metadata=dict(metadata or {}),
    )


def transfer_lines(unit: Unit, debits: Sequence[tuple[str, int]], credit_account_id: str) -> list[Posting]:
    """Postings that take each (account, amount) and pay their total into one account."""
    lines = [Posting(account_id, unit, -amount) for account_id, amount in debits]
    lines.append(Posting(credit_account_id, unit, sum(amount for _, amount in debits)))
    return lines


def idempotent(
    uow: UnitOfWork,
    *,
    scope: str,
    key: str,
    request: Mapping[str, Any],
    now: dt.datetime,
    operation: Callable[[], dict[str, Any]],
) -> dict[str, Any]:
    """Run `operation` once per key: a replay returns the stored result; a different request is refused."""
    check_idempotency_key(key)
    fingerprint = fingerprint_of(request)
    found = uow.idempotency.claim_and_find(scope, key)
    if found is not None:
        stored_fingerprint, result = found
        if stored_fingerprint != fingerprint:
            raise IdempotencyMismatch("this idempotency key was used for a different request")
        return dict(result)
    result = operation()
    uow.idempotency.store(scope, key, fingerprint, result, now)
    return result


def fingerprint_of(request: Mapping[str, Any]) -> str:
    """The request's fingerprint; text that is not Unicode (a lone surrogate) is refused, not a crash."""
    try:
        return request_fingerprint(request)
    except UnicodeEncodeError as error:
        # The API refuses such bodies at the door; this keeps every other caller (the CLI, jobs) safe too.
        raise ValidationFailed("text may not contain a lone surrogate: it is not a character") from error


def check_idempotency_key(key: str) -> None:
    """Refuse empty or over-long idempotency keys."""
    if not key or len(key) > MAX_IDEMPOTENCY_KEY_LENGTH:
        raise ValidationFailed("an idempotency key is 1 to 255 characters")


def ensure_account(
    uow: UnitOfWork, *, name: str, unit: Unit, kind: AccountKind, floor_minor: int | None, now: dt.datetime
) -> AccountRecord:
    """The account with this name, opened now if it does not exist yet."""
    existing: AccountRecord | None = uow.accounts.by_name(name)
    if existing is not None:
        return existing
    opened: AccountRecord = uow.accounts.open(
        id=new_id(), name=name, unit=unit, kind=kind, floor_minor=floor_minor, now=now
    )
    return opened


def funding_source(uow: UnitOfWork, unit: Unit, now: dt.datetime) -> AccountRecord:
    """Where value enters the ledger from outside: the council's bank (GBP) or an issuer (HOUR, POINT)."""
    name = "external:bank:GBP" if unit is Unit.GBP else f"external:issuer:{unit.value}"
    return ensure_account(uow, name=name, unit=unit, kind=AccountKind.EXTERNAL, floor_minor=None, now=now)
