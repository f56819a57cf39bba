"""The Checkout gateway through the official library against the fake Stripe: what we send, refusals."""

from __future__ import annotations

import pytest

from clubcard.stripe_checkout import checkout_gateway
from clubcard.stripe_gateway import NOT_CONFIGURED
from ledger.errors import PaymentProviderFailed, StripeNotConfigured
from ledger.settings import Settings
from ledger.usecases.topups import CheckoutRequest, ReturnPages
from tests.support.fake_stripe import FakeStripe, fake_stripe, stripe_settings
from tests.support.fake_stripe.checkout import sessions

__all__ = ["fake_stripe"]  # a fixture
PAGES = ReturnPages("http://127.0.0.1/my/add-money/confirming", "http://127.0.0.1/my/add-money/cancelled")


def _request(amount_minor: int = 550, key: str = "clubcard-topup-1") -> CheckoutRequest:
    return CheckoutRequest(
        topup_id="topup-1",
        amount_minor=amount_minor,
        description="Add money to your Leisure card",
        pages=PAGES,
        idempotency_key=key,
        metadata={"topup_id": "topup-1", "scheme": "leisure"},
    )


def test_a_session_is_a_one_off_payment_in_pounds_and_a_repeated_key_gets_it_again(
    fake_stripe: FakeStripe,
) -> None:
    gateway = checkout_gateway(Settings.from_environment(stripe_settings(fake_stripe)))

    first = gateway.create_session(_request())
    again = gateway.create_session(_request())

    assert first == again and first.url.startswith(fake_stripe.url)
    [session] = sessions(fake_stripe)
    assert (session["mode"], session["currency"], session["amount_total"]) == ("payment", "gbp", 550)
    assert session["metadata"] == {"topup_id": "topup-1", "scheme": "leisure"}
    assert session["success_url"] == PAGES.success_url and session["cancel_url"] == PAGES.cancel_url
    sent = fake_stripe.sent("POST", "/v1/checkout/sessions")
    assert {request.idempotency_key for request in sent} == {"clubcard-topup-1"}


def test_a_session_stripe_refuses_or_cannot_make_is_a_clear_error(fake_stripe: FakeStripe) -> None:
    gateway = checkout_gateway(Settings.from_environment(stripe_settings(fake_stripe)))
    unreachable = checkout_gateway(
        Settings.from_environment(
            {**stripe_settings(fake_stripe), "CLUBCARD_STRIPE_API_BASE": "http://127.0.0.1:9"}
        )
    )

    with pytest.raises(PaymentProviderFailed, match="nothing was charged"):
        gateway.create_session(_request(amount_minor=100_000_000))  # beyond what Stripe takes
    with pytest.raises(PaymentProviderFailed, match="nothing was charged"):
        unreachable.create_session(_request(key="clubcard-topup-2"))
    assert sessions(fake_stripe) == []


def test_without_an_api_key_the_gateway_says_what_to_set() -> None:
    with pytest.raises(StripeNotConfigured) as refused:
        checkout_gateway(Settings.from_environment({}))

    assert refused.value.detail == NOT_CONFIGURED
