"""Stripe Checkout for top-ups, through the one Stripe client (clubcard.stripe_gateway)."""

from __future__ import annotations

import stripe

from clubcard.stripe_gateway import NOT_CONFIGURED, stripe_client
from ledger.errors import PaymentProviderFailed, StripeNotConfigured
from ledger.settings import Settings
from ledger.usecases.topups import CheckoutRequest, CheckoutSession


class StripeCheckout:
    """The top-ups' CheckoutGateway over the official library."""

    def __init__(self, client: stripe.StripeClient) -> None:
        self.client = client

    def create_session(self, request: CheckoutRequest) -> CheckoutSession:
        """A one-off card payment in pounds; Stripe replays the first session to a repeated key."""
        try:
            session = self.client.v1.checkout.sessions.create(
                {
                    "mode": "payment",
                    "line_items": [
                        {
                            "quantity": 1,
                            "price_data": {
                                "currency": "gbp",
                                "unit_amount": request.amount_minor,
                                "product_data": {"name": request.description},
                            },
                        }
                    ],
                    "success_url": request.pages.success_url,
                    "cancel_url": request.pages.cancel_url,
                    "client_reference_id": request.topup_id,
                    "metadata": dict(request.metadata),
                    "payment_intent_data": {"metadata": dict(request.metadata)},
                },
                {"idempotency_key": request.idempotency_key},
            )
        except stripe.StripeError as error:
            raise PaymentProviderFailed(
                "Stripe could not start the payment, so nothing was charged: try again in a few minutes "
                f"({error.user_message or type(error).__name__})"
            ) from error
        if not session.url:
            raise PaymentProviderFailed("Stripe started the payment without a page to pay on: try again")
        return CheckoutSession(id=str(session.id), url=str(session.url))


def checkout_gateway(settings: Settings) -> StripeCheckout:
    """The gateway, or StripeNotConfigured (503) saying what to set."""
    client = stripe_client(settings)
    if client is None:
        raise StripeNotConfigured(NOT_CONFIGURED)
    return StripeCheckout(client)
