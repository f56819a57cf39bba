"""Checkout Sessions on the fake Stripe: create (checking what we send, as Stripe would) and retrieve.

A session's `url` is a page on the fake itself (GET /pay/{id}) that says which top-up it is for; tests
pay or abandon it by sending the webhook event they choose (`completed_event`, `expired_event`)."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from tests.support.fake_stripe import StripeError, StripeRequest, signed_event

if TYPE_CHECKING:
    from tests.support.fake_stripe import FakeStripe

MAX_UNIT_AMOUNT = 99_999_999  # Stripe's largest amount in pence


def add_routes(fake: FakeStripe) -> None:
    """POST /v1/checkout/sessions and GET /v1/checkout/sessions/{id}."""
    fake.route("POST", r"/v1/checkout/sessions", _create)
    fake.route("GET", r"/v1/checkout/sessions/(?P<id>cs_test_\w+)", _retrieve)


def sessions(fake: FakeStripe) -> list[dict[str, Any]]:
    """Every Checkout Session the fake made, oldest first."""
    return [o for o in fake.objects.values() if o.get("object") == "checkout.session"]


def _invalid(message: str, code: str = "parameter_invalid") -> StripeError:
    return StripeError(400, "invalid_request_error", message, code)


def _line_amount(params: dict[str, Any]) -> int:
    items = params.get("line_items", {})
    if set(items) != {"0"}:
        raise _invalid("line_items: exactly one line item expected")
    item = items["0"]
    price = item.get("price_data", {})
    if item.get("quantity") != "1":
        raise _invalid("line_items[0][quantity]: 1 expected")
    if price.get("currency") != "gbp":
        raise _invalid("line_items[0][price_data][currency]: gbp expected")
    if not price.get("product_data", {}).get("name"):
        raise _invalid("line_items[0][price_data][product_data][name]: required", "parameter_missing")
    amount = price.get("unit_amount", "")
    if not amount.isdigit() or not 0 < int(amount) <= MAX_UNIT_AMOUNT:
        raise _invalid("line_items[0][price_data][unit_amount]: a positive integer in pence")
    return int(amount)


def _create(fake: FakeStripe, request: StripeRequest, match: re.Match[str]) -> tuple[int, dict[str, Any]]:
    params = request.params
    if params.get("mode") != "payment":
        raise _invalid("mode: payment expected")
    for name in ("success_url", "cancel_url"):
        if not re.match(r"https?://", params.get(name, "")):
            raise _invalid(f"{name}: Not a valid URL", "url_invalid")
    amount = _line_amount(params)
    metadata = params.get("metadata", {})
    if not metadata.get("topup_id"):
        raise _invalid("metadata[topup_id]: the top-up this session pays for")
    if request.idempotency_key is None:
        raise _invalid("we always send an Idempotency-Key for a session", "idempotency_key_missing")
    session_id = fake.new_id("cs_test")
    session = {
        "id": session_id,
        "object": "checkout.session",
        "mode": "payment",
        "amount_total": amount,
        "currency": "gbp",
        "client_reference_id": params.get("client_reference_id"),
        "metadata": metadata,
        "payment_status": "unpaid",
        "status": "open",
        "success_url": params["success_url"],
        "cancel_url": params["cancel_url"],
        "url": f"{fake.url}/pay/{session_id}",
        "livemode": False,
    }
    fake.objects[session_id] = session
    return 200, session


def _retrieve(fake: FakeStripe, request: StripeRequest, match: re.Match[str]) -> tuple[int, dict[str, Any]]:
    session = fake.objects.get(match["id"])
    if session is None:
        raise StripeError(
            404, "invalid_request_error", f"No such checkout.session: '{match['id']}'", "resource_missing"
        )
    return 200, session


def completed_event(session: dict[str, Any], **signing: Any) -> tuple[bytes, dict[str, str]]:
    """The signed `checkout.session.completed` webhook for a session paid in full."""
    paid = {**session, "payment_status": "paid", "status": "complete"}
    return signed_event("checkout.session.completed", paid, **signing)


def expired_event(session: dict[str, Any], **signing: Any) -> tuple[bytes, dict[str, str]]:
    """The signed `checkout.session.expired` webhook for a session nobody paid."""
    expired = {**session, "payment_status": "unpaid", "status": "expired", "url": None}
    return signed_event("checkout.session.expired", expired, **signing)
