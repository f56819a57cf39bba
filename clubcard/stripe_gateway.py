"""The one place the app makes its Stripe client: the official `stripe` library, configured from Settings."""

from __future__ import annotations

import stripe
from stripe._base_address import BaseAddresses

from ledger.settings import Settings

NOT_CONFIGURED = (
    "Stripe is not set up for this council: set STRIPE_API_KEY and STRIPE_WEBHOOK_SECRET "
    "(finance can still settle outlets with a payment file)"
)
NETWORK_RETRIES = 2  # the library retries with the same Idempotency-Key, so a retry never pays twice
WEBHOOK_TOLERANCE_SECONDS = 300  # a signed event older than this is refused (a replay)


def stripe_configured(settings: Settings) -> bool:
    """True when an API key is set: top-ups and Connect payouts are on."""
    return bool(settings.stripe_secret_key)


def stripe_client(settings: Settings) -> stripe.StripeClient | None:
    """A client for the configured Stripe account (or the tests' fake Stripe), or None when not set up."""
    if not settings.stripe_secret_key:
        return None
    base_addresses: BaseAddresses | None = None
    if settings.stripe_api_base:
        base = settings.stripe_api_base.rstrip("/")
        base_addresses = {"api": base, "connect": base, "files": base}
    return stripe.StripeClient(
        settings.stripe_secret_key,
        base_addresses=base_addresses,
        max_network_retries=NETWORK_RETRIES,
    )
