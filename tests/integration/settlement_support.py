"""A world for settlement tests: outlets with redemptions, finance keys, the fake Stripe, and the books."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import pytest

from ledger.usecases.settlements import CLEARING_ACCOUNT
from ledger.usecases.settlements_payees import clean_payee, save_payee
from tests.integration.value_support import LEISURE
from tests.support.api import World
from tests.support.fake_stripe import FakeStripe, stripe_settings

SETTLEMENTS = "/api/v1/settlements"
REDEEM = "/api/v1/redemptions"


class SettlementWorld(World):
    """A World with a leisure scheme, a teen's card and helpers to redeem, refund and settle."""

    def setup_scheme(self) -> None:
        """A funded leisure scheme and one teen holding plenty on a card."""
        self.leisure = self.scheme(
            "leisure",
            "GBP",
            {
                **LEISURE,
                "spending": {**cast(dict[str, Any], LEISURE["spending"]), "per_day_limit_minor": 100_000},
            },
            funded=1_000_000,
        )
        teen = self.resident((self.leisure,))
        _, self.token = self.card(teen)
        issued = self.post(
            "/api/v1/issuances",
            {"scheme": "leisure", "resident_id": teen, "amount_minor": 50_000},
            self.staff("caseworker"),
        )
        assert issued.status_code == 201, issued.get_json()

    def finance(self, who: str) -> str:
        """A finance key per person (two people are two keys)."""
        cache: dict[str, str] = self.__dict__.setdefault("_finance_keys", {})
        if who not in cache:
            cache[who] = self.new_key("finance", label=who)
        return cache[who]

    def redeem(self, device: str, amount_minor: int) -> str:
        """Spend at an outlet; the transaction id."""
        made = self.post(
            REDEEM, {"card_token": self.token, "amount_minor": amount_minor, "scheme": "leisure"}, device
        )
        assert made.status_code == 201, made.get_json()
        return str(made.get_json()["transaction_id"])

    def refund(self, device: str, transaction_id: str) -> None:
        """Refund a redemption at its outlet."""
        made = self.post(f"{REDEEM}/{transaction_id}/refund", {}, device)
        assert made.status_code == 201, made.get_json()

    def payee(self, outlet_id: str, **details: str) -> None:
        """Set where an outlet is paid."""
        fields = {
            "connected_account_id": "",
            "sort_code": "",
            "account_number": "",
            "account_name": "",
            **details,
        }
        payee = clean_payee(outlet_id, **fields)
        self.run(lambda uow: save_payee(uow, payee=payee, now=self.clock.now(), actor="test"))

    def settle(self, period_end: dt.datetime, who: str = "ann") -> dict[str, Any]:
        """POST /settlements as finance user `who`."""
        made = self.post(SETTLEMENTS, {"period_end": period_end.isoformat()}, self.finance(who))
        assert made.status_code == 201, made.get_json()
        return dict(made.get_json())

    def approve(self, batch_id: str, who: str = "bob") -> dict[str, Any]:
        """POST /settlements/{id}/approve as finance user `who`."""
        made = self.post(f"{SETTLEMENTS}/{batch_id}/approve", {}, self.finance(who))
        assert made.status_code == 200, made.get_json()
        return dict(made.get_json())

    def payable(self, outlet_id: str) -> int:
        """An outlet's GBP payable balance."""
        account = self.account_id(f"outlet:{outlet_id}:payable:GBP")
        return 0 if account is None else self.balance(account)

    def clearing(self) -> int:
        """The settlement clearing balance."""
        account = self.account_id(CLEARING_ACCOUNT)
        return 0 if account is None else self.balance(account)


def by_outlet(batch: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """A batch's lines by outlet id."""
    return {line["outlet_id"]: line for line in batch["lines"]}


def _world(database_url: str, tmp_path: Path, extra: dict[str, Any]) -> Iterator[SettlementWorld]:
    world = SettlementWorld.on(database_url, tmp_path, **extra)
    world.setup_scheme()
    yield world
    world.close()


@pytest.fixture
def file_world(database_url: str, tmp_path: Path) -> Iterator[SettlementWorld]:
    """Settlement without Stripe: payment files."""
    yield from _world(database_url, tmp_path, {})


@pytest.fixture
def stripe_world(database_url: str, tmp_path: Path, fake_stripe: FakeStripe) -> Iterator[SettlementWorld]:
    """Settlement by Stripe Connect, against the fake Stripe."""
    yield from _world(database_url, tmp_path, stripe_settings(fake_stripe))
