"""Member-to-member transfers (the time bank): only where the scheme makes value transferable."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

from ledger.cards.token import CardKeyring
from ledger.errors import Forbidden, RuleViolation, ValidationFailed
from ledger.kinds import TransactionKind
from ledger.ports import UnitOfWork
from ledger.receipts import Receipt
from ledger.units import Unit
from ledger.usecases import flows
from ledger.usecases.requests import (
    once,
    receipt_data,
    require_approved,
    require_member,
    resident_of,
    scheme_and_rules,
)
from ledger.usecases.spending import check_transaction_limit


@dataclasses.dataclass(frozen=True)
class TransferRequest:
    """Who pays whom, in which scheme, how much; each party by resident id or scanned card."""

    scheme: str
    amount_minor: int
    from_resident_id: str | None = None
    from_card_token: str | None = None
    to_resident_id: str | None = None
    to_card_token: str | None = None
    note: str | None = None


def transfer(
    uow: UnitOfWork,
    *,
    request: TransferRequest,
    outlet_id: str | None,
    keyring: CardKeyring,
    now: dt.datetime,
    actor: str,
    key: str,
) -> dict[str, Any]:
    """Pay another member from the payer's lots into the payee's main lot (overdraft floor applies)."""

    def operation() -> dict[str, Any]:
        scheme, rules = scheme_and_rules(uow, request.scheme)
        if not rules.spending.transferable:
            raise RuleViolation(f"{scheme['slug']} value cannot be transferred between members")
        require_approved(uow, outlet_id, scheme)
        if outlet_id is not None and request.from_card_token is None:
            # At a kiosk the payer is whoever presents the card: an id alone must never move their value.
            raise Forbidden("at a kiosk the payer presents their card (from_card_token)")
        payer = resident_of(
            uow, resident_id=request.from_resident_id, card_token=request.from_card_token, keyring=keyring
        )
        payee = resident_of(
            uow, resident_id=request.to_resident_id, card_token=request.to_card_token, keyring=keyring
        )
        require_member(uow, payer, scheme)
        require_member(uow, payee, scheme)
        flows.positive_amount(request.amount_minor)
        check_transaction_limit(rules.spending, request.amount_minor, Unit(scheme["unit"]))
        for owner in sorted({payer, payee}):  # one order, so two opposite transfers cannot deadlock
            uow.activity.lock_wallet(owner, scheme["id"])
        flows.main_lot(uow, scheme, payer, now)  # so a new member can use the overdraft
        if payer == payee:
            raise ValidationFailed("a transfer needs two different members")
        # The one idempotency record is once()'s; the draw itself is not wrapped again.
        posted = flows.draw(
            uow,
            scheme,
            payer,
            request.amount_minor,
            flows.main_lot(uow, scheme, payee, now),
            None,
            now,
            kind=TransactionKind.TRANSFER,
            actor=actor,
            key=key,
            outlet_id=None,
            metadata={"note": request.note} if request.note else None,
        )
        receipt = Receipt.from_dict(posted)
        return {
            **receipt_data(receipt),
            "scheme": scheme["slug"],
            "from_resident_id": payer,
            "to_resident_id": payee,
            "rule_version": scheme["version"],
        }

    fingerprint = {"op": "transfer", **dataclasses.asdict(request)}
    return once(uow, actor=actor, key=key, request=fingerprint, now=now, operation=operation)
