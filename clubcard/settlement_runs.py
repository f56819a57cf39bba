"""Settlement as the API, the staff pages and the CLI run it: each step one use case through the context,
and the Stripe payouts (outside any database transaction) right after approval."""

from __future__ import annotations

import datetime as dt

from clubcard.context import LedgerContext
from clubcard.stripe_transfers import transfer_gateway
from ledger.actors import Actor
from ledger.clock import as_utc
from ledger.usecases.settlements import (
    SettlementBatch,
    SettlementPreview,
    create_settlement,
    get_settlement,
    preview_settlement,
)
from ledger.usecases.settlements_payout import (
    PayoutCounts,
    TransferGateway,
    approve_settlement,
    confirm_payment_file_paid,
    pay_out,
    reconcile,
)


def stripe_on(context: LedgerContext) -> bool:
    """True when batches pay by Stripe Connect; False: by payment file."""
    return transfer_gateway(context.settings) is not None


def preview(context: LedgerContext, period_end: dt.datetime) -> SettlementPreview:
    """The lines a batch for this period end would have."""
    now = context.clock.now()
    return context.read(lambda uow: preview_settlement(uow, period_end=as_utc(period_end), now=now))


def create(
    context: LedgerContext, period_end: dt.datetime, actor: Actor | str, key: str | None
) -> SettlementBatch:
    """Make a batch (Stripe or payment-file mode, as the council is set up now)."""
    now, on = context.clock.now(), stripe_on(context)
    return context.write(
        lambda uow: create_settlement(
            uow, period_end=as_utc(period_end), stripe_on=on, now=now, actor=actor, idempotency_key=key
        )
    )


def approve(
    context: LedgerContext,
    batch_id: str,
    actor: Actor | str,
    key: str | None,
    gateway: TransferGateway | None = None,
) -> SettlementBatch:
    """The second person's approval, then the batch's Stripe transfers; the batch as it is afterwards."""
    now = context.clock.now()
    context.write(
        lambda uow: approve_settlement(uow, batch_id=batch_id, now=now, actor=actor, idempotency_key=key)
    )
    gateway = gateway or transfer_gateway(context.settings)
    if gateway is not None:
        pay_out(context.write, gateway)
    return context.read(lambda uow: get_settlement(uow, batch_id))


def confirm_paid(
    context: LedgerContext, batch_id: str, actor: Actor | str, key: str | None
) -> SettlementBatch:
    """Finance confirms the bank paid a payment file."""
    now = context.clock.now()
    return context.write(
        lambda uow: confirm_payment_file_paid(
            uow, batch_id=batch_id, now=now, actor=actor, idempotency_key=key
        )
    )


def reconcile_with_stripe(
    context: LedgerContext, gateway: TransferGateway | None = None
) -> PayoutCounts | None:
    """Pay what is still in clearing and book what Stripe confirmed; None when Stripe is not set up."""
    gateway = gateway or transfer_gateway(context.settings)
    if gateway is None:
        return None
    return reconcile(context.write, gateway, now=context.clock.now)


def read(context: LedgerContext, batch_id: str) -> SettlementBatch:
    """One batch."""
    return context.read(lambda uow: get_settlement(uow, batch_id))
