"""The fake Stripe answers the official library as Stripe does: keys checked, idempotent replays, errors."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
import stripe

from tests.support.fake_stripe import API_KEY, FakeStripe, StripeRequest, nested_params


def _create_thing(
    fake: FakeStripe, request: StripeRequest, match: re.Match[str]
) -> tuple[int, dict[str, Any]]:
    thing = {"id": fake.new_id("thing"), "object": "thing", "amount": int(request.params["amount"])}
    fake.objects[thing["id"]] = thing
    return 200, thing


@pytest.fixture
def fake() -> Iterator[FakeStripe]:
    """A fake with one made-up resource."""
    server = FakeStripe()
    server.route("POST", r"/v1/things", _create_thing)
    server.start()
    yield server
    server.stop()


def _client(fake: FakeStripe, key: str = API_KEY) -> stripe.StripeClient:
    return stripe.StripeClient(key, base_addresses={"api": fake.url}, max_network_retries=0)


def test_the_same_idempotency_key_replays_the_first_answer_and_creates_nothing_new(fake: FakeStripe) -> None:
    client = _client(fake)

    first = client.raw_request("post", "/v1/things", amount=550, idempotency_key="line-1")
    again = client.raw_request("post", "/v1/things", amount=550, idempotency_key="line-1")

    assert json.loads(first.body)["id"] == json.loads(again.body)["id"]
    assert len(fake.objects) == 1 and len(fake.sent("POST", "/v1/things")) == 2


def test_the_same_idempotency_key_with_other_parameters_is_refused(fake: FakeStripe) -> None:
    client = _client(fake)
    client.raw_request("post", "/v1/things", amount=550, idempotency_key="line-1")

    with pytest.raises(stripe.IdempotencyError):
        client.raw_request("post", "/v1/things", amount=999, idempotency_key="line-1")


def test_a_wrong_key_and_an_unknown_path_are_errors_the_library_raises(fake: FakeStripe) -> None:
    with pytest.raises(stripe.AuthenticationError):
        _client(fake, "sk_test_wrong").raw_request("post", "/v1/things", amount=1)
    with pytest.raises(stripe.InvalidRequestError):
        _client(fake).raw_request("post", "/v1/nothing", amount=1)


def test_form_encoded_parameters_decode_into_nested_objects() -> None:
    pairs = [
        ("line_items[0][price_data][unit_amount]", "550"),
        ("metadata[card]", "CC-1"),
        ("mode", "payment"),
    ]

    assert nested_params(pairs) == {
        "line_items": {"0": {"price_data": {"unit_amount": "550"}}},
        "metadata": {"card": "CC-1"},
        "mode": "payment",
    }
