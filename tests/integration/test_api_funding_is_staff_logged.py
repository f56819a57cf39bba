"""Funding a budget through the REST API is the staff UI's funding: the same use case, the same staff log."""

from __future__ import annotations

from tests.integration.value_support import LEISURE
from tests.support.api import World, assert_problem


def test_funding_through_the_api_is_in_the_staff_log_once_however_often_it_is_replayed(world: World) -> None:
    leisure = world.scheme("leisure", "GBP", LEISURE)
    finance, auditor = world.staff("finance"), world.staff("auditor")
    body = {"amount_minor": 1250, "reference": "Grant 2026/7"}

    first = world.post("/api/v1/schemes/leisure/funding", body, finance, key="grant-1")
    again = world.post("/api/v1/schemes/leisure/funding", body, finance, key="grant-1")

    assert first.status_code == again.status_code == 201
    assert first.get_json() == again.get_json()
    assert first.get_json()["kind"] == "fund" and first.get_json()["amount_minor"] == 1250
    assert world.balance(leisure["budget_account_id"]) == 1250
    log = world.get("/api/v1/audit/staff-log?action=scheme.fund", auditor).get_json()["data"]
    assert [(entry["target"], entry["detail"]["amount"]) for entry in log] == [("leisure", "£12.50")]
    assert log[0]["detail"]["reference"] == "Grant 2026/7" and log[0]["key_id"] is not None
    assert log[0]["detail"]["transaction_id"] == first.get_json()["transaction_id"]


def test_funding_in_another_unit_is_refused_and_nothing_is_logged(world: World) -> None:
    leisure = world.scheme("leisure", "GBP", LEISURE)
    refused = world.post(
        "/api/v1/schemes/leisure/funding", {"amount_minor": 60, "unit": "HOUR"}, world.staff("finance")
    )
    assert_problem(refused, 422, "validation")
    assert world.balance(leisure["budget_account_id"]) == 0
    log = world.get("/api/v1/audit/staff-log?action=scheme.fund", world.staff("auditor")).get_json()
    assert log["data"] == []
