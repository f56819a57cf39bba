"""Helpers for the schemes, bulk, expiry and shortfalls pages' tests: the demo schemes, members who spend,
the REST API on the same app (World), the rules form as a browser posts it, and the staff log."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from sqlalchemy import select

from admin.demo_schemes import FIVE_SCHEMES
from admin.web.forms_rules import rules_form_data
from ledger.db.tables import staff_actions
from ledger.rules import parse_rules
from tests.support.api import World
from tests.support.staff_web import StaffWeb

LEISURE = next(scheme for scheme in FIVE_SCHEMES if scheme["slug"] == "leisure-vouchers")
RULE_CHECKBOXES = {"referral_required", "partial_spend", "transferable", "per_quantity", "collective"}


def world_of(web: StaffWeb) -> World:
    """The REST API and set-up helpers on the staff UI's own app and clock."""
    return World(web.app, web.clock)


def demo(world: World, slug: str, funded_minor: int = 0) -> dict[str, Any]:
    """One of the demo council's five schemes, created (and funded) as the seed does."""
    data = next(scheme for scheme in FIVE_SCHEMES if scheme["slug"] == slug)
    return world.scheme(slug, data["unit"], data["rules"], funded=funded_minor, name=data["name"])


def spending_member(world: World, scheme: dict[str, Any], *, spend_minor: int) -> tuple[str, str]:
    """A member issued the scheme's standard amount who spends some of it at an outlet: (id, card token)."""
    resident_id = world.resident((scheme,))
    _, token = world.card(resident_id)
    issued = world.post(
        "/api/v1/issuances", {"scheme": scheme["slug"], "resident_id": resident_id}, world.staff("caseworker")
    )
    assert issued.status_code == 201, issued.get_json()
    _, device = world.outlet(["leisure-centre"], [scheme["slug"]])
    spent = world.post(
        "/api/v1/redemptions",
        {"card_token": token, "amount_minor": spend_minor, "scheme": scheme["slug"]},
        device,
    )
    assert spent.status_code == 201, spent.get_json()
    return resident_id, token


def form_fields(data: dict[str, Any]) -> dict[str, Any]:
    """A rules form's data (rules_form_data) as a browser posts it: ticked boxes only, dates in three
    boxes, earning rows as earning-N-field."""
    posted: dict[str, Any] = {}
    for name, value in data.items():
        if name == "earning":
            for index, row in enumerate(value):
                posted |= {f"earning-{index}-{key}": item for key, item in form_fields(row).items()}
        elif name in RULE_CHECKBOXES:
            if value:
                posted[name] = "y"
        elif isinstance(value, dt.date):
            posted[name] = [str(value.day), str(value.month), str(value.year)]
        elif value is not None:
            posted[name] = value
    return posted


def rules_posted(rules: dict[str, Any], unit: str, name: str, **changes: Any) -> dict[str, Any]:
    """The edit form for these rules as a browser would post it unchanged, with `changes` applied."""
    return {**form_fields(rules_form_data(parse_rules(rules), unit, name)), **changes}


def new_scheme_posted(**changes: Any) -> dict[str, Any]:
    """The create form filled in for a leisure scheme like the demo one."""
    return {
        **rules_posted(LEISURE["rules"], "GBP", "Leisure 2027"),
        "slug": "leisure-2027",
        "unit": "GBP",
        **changes,
    }


def staff_log(web: StaffWeb, action: str) -> list[dict[str, Any]]:
    """The staff log entries for one action, oldest first, with their detail decoded."""
    query = select(staff_actions).where(staff_actions.c.action == action).order_by(staff_actions.c.at)
    rows = web.context.read(lambda uow: list(uow.execute_now(query)))
    return [{**dict(row._mapping), "detail": json.loads(row.detail_json)} for row in rows]


OFFLINE_LEISURE = {
    "spending": {"outlet_categories": ["leisure-centre"], "offline_floor_limit_minor": 500},
    "expiry": {"days_after_issue": 10},
}


def offline_outlet(world: World) -> str:
    """A leisure scheme kiosks may spend offline (up to £5.00 a card a day) and a kiosk: its device key."""
    world.scheme("leisure", "GBP", OFFLINE_LEISURE, funded=50_000)
    _, device = world.outlet(["leisure-centre"], ["leisure"])
    return device


def shortfall(
    world: World, device: str, *, wallet_minor: int = 300, spent_minor: int = 500
) -> dict[str, Any]:
    """A new member's offline spend that their wallet could not cover when the kiosk synced: the sync's
    answer (with the shortfall's id)."""
    scheme = world.run(lambda uow: uow.schemes.get(slug="leisure"))
    resident_id = world.resident((scheme,))
    number, token = world.card(resident_id)
    issued = world.post(
        "/api/v1/issuances",
        {"scheme": "leisure", "resident_id": resident_id, "amount_minor": wallet_minor},
        world.staff("caseworker"),
    )
    assert issued.status_code == 201, issued.get_json()
    body = {
        "card_token": token,
        "scheme": "leisure",
        "amount_minor": spent_minor,
        "occurred_at": (world.clock.now() - dt.timedelta(minutes=30)).isoformat(),
    }
    synced = world.post("/api/v1/offline-redemptions", body, device)
    assert synced.status_code == 201 and synced.get_json()["shortfall_id"], synced.get_json()
    return {**synced.get_json(), "card_number": number}
