"""A kiosk acts for whoever presents a card: naming a resident by id moves nothing."""

from __future__ import annotations

from tests.support.api import World, assert_problem

TIME_BANK = {
    "issuing": {"mode": "earned"},
    "earning": {"volunteer_hours": {"amount_minor": 1, "per_quantity": True}},
    "spending": {"outlet_categories": ["repair-cafe"], "transferable": True, "overdraft_floor_minor": -600},
}


def test_a_kiosk_cannot_move_a_members_hours_by_naming_their_id(world: World) -> None:
    bank = world.scheme("time-bank", "HOUR", TIME_BANK, funded=10_000)
    victim, thief = world.resident((bank,)), world.resident((bank,))
    _, kiosk = world.outlet(["repair-cafe"], ["time-bank"])
    before = world.books()
    taken = world.post(
        "/api/v1/transfers",
        {"scheme": "time-bank", "from_resident_id": victim, "to_resident_id": thief, "amount_minor": 100},
        kiosk,
    )
    assert_problem(taken, 403, "forbidden")
    assert world.books() == before
    assert world.wallet(victim, bank) == 0 and world.wallet(thief, bank) == 0


def test_a_caseworker_may_pay_on_a_members_behalf_by_id(world: World) -> None:
    bank = world.scheme("time-bank", "HOUR", TIME_BANK, funded=10_000)
    payer, payee = world.resident((bank,)), world.resident((bank,))
    paid = world.post(
        "/api/v1/transfers",
        {"scheme": "time-bank", "from_resident_id": payer, "to_resident_id": payee, "amount_minor": 60},
        world.staff("caseworker"),
    )
    assert paid.status_code == 201, paid.get_json()
    assert world.wallet(payer, bank) == -60 and world.wallet(payee, bank) == 60


def test_a_kiosk_credits_earnings_only_to_the_card_presented(world: World) -> None:
    bank = world.scheme("time-bank", "HOUR", TIME_BANK, funded=10_000)
    absent = world.resident((bank,))
    _, token = world.card(absent)
    _, kiosk = world.outlet(["repair-cafe"], ["time-bank"])
    event = {"scheme": "time-bank", "event_type": "volunteer_hours", "quantity": 30}
    assert_problem(world.post("/api/v1/earnings", {**event, "resident_id": absent}, kiosk), 403, "forbidden")
    assert world.wallet(absent, bank) == 0
    credited = world.post("/api/v1/earnings", {**event, "card_token": token}, kiosk)
    assert credited.status_code == 201, credited.get_json()
    assert world.wallet(absent, bank) == 30
