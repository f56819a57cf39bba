"""Stripe's word on settlement transfers, as webhook handlers (registered in stripe_events.EVENT_HANDLERS):
`transfer.created` and `payout.paid` book a line from clearing to the bank, `transfer.reversed` and
`transfer.failed` put its amount back in the outlet's payable (owed again, so it is in the next batch)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ledger.ports import UnitOfWork
from ledger.usecases.settlements import TRANSFERRED
from ledger.usecases.settlements_payout import confirm_transfer, return_transfer

if TYPE_CHECKING:
    from ledger.usecases.stripe_events import StripeEvent

WEBHOOK_ACTOR = "stripe:webhook"


def _metadata(data_object: Mapping[str, Any]) -> dict[str, Any]:
    metadata = data_object.get("metadata")
    return dict(metadata) if isinstance(metadata, Mapping) else {}


def transfer_created(uow: UnitOfWork, event: StripeEvent, now: dt.datetime) -> str:
    """A transfer reached the outlet's connected account: its line leaves clearing for the bank."""
    transfer = event.data_object
    if transfer.get("reversed"):
        return transfer_reversed(uow, event, now)
    transfer_id = str(transfer.get("id", ""))
    done = confirm_transfer(
        uow, transfer_id=transfer_id, metadata=_metadata(transfer), now=now, actor=WEBHOOK_ACTOR
    )
    return (
        f"settlement transfer {transfer_id} booked to the bank" if done else "not an open settlement transfer"
    )


def transfer_reversed(uow: UnitOfWork, event: StripeEvent, now: dt.datetime) -> str:
    """A transfer was reversed or failed: the outlet is owed the amount again."""
    transfer_id = str(event.data_object.get("id", ""))
    done = return_transfer(
        uow, transfer_id=transfer_id, metadata=_metadata(event.data_object), now=now, actor=WEBHOOK_ACTOR
    )
    return (
        f"settlement transfer {transfer_id} returned to the payable" if done else "not a settlement transfer"
    )


def payout_paid(uow: UnitOfWork, event: StripeEvent, now: dt.datetime) -> str:
    """A connected account paid out to its bank: every transfer to it still unconfirmed is confirmed.

    The connected account is the event's `account` (Connect events carry it beside `data`)."""
    account = event.account or event.data_object.get("account")
    if not account:
        return "a payout of the platform account: nothing to settle"
    lines = uow.settlements.lines_in_status(TRANSFERRED, destination=str(account))
    for line in lines:
        confirm_transfer(uow, transfer_id=line["transfer_id"], metadata={}, now=now, actor=WEBHOOK_ACTOR)
    return f"{len(lines)} settlement transfers to {account} booked to the bank"
