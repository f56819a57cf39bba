"""Helpers for the residents pages' tests: the demo schemes, enrolling through the form, the staff log."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select

from admin.demo_schemes import FIVE_SCHEMES
from ledger.db.tables import staff_actions
from ledger.units import Unit
from ledger.usecases import flows
from ledger.usecases.api_keys import create_key
from ledger.usecases.schemes import create_scheme
from tests.support.staff_web import StaffWeb, page_text

ON_BEHALF = {"asked_by": "resident", "reason": "Came to the desk at the library"}
THIRD_PARTY = {
    "asked_by": "someone-else",
    "third_party": "Sam Patel, probation officer",
    "reason": "Released on Monday; needs a bed",
}
TEEN = {"name": "Ada Lovelace", "born": (15, 6, 2010), "ward": "Riverside", "postcode": "ab1 2cd"}
ADULT = {"name": "Grace Hopper", "born": (9, 12, 2004), "ward": "Riverside", "postcode": "AB1 3EF"}


def demo_scheme(web: StaffWeb, slug: str, funded_minor: int = 0) -> dict[str, Any]:
    """One of the demo council's schemes (optionally funded)."""
    data = next(scheme for scheme in FIVE_SCHEMES if scheme["slug"] == slug)
    now = web.clock.now()
    scheme = web.context.write(
        lambda uow: create_scheme(
            uow,
            slug=slug,
            name=data["name"],
            unit=Unit(data["unit"]),
            rules=data["rules"],
            now=now,
            actor="t",
        )
    )
    if funded_minor:
        web.context.write(
            lambda uow: flows.fund(
                uow, scheme=scheme, amount_minor=funded_minor, now=now, actor="finance", key=f"fund-{slug}"
            )
        )
    return dict(scheme)


def date_fields(name: str, day: int | str, month: int | str, year: int | str) -> dict[str, list[str]]:
    """A GOV.UK date input's three boxes, as a browser posts them (one name, three values)."""
    return {name: [str(day), str(month), str(year)]}


def enrol_form(person: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """The enrolment form filled in for a person."""
    return {
        "kind": "person",
        "name": person["name"],
        **date_fields("date_of_birth", *person["born"]),
        "postcode": person.get("postcode", ""),
        "ward": person.get("ward", ""),
        "contact": "",
        **ON_BEHALF,
        **extra,
    }


def enrol(web: StaffWeb, person: dict[str, Any], **extra: Any) -> str:
    """Enrol through the form; the new resident's id."""
    response = web.post_form("/admin/residents/new", enrol_form(person, **extra))
    assert response.status_code == 302, page_text(response)
    return str(response.headers["Location"]).rsplit("/", 1)[-1]


def join(web: StaffWeb, resident_id: str, slug: str, **extra: Any) -> Any:
    """Post the enrol-in-a-scheme form."""
    path = f"/admin/residents/{resident_id}/schemes"
    return web.post_form(path, {"scheme": slug, **ON_BEHALF, **extra})


def issue_card(web: StaffWeb, resident_id: str) -> str:
    """Issue a card through the form; its number, read from the resident page."""
    response = web.post_form(f"/admin/residents/{resident_id}/cards/new", ON_BEHALF)
    assert response.status_code == 302, page_text(response)
    cards = web.context.read(lambda uow: uow.people.cards_of(resident_id))
    return str(cards[-1]["number"])


def staff_log(web: StaffWeb, action: str) -> list[dict[str, Any]]:
    """The staff log's entries for one action, oldest first, detail decoded."""
    query = (
        select(staff_actions)
        .where(staff_actions.c.action == action)
        .order_by(staff_actions.c.at, staff_actions.c.id)
    )
    rows = web.context.read(lambda uow: uow.execute_now(query).all())
    return [{**row._mapping, "detail": json.loads(row.detail_json)} for row in rows]


def api_key(web: StaffWeb, role: str, outlet_id: str | None = None) -> str:
    """A bearer key for the REST API of the same app."""
    made = web.context.write(
        lambda uow: create_key(uow, role=role, outlet_id=outlet_id, label="test", now=web.clock.now())
    )
    return str(made.secret)
