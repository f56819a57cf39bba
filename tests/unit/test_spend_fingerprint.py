"""What a redemption's or a hold's idempotency key is bound to."""

from __future__ import annotations

import dataclasses

from ledger.usecases.redemptions import SpendRequest, redemption_fingerprint


def test_every_field_of_a_spend_request_binds_its_idempotency_key() -> None:
    request = SpendRequest("token", 250, "outlet-1", scheme="leisure", unit="GBP")

    fingerprint = redemption_fingerprint(request)

    assert fingerprint == {"op": "redemption", **dataclasses.asdict(request)}
    assert {field.name for field in dataclasses.fields(SpendRequest)} < set(fingerprint)
