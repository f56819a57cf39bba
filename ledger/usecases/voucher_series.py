"""A caseworker issues a series of release vouchers at once: each with its purpose, amount and expiry.

The series is one database transaction: when any voucher is refused (a purpose the scheme does not
have, an exhausted budget, a resident no longer eligible) nothing in the series is issued.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Sequence
from typing import Any

from ledger.actors import Actor
from ledger.clock import parse_rfc3339
from ledger.errors import LedgerError, RuleViolation, ValidationFailed
from ledger.ports import UnitOfWork
from ledger.usecases.issuances import IssueRequest, issue_to_member
from ledger.usecases.replays import once_per_key
from ledger.usecases.requests import scheme_and_rules
from ledger.usecases.staff_log import record_action

MAX_VOUCHERS_PER_SERIES = 10  # a caseworker's series fits on one form


@dataclasses.dataclass(frozen=True)
class SeriesVoucher:
    """One voucher asked for: its purpose; amount and expiry day default from the scheme's rules."""

    purpose: str
    amount_minor: int | None = None
    expires_on: dt.date | None = None


@dataclasses.dataclass(frozen=True)
class IssuedVoucher:
    """One voucher issued: its purpose, amount, expiry and the ledger transaction that credited it."""

    purpose: str
    amount_minor: int
    expires_at: dt.datetime | None
    transaction_id: str


@dataclasses.dataclass(frozen=True)
class VoucherSeries:
    """The vouchers of one series, in the order they were asked for."""

    scheme: str
    unit: str
    resident_id: str
    vouchers: tuple[IssuedVoucher, ...]


class VoucherRefused(LedgerError):
    """One voucher of a series was refused, so none of the series was issued; `cause` says why."""

    def __init__(self, number: int, cause: LedgerError) -> None:
        super().__init__(f"voucher {number}: {cause.detail}", voucher=number, **cause.extra)
        self.number = number
        self.cause = cause
        self.problem = cause.problem


def end_of_day(day: dt.date, zone: dt.tzinfo) -> dt.datetime:
    """The last instant of a council day, in UTC: a voucher "expiring on 31 January" works all that day."""
    return dt.datetime.combine(day, dt.time(23, 59, 59), tzinfo=zone).astimezone(dt.UTC)


def issue_voucher_series(
    uow: UnitOfWork,
    *,
    scheme: str,
    resident_id: str,
    vouchers: Sequence[SeriesVoucher],
    now: dt.datetime,
    zone: dt.tzinfo,
    actor: Actor,
    key: str,
) -> VoucherSeries:
    """Issue every voucher of the series to an enrolled, eligible member, or none of them; once per key.
    One staff log entry records the series (and whom the caseworker acted for)."""
    if not 1 <= len(vouchers) <= MAX_VOUCHERS_PER_SERIES:
        raise ValidationFailed(f"a series has 1 to {MAX_VOUCHERS_PER_SERIES} vouchers")
    request = {
        "op": "issuance.series",
        "scheme": scheme,
        "resident_id": resident_id,
        "vouchers": [dataclasses.asdict(voucher) for voucher in vouchers],
    }

    def operation() -> dict[str, Any]:
        scheme_row, rules = scheme_and_rules(uow, scheme)
        if rules.issuing.mode != "series":
            raise RuleViolation(f"{scheme_row['name']} does not issue vouchers in a series")
        issued = [
            _issue_one(uow, number, voucher, scheme, resident_id, now, zone, actor, key)
            for number, voucher in enumerate(vouchers, start=1)
        ]
        record_action(
            uow,
            actor=actor,
            action="issuance.series",
            target=resident_id,
            detail={"scheme": scheme, "vouchers": issued},
            now=now,
        )
        return {"unit": scheme_row["unit"], "vouchers": issued}

    made = once_per_key(uow, actor=actor, key=key, request=request, now=now, operation=operation)
    return VoucherSeries(
        scheme=scheme,
        unit=made["unit"],
        resident_id=resident_id,
        vouchers=tuple(_issued_voucher(voucher) for voucher in made["vouchers"]),
    )


def _issue_one(
    uow: UnitOfWork,
    number: int,
    voucher: SeriesVoucher,
    scheme: str,
    resident_id: str,
    now: dt.datetime,
    zone: dt.tzinfo,
    actor: Actor,
    key: str,
) -> dict[str, Any]:
    expires_at = None if voucher.expires_on is None else end_of_day(voucher.expires_on, zone)
    request = IssueRequest(
        scheme=scheme, amount_minor=voucher.amount_minor, purpose=voucher.purpose, expires_at=expires_at
    )
    try:
        receipt = issue_to_member(
            uow,
            request=request,
            resident_id=resident_id,
            now=now,
            zone=zone,
            actor=actor.name,
            key=f"{key}/voucher-{number}",  # each voucher is its own ledger transaction
        )
    except LedgerError as error:
        raise VoucherRefused(number, error) from error
    return {
        "purpose": receipt["category"],
        "amount_minor": receipt["amount_minor"],
        "expires_at": receipt["expires_at"],
        "transaction_id": receipt["transaction_id"],
    }


def _issued_voucher(data: dict[str, Any]) -> IssuedVoucher:
    expires_at = data["expires_at"]
    return IssuedVoucher(
        purpose=data["purpose"],
        amount_minor=int(data["amount_minor"]),
        expires_at=None if expires_at is None else parse_rfc3339(expires_at),
        transaction_id=data["transaction_id"],
    )
