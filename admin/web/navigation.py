"""Which sections each role sees: the service navigation and the dashboard, from one table."""

from __future__ import annotations

import dataclasses

from flask import url_for
from werkzeug.routing import BuildError

from ledger.usecases.staff_accounts import StaffUser


@dataclasses.dataclass(frozen=True)
class Section:
    """One area of the staff UI."""

    text: str
    endpoint: str
    roles: tuple[str, ...]
    hint: str


SECTIONS = (
    Section("Residents", "staff.residents", ("admin", "caseworker"), "Find, enrol, issue cards and vouchers"),
    Section("Schemes", "staff.schemes", ("admin", "scheme_manager", "finance"), "Rules, budgets and uptake"),
    Section("Bulk issuance", "staff.bulk", ("admin", "scheme_manager"), "Pay an allowance to a group"),
    Section("Outlets and kiosks", "staff.outlets", ("admin",), "Partners, approved schemes, device keys"),
    Section("Expiry and holds", "staff.expiry", ("admin", "scheme_manager"), "What expires soon; run expiry"),
    Section(
        "Offline shortfalls",
        "staff.shortfalls",
        ("admin", "finance", "scheme_manager"),
        "Kiosk redemptions that came up short",
    ),
    Section(
        "Street pots",
        "staff.street_pot_list",
        ("admin", "scheme_manager", "caseworker"),
        "Households vote on what their street's pot buys",
    ),
    Section(
        "Insight",
        "staff.insight",
        ("admin", "scheme_manager", "finance", "auditor"),
        "Uptake, value and equity by ward",
    ),
    Section("Settlements", "staff.settlements", ("finance", "admin", "auditor"), "Pay outlets what is owed"),
    Section("Books", "staff.books", ("auditor", "finance", "admin"), "Trial balance, journal, checkpoints"),
    Section("Staff log", "staff.staff_log", ("auditor", "admin"), "Who did what, when, from where"),
)


def sections_for(user: StaffUser | None) -> list[dict[str, str]]:
    """The sections this user may open, as links (sections not built yet are left out)."""
    if user is None:
        return []
    links = []
    for section in SECTIONS:
        if user.role not in section.roles:
            continue
        try:
            href = url_for(section.endpoint)
        except BuildError:
            continue
        links.append({"text": section.text, "href": href, "hint": section.hint})
    return links


def navigation(user: StaffUser | None, path: str) -> list[dict[str, object]]:
    """Service navigation items, the current one marked."""
    return [
        {"text": link["text"], "href": link["href"], "active": path.startswith(link["href"])}
        for link in sections_for(user)
    ]
