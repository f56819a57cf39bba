"""Where an outlet is paid: its Stripe Connect account and, for payment files, its bank details."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from typing import Any

from ledger.actors import Actor, as_actor
from ledger.errors import ValidationFailed
from ledger.ports import UnitOfWork
from ledger.usecases.outlets import get_outlet
from ledger.usecases.staff_log import record_action

CONNECTED_ACCOUNT = re.compile(r"acct_[A-Za-z0-9]{1,59}")
# BACS names: up to 18 characters of capitals, digits, spaces and a few marks.
ACCOUNT_NAME = re.compile(r"[A-Z0-9 .&/-]{1,18}")
MAX_ACCOUNT_NAME_LENGTH = 18


@dataclasses.dataclass(frozen=True)
class Payee:
    """An outlet's payout details (None: not given)."""

    outlet_id: str
    connected_account_id: str | None = None
    sort_code: str | None = None
    account_number: str | None = None
    account_name: str | None = None

    @property
    def has_bank_details(self) -> bool:
        """Enough for a line of a payment file."""
        return bool(self.sort_code and self.account_number and self.account_name)

    def hold_reason(self, mode: str) -> str | None:
        """Why a line to this outlet cannot be paid in this mode, or None when it can."""
        if mode == "stripe" and not self.connected_account_id:
            return (
                "no Stripe connected account: add the outlet's acct_ id on its payout details page; "
                "the amount stays owed and is paid in the next batch"
            )
        if mode == "payment_file" and not self.has_bank_details:
            return (
                "no bank details: add the outlet's sort code, account number and account name on its payout "
                "details page; the amount stays owed and is paid in the next batch"
            )
        return None


def _digits(value: str, length: int, label: str) -> str | None:
    cleaned = re.sub(r"[\s-]", "", value)
    if not cleaned:
        return None
    if not (cleaned.isascii() and cleaned.isdigit() and len(cleaned) == length):
        raise ValidationFailed(f"{label}: enter {length} digits")
    return cleaned


def clean_payee(
    outlet_id: str, *, connected_account_id: str, sort_code: str, account_number: str, account_name: str
) -> Payee:
    """Payout details checked and normalised; blank fields mean not given."""
    account = connected_account_id.strip() or None
    if account is not None and not CONNECTED_ACCOUNT.fullmatch(account):
        raise ValidationFailed("connected_account_id: a Stripe connected account id looks like acct_1A2b3C")
    name = " ".join(account_name.upper().split()) or None
    if name is not None and not ACCOUNT_NAME.fullmatch(name):
        raise ValidationFailed(
            f"account_name: up to {MAX_ACCOUNT_NAME_LENGTH} letters, digits, spaces or . & / - "
            "(as the bank account is named)"
        )
    details = Payee(
        outlet_id,
        account,
        _digits(sort_code, 6, "sort_code"),
        _digits(account_number, 8, "account_number"),
        name,
    )
    given = [details.sort_code, details.account_number, details.account_name]
    if any(given) and not all(given):
        raise ValidationFailed("bank details: give the sort code, account number and account name together")
    return details


def payee_of(uow: UnitOfWork, outlet_id: str) -> Payee:
    """An outlet's payout details (all None when nobody gave them)."""
    get_outlet(uow, outlet_id)
    return _payee(outlet_id, uow.settlements.payee(outlet_id))


def payees_of(uow: UnitOfWork, outlet_ids: list[str]) -> dict[str, Payee]:
    """Payout details of many outlets."""
    found = uow.settlements.payees(outlet_ids)
    return {outlet_id: _payee(outlet_id, found.get(outlet_id)) for outlet_id in outlet_ids}


def _payee(outlet_id: str, row: dict[str, Any] | None) -> Payee:
    if row is None:
        return Payee(outlet_id)
    return Payee(
        outlet_id, row["connected_account_id"], row["sort_code"], row["account_number"], row["account_name"]
    )


def save_payee(uow: UnitOfWork, *, payee: Payee, now: dt.datetime, actor: Actor | str) -> Payee:
    """Store where an outlet is paid; the staff log keeps the connected account and the last digits."""
    before = payee_of(uow, payee.outlet_id)
    who = as_actor(actor)
    values = {
        "connected_account_id": payee.connected_account_id,
        "sort_code": payee.sort_code,
        "account_number": payee.account_number,
        "account_name": payee.account_name,
        "updated_at": now,
        "updated_by": who.name,
    }
    uow.settlements.save_payee(payee.outlet_id, values)
    detail = {
        "connected_account_id": {"before": before.connected_account_id, "after": payee.connected_account_id},
        "account_number_ending": (payee.account_number or "")[-4:] or None,
    }
    record_action(uow, actor=who, action="outlet.payee", target=payee.outlet_id, detail=detail, now=now)
    return payee
