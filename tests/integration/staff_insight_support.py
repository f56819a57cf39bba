"""A small council for the insight pages' tests: a leisure scheme with members in three wards, most of
whom spend at one leisure centre; one ward has a single member, so suppression shows."""

from __future__ import annotations

import datetime as dt

from tests.support.api import World

INSIGHT_LEISURE = {
    "spending": {"outlet_categories": ["leisure-centre"]},
    "expiry": {"days_after_issue": 90},
}
# Members per ward; Castle has one member, the resident who must not be singled out.
WARD_MEMBERS = {"Riverside": 12, "Northgate": 11, "Castle": 1}
WARDS_CSV = "ward,deprivation_decile\nRiverside,2\nNorthgate,4\nCastle,7\nEastfield,9\n"
ISSUED_MINOR = 1000
SPENT_MINOR = 400


def insight_world(world: World) -> None:
    """Every member issued £10.00 and spends £4.00 at the same leisure centre a day later."""
    scheme = world.scheme("leisure", "GBP", INSIGHT_LEISURE, funded=1_000_000)
    _, device = world.outlet(["leisure-centre"], ["leisure"])
    caseworker = world.staff("caseworker")
    tokens = []
    for ward, count in WARD_MEMBERS.items():
        for _ in range(count):
            resident_id = world.resident((scheme,), ward=ward, born="1990-03-04")
            _, token = world.card(resident_id)
            body = {"scheme": "leisure", "resident_id": resident_id, "amount_minor": ISSUED_MINOR}
            issued = world.post("/api/v1/issuances", body, caseworker)
            assert issued.status_code == 201, issued.get_json()
            tokens.append(token)
    world.clock.advance(dt.timedelta(days=1))
    for token in tokens:
        body = {"card_token": token, "amount_minor": SPENT_MINOR, "scheme": "leisure"}
        spent = world.post("/api/v1/redemptions", body, device)
        assert spent.status_code == 201, spent.get_json()
