"""A scan tells the counter what the card may spend here and nothing about who holds it (both databases):
no name, date of birth, postcode, ward or resident id in the API's answers or on the kiosk's screens."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx

from kiosk.app import create_kiosk_app
from kiosk.client import ApiClient
from kiosk.counter import Counter
from kiosk.outbox import Outbox
from ledger.usecases.common import new_id
from tests.support.api import World

LEISURE = {"spending": {"outlet_categories": ["leisure-centre"], "offline_floor_limit_minor": 500}}
HOLDER = {
    "name": "Philippa Quennell-Ashworth",
    "date_of_birth": "2009-04-17",
    "postcode": "QX9 7ZW",
    "ward": "Bramblecote Ward",
    "contact": "philippa.q@example.org",
}
DATE_OF_BIRTH_SPELLINGS = ("2009-04-17", "17/04/2009", "17 April 2009", "17 Apr 2009")


def _holder(world: World) -> dict[str, Any]:
    """A resident with distinctive personal details, a card and £10 of leisure vouchers."""
    leisure = world.scheme("leisure", "GBP", LEISURE, funded=10_000)
    resident_id = new_id()

    def enrol(uow: Any) -> None:
        uow.people.add_resident(id=resident_id, kind="person", details=HOLDER, now=world.clock.now())
        uow.people.add_membership(
            resident_id=resident_id,
            scheme_id=leisure["id"],
            collective_id=None,
            referral=None,
            actor="test",
            now=world.clock.now(),
        )

    world.run(enrol)
    number, token = world.card(resident_id)
    issued = world.post(
        "/api/v1/issuances",
        {"scheme": "leisure", "resident_id": resident_id, "amount_minor": 1000},
        world.staff("caseworker"),
        key=f"issue-{resident_id}",
    )
    assert issued.status_code == 201, issued.get_json()
    _, device = world.outlet(["leisure-centre"], ["leisure"])
    return {"resident_id": resident_id, "number": number, "token": token, "device": device}


def _personal_data_in(text: str, resident_id: str) -> list[str]:
    """Which of the holder's details appear in `text` (case-insensitive)."""
    lowered = text.lower()
    details = [
        HOLDER["name"],
        *HOLDER["name"].split()[:1],
        HOLDER["postcode"],
        HOLDER["ward"],
        HOLDER["contact"],
    ]
    found = [
        detail for detail in (*details, *DATE_OF_BIRTH_SPELLINGS, resident_id) if detail.lower() in lowered
    ]
    return found + re.findall(r'"(date_of_birth|resident_id|postcode|ward|contact)"', text)


def test_the_entitlements_a_kiosk_reads_carry_no_personal_data(world: World) -> None:
    holder = _holder(world)
    by_token = world.get(f"/api/v1/cards/{holder['token']}/entitlements", holder["device"])
    by_number = world.get(f"/api/v1/cards/by-number/{holder['number']}/entitlements", holder["device"])

    for answer in (by_token, by_number):
        assert answer.status_code == 200, answer.get_json()
        assert answer.get_json()["schemes"][0]["available_minor"] == 1000
        assert _personal_data_in(answer.get_data(as_text=True), holder["resident_id"]) == []


def test_the_kiosks_card_and_receipt_screens_show_no_personal_data(world: World, tmp_path: Path) -> None:
    holder = _holder(world)
    client = ApiClient("http://api", holder["device"], transport=httpx.WSGITransport(app=world.app))
    counter = Counter(client, Outbox(tmp_path / "kiosk"), now=world.clock.now)
    assert counter.refresh_caches()
    screens = create_kiosk_app(counter).test_client()

    card = screens.post("/scan", data={"card_token": holder["token"]})
    typed = screens.post("/number", data={"card_number": holder["number"]})
    key = re.search(r'name="key" value="([^"]+)"', card.get_data(as_text=True))
    assert key is not None
    form = {"key": key.group(1), "card_token": holder["token"], "card_number": holder["number"]}
    receipt = screens.post(
        "/spend",
        data={**form, "scheme": "leisure", "unit": "GBP", "amount": "2.50", "action": "redeem"},
        follow_redirects=True,
    )

    assert "What this card can spend here" in card.get_data(as_text=True)
    assert "£2.50" in receipt.get_data(as_text=True) and "Accepted" in receipt.get_data(as_text=True)
    for screen in (card, typed, receipt, screens.get("/")):
        assert screen.status_code == 200
        assert _personal_data_in(screen.get_data(as_text=True), holder["resident_id"]) == []
    counter.outbox.close()
