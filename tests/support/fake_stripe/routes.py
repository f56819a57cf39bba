"""Every resource's routes on the fake Stripe, added in one place so the fixture serves them all."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tests.support.fake_stripe import FakeStripe


def add_all_routes(fake: FakeStripe) -> None:
    """Checkout Sessions, Connect transfers and payouts: what the app calls."""
    # Each resource's module adds its own: checkout.add_routes(fake), transfers.add_routes(fake).
    from tests.support.fake_stripe import checkout, transfers

    checkout.add_routes(fake)
    transfers.add_routes(fake)
