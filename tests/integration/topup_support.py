"""A world for top-up tests: a pounds scheme taking top-ups, a member's card, the fake Stripe, the books."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from werkzeug.test import TestResponse

from ledger.usecases.staff_log import StaffLogFilter, staff_log_page
from tests.support.api import World
from tests.support.fake_stripe import FakeStripe, stripe_settings
from tests.support.fake_stripe.checkout import completed_event, sessions

TOPUPS = "/api/v1/topups"
WEBHOOK = "/webhooks/stripe"
TOPUP_RULES = {"topups": {"accepted": True, "min_minor": 100, "max_minor": 5000, "cap_per_month_minor": 8000}}


class TopUpWorld(World):
    """A World with a `wallet` scheme that takes top-ups and one member's card."""

    def setup_scheme(self) -> None:
        """The scheme, a second one that takes no top-ups, and a member of both with a card."""
        self.wallet_scheme = self.scheme("wallet", "GBP", TOPUP_RULES)
        self.plain_scheme = self.scheme("plain", "GBP", {})
        self.holder = self.resident((self.wallet_scheme, self.plain_scheme))
        self.card_number, _ = self.card(self.holder)

    def start(self, amount_minor: int, *, scheme: str = "wallet", key: str | None = "auto") -> TestResponse:
        """POST /topups as a caseworker (a sponsor)."""
        body = {"card_number": self.card_number, "scheme": scheme, "amount_minor": amount_minor}
        return self.post(TOPUPS, body, self.staff("caseworker"), key=key)

    def deliver(self, signed: tuple[bytes, dict[str, str]]) -> TestResponse:
        """Send a webhook as Stripe does: the signed raw body, no bearer key."""
        body, headers = signed
        return self.client.post(WEBHOOK, data=body, headers=headers)

    def pay(self, fake: FakeStripe, **signing: Any) -> tuple[bytes, dict[str, str]]:
        """The signed completed event for the latest session the fake made."""
        return completed_event(sessions(fake)[-1], **signing)

    def topped_up(self) -> int:
        """The member's balance in the top-up scheme."""
        return self.wallet(self.holder, self.wallet_scheme)

    def staff_actions(self, action: str) -> list[Any]:
        """Staff log entries of one action."""
        return list(
            self.context.read(
                lambda uow: staff_log_page(
                    uow, where=StaffLogFilter(action=action), limit=50, starting_after=""
                )
            )
        )


def topup_world_on(database_url: str, tmp_path: Path, extra: dict[str, Any]) -> Iterator[TopUpWorld]:
    """A TopUpWorld on a fresh database, with these extra settings."""
    world = TopUpWorld.on(database_url, tmp_path, **extra)
    world.setup_scheme()
    yield world
    world.close()


@pytest.fixture
def topup_world(database_url: str, tmp_path: Path, fake_stripe: FakeStripe) -> Iterator[TopUpWorld]:
    """Top-ups with Stripe (the fake) configured."""
    yield from topup_world_on(database_url, tmp_path, stripe_settings(fake_stripe))


def a_month_later(world: TopUpWorld) -> None:
    """Move the world's clock into the next council month."""
    world.clock.advance(dt.timedelta(days=31))
