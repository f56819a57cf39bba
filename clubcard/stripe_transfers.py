"""Stripe Connect transfers for settlement, through the one Stripe client (clubcard.stripe_gateway)."""

from __future__ import annotations

from typing import Any

import stripe

from ledger.errors import PaymentProviderFailed
from ledger.settings import Settings
from ledger.usecases.settlements_payout import TransferState


class StripeTransfers:
    """The settlement TransferGateway over the official library."""

    def __init__(self, client: stripe.StripeClient) -> None:
        self.client = client

    def create_transfer(
        self, *, amount_minor: int, destination: str, idempotency_key: str, metadata: dict[str, str]
    ) -> TransferState:
        """One transfer per key: Stripe replays the first answer to a repeated key."""
        try:
            transfer = self.client.v1.transfers.create(
                {
                    "amount": amount_minor,
                    "currency": "gbp",
                    "destination": destination,
                    "metadata": metadata,
                    "transfer_group": f"settlement-{metadata['settlement_batch']}",
                },
                {"idempotency_key": idempotency_key},
            )
        except stripe.StripeError as error:
            # A 4xx answer is Stripe refusing: nothing was paid. No answer, or a 5xx, may have paid.
            refused = error.http_status is not None and 400 <= error.http_status < 500
            raise PaymentProviderFailed(
                error.user_message or str(error) or "no answer", refused=refused
            ) from error
        return _state(transfer)

    def transfer(self, transfer_id: str) -> TransferState:
        """The transfer as Stripe has it now."""
        try:
            return _state(self.client.v1.transfers.retrieve(transfer_id))
        except stripe.StripeError as error:
            raise PaymentProviderFailed(error.user_message or str(error) or "no answer") from error


def _state(transfer: Any) -> TransferState:
    return TransferState(
        id=str(transfer.id),
        amount_minor=int(transfer.amount),
        destination=str(transfer.destination),
        reversed=bool(transfer.reversed),
    )


def transfer_gateway(settings: Settings) -> StripeTransfers | None:
    """The gateway when Stripe is configured, else None (settlement then writes a payment file)."""
    from clubcard.stripe_gateway import stripe_client

    client = stripe_client(settings)
    return None if client is None else StripeTransfers(client)
