"""A small world for the resident page tests: a leisure scheme and a time bank, outlets, one resident with a
card, spends and transfers, driven through the REST API of the same app; signing in through /my."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

from tests.support.api import World
from tests.support.staff_web import StaffWeb, csrf_token, page_text

BORN = dt.date(1975, 1, 15)
LEISURE_RULES = {
    "spending": {"outlet_categories": ["leisure-centre"]},
    "expiry": {"days_after_issue": 30},
}
TIME_BANK_RULES = {
    "issuing": {"mode": "earned"},
    "earning": {"volunteer_hours": {"amount_minor": 1, "per_quantity": True}},
    "spending": {"outlet_categories": ["repair-cafe"], "transferable": True, "overdraft_floor_minor": -600},
}
# What World.resident records about a person: none of it may appear on their page.
PERSONAL = ("1975", "15 January", "15/01", "DB1 2AB", "Riverside")
DEVICE_LABEL = "Till 3 by J. Smith"


@dataclasses.dataclass(frozen=True)
class Household:
    """The resident under test, their card, and the people and places around them."""

    world: World
    resident_id: str
    card_number: str
    card_token: str
    neighbour_id: str
    pool_device: str
    outlets: dict[str, str]  # name → id


def _ok(response: Any) -> dict[str, Any]:
    assert response.status_code in (200, 201), response.get_data(as_text=True)
    return dict(response.get_json())


def household(web: StaffWeb) -> Household:
    """A resident with £20.00 of leisure vouchers (£4.50 spent at the pool), 3 h earned in the time bank,
    1 h given to a neighbour and 30 min received back; outlets that do and do not take each scheme."""
    world = World(web.app, web.clock)
    leisure = world.scheme("leisure", "GBP", LEISURE_RULES, funded=100_000)
    bank = world.scheme("time-bank", "HOUR", TIME_BANK_RULES, funded=10_000)
    resident_id = world.resident((leisure, bank), born=BORN.isoformat())
    neighbour_id = world.resident((bank,), born="1980-02-02")
    number, token = world.card(resident_id)
    pool_id, pool_device = world.outlet(
        ["leisure-centre"], ["leisure"], name="Northbank Pool", device_label=DEVICE_LABEL
    )
    cafe_id, _ = world.outlet(["repair-cafe"], ["time-bank"], name="Repair Café", device_label=DEVICE_LABEL)
    library_id, _ = world.outlet(
        ["library"], ["leisure"], name="Central Library", device_label=DEVICE_LABEL
    )  # wrong category
    world.outlet(
        ["leisure-centre"], [], name="Gym Elsewhere", device_label=DEVICE_LABEL
    )  # not approved for any scheme
    caseworker, manager = world.staff("caseworker"), world.staff("scheme_manager")
    _ok(
        world.post(
            "/api/v1/issuances",
            {"scheme": "leisure", "resident_id": resident_id, "amount_minor": 2000},
            caseworker,
        )
    )
    web.clock.advance(dt.timedelta(hours=1))
    _ok(
        world.post(
            "/api/v1/redemptions",
            {"card_token": token, "amount_minor": 450, "scheme": "leisure"},
            pool_device,
        )
    )
    web.clock.advance(dt.timedelta(hours=1))
    earn = {
        "scheme": "time-bank",
        "resident_id": resident_id,
        "event_type": "volunteer_hours",
        "quantity": 180,
    }
    _ok(world.post("/api/v1/earnings", earn, manager))
    give = {
        "scheme": "time-bank",
        "from_resident_id": resident_id,
        "to_resident_id": neighbour_id,
        "amount_minor": 60,
    }
    _ok(world.post("/api/v1/transfers", give, caseworker))
    back = {
        "scheme": "time-bank",
        "from_resident_id": neighbour_id,
        "to_resident_id": resident_id,
        "amount_minor": 30,
    }
    _ok(world.post("/api/v1/transfers", back, caseworker))
    outlets = {"Northbank Pool": pool_id, "Repair Café": cafe_id, "Central Library": library_id}
    return Household(world, resident_id, number, token, neighbour_id, pool_device, outlets)


def date_of_birth_fields(born: dt.date) -> dict[str, list[str]]:
    """The GOV.UK date input's three boxes."""
    return {"date_of_birth": [str(born.day), str(born.month), str(born.year)]}


def sign_in_with_date_of_birth(web: StaffWeb, number: str, born: dt.date = BORN) -> Any:
    """Post the date-of-birth sign-in form."""
    return web.post_form("/my/sign-in/date-of-birth", {"card_number": number, **date_of_birth_fields(born)})


def sign_in_with_pin(web: StaffWeb, number: str, pin: str) -> Any:
    """Post the PIN sign-in form."""
    return web.post_form("/my/sign-in", {"card_number": number, "pin": pin})


def choose_pin(web: StaffWeb, pin: str, confirm: str | None = None) -> Any:
    """Post the choose-a-PIN form (signed in)."""
    return web.post_form("/my/pin", {"pin": pin, "confirm": pin if confirm is None else confirm})


def signed_in_with_pin(web: StaffWeb, number: str, pin: str = "4827") -> None:
    """First visit with the date of birth, choose a PIN, sign out, sign in with the PIN."""
    assert sign_in_with_date_of_birth(web, number).status_code == 302
    assert choose_pin(web, pin).status_code == 302
    web.post_form("/my/sign-out", {}, form_page="/my/")
    signed_in = sign_in_with_pin(web, number, pin)
    assert signed_in.status_code == 302, page_text(signed_in)


__all__ = ["csrf_token", "page_text"]
