"""Connect transfers on the fake Stripe: create (checking what we send), retrieve, and reverse.

`fake.transfer_accounts` lists the connected accounts that exist (any acct_ id when empty)."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from tests.support.fake_stripe import StripeError, StripeRequest

if TYPE_CHECKING:
    from tests.support.fake_stripe import FakeStripe


def add_routes(fake: FakeStripe) -> None:
    """POST /v1/transfers, GET /v1/transfers/{id}, POST /v1/transfers/{id}/reversals."""
    fake.route("POST", r"/v1/transfers", _create)
    fake.route("GET", r"/v1/transfers/(?P<id>tr_\w+)", _retrieve)
    fake.route("POST", r"/v1/transfers/(?P<id>tr_\w+)/reversals", _reverse)


def transfers(fake: FakeStripe) -> list[dict[str, Any]]:
    """Every transfer the fake made, oldest first."""
    return [o for o in fake.objects.values() if o.get("object") == "transfer"]


def _create(fake: FakeStripe, request: StripeRequest, match: re.Match[str]) -> tuple[int, dict[str, Any]]:
    params = request.params
    amount = params.get("amount", "")
    if not amount.isdigit() or int(amount) <= 0:
        raise StripeError(
            400, "invalid_request_error", "amount: a positive integer in pence", "parameter_invalid_integer"
        )
    if params.get("currency") != "gbp":
        raise StripeError(400, "invalid_request_error", "currency: this platform pays in gbp")
    destination = params.get("destination", "")
    if not destination.startswith("acct_"):
        raise StripeError(400, "invalid_request_error", "destination: a connected account id")
    if getattr(fake, "transfer_accounts", None) and destination not in fake.transfer_accounts:  # type: ignore[attr-defined]
        raise StripeError(
            400, "invalid_request_error", f"No such destination: '{destination}'", "resource_missing"
        )
    metadata = params.get("metadata", {})
    if not metadata.get("settlement_batch") or not metadata.get("outlet"):
        raise StripeError(400, "invalid_request_error", "metadata: settlement_batch and outlet expected")
    transfer = {
        "id": fake.new_id("tr"),
        "object": "transfer",
        "amount": int(amount),
        "amount_reversed": 0,
        "currency": "gbp",
        "destination": destination,
        "metadata": metadata,
        "transfer_group": params.get("transfer_group"),
        "reversed": False,
        "livemode": False,
    }
    fake.objects[transfer["id"]] = transfer
    return 200, transfer


def _retrieve(fake: FakeStripe, request: StripeRequest, match: re.Match[str]) -> tuple[int, dict[str, Any]]:
    transfer = fake.objects.get(match["id"])
    if transfer is None:
        raise StripeError(
            404, "invalid_request_error", f"No such transfer: '{match['id']}'", "resource_missing"
        )
    return 200, transfer


def _reverse(fake: FakeStripe, request: StripeRequest, match: re.Match[str]) -> tuple[int, dict[str, Any]]:
    _status, transfer = _retrieve(fake, request, match)
    transfer["amount_reversed"], transfer["reversed"] = transfer["amount"], True
    return 200, {"id": fake.new_id("trr"), "object": "transfer_reversal", "amount": transfer["amount"]}
