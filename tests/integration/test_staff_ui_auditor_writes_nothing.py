"""An auditor can change nothing anywhere in the staff UI, on SQLite and PostgreSQL: every write URL of
every section refuses them (403, with a valid CSRF token), and no page they can open shows a write control.

The write URLs are read from the app's URL map, so a section added later is covered without editing this
file; signing in, signing out and the auditor's own account are the only writes an auditor may make.
"""

from __future__ import annotations

import collections
import datetime as dt
import html
import re
from typing import Any
from urllib.parse import urlsplit

import pytest
from werkzeug.routing import IntegerConverter, Rule

from ledger.usecases.cards import issue_first_card
from ledger.usecases.outlets import add_device
from ledger.usecases.residents import enrol_resident
from ledger.usecases.staff_log import StaffLogFilter, staff_log_page
from tests.integration.staff_books_support import Ledger, links, small_ledger
from tests.support.staff_web import StaffWeb, csrf_token, staff_web_fixture  # noqa: F401

# The writes any member of staff makes on themself; every other POST under /admin must refuse an auditor.
OWN_SESSION_ENDPOINTS = {
    "staff.sign_in",
    "staff.second_factor",
    "staff.sign_out",
    "staff.sign_out_everywhere",
}
OWN_SESSION_ACTIONS = {"/admin/sign-out", "/admin/account/sign-out-everywhere"}
MAX_PAGES_CRAWLED = 400
_FORM = re.compile(r"<form\b[^>]*>", re.I)
_METHOD = re.compile(r"""\bmethod\s*=\s*["']?([a-z]+)""", re.I)
_ACTION = re.compile(r"""\baction\s*=\s*["']([^"']*)["']""", re.I)


class World:
    """Something in every section for an auditor to look at: schemes, money moved, an outlet with a kiosk,
    a resident with a card, a signed checkpoint, a staff log."""

    def __init__(self, web: StaffWeb) -> None:
        self.ledger: Ledger = small_ledger(web)
        now, context = web.clock.now(), web.context
        resident = context.write(
            lambda uow: enrol_resident(
                uow,
                kind="person",
                details={"name": "Ada Lovelace", "date_of_birth": dt.date(1990, 5, 1)},
                now=now,
                actor="t",
            )
        )
        self.card = context.write(
            lambda uow: issue_first_card(
                uow, resident_id=resident["id"], key=context.card_key, now=now, actor="t"
            )
        )
        outlet_id = self.ledger.outlet["id"]
        device = context.write(
            lambda uow: add_device(uow, outlet_id=outlet_id, label="front desk", now=now, actor="t")
        )
        self.values = {
            "resident_id": resident["id"],
            "number": self.card.number,
            "outlet_id": outlet_id,
            "device_id": device.principal.key_id,
            "slug": self.ledger.leisure["slug"],
            "transaction_id": self.ledger.spend_id,
            "account_id": self.ledger.wallet_account_id,
        }

    def url(self, rule: Rule) -> str:
        """The rule's URL with this world's ids (a placeholder for an argument it has no value for)."""
        values: dict[str, Any] = {}
        for name in rule.arguments:
            converter = rule._converters[name]  # werkzeug keeps them per rule
            values[name] = (
                1 if isinstance(converter, IntegerConverter) else self.values.get(name, "placeholder")
            )
        built = rule.build(values, append_unknown=False)
        assert built is not None, rule.rule
        return built[1]


@pytest.fixture
def world(staff_web: StaffWeb) -> World:
    return World(staff_web)


def staff_rules(web: StaffWeb, method: str) -> list[Rule]:
    """Every rule of the staff UI that answers `method`, except the member of staff's own session."""
    return [
        rule
        for rule in web.app.url_map.iter_rules()
        if rule.rule.startswith("/admin")
        and method in (rule.methods or ())
        and rule.endpoint not in OWN_SESSION_ENDPOINTS
        and not rule.rule.startswith("/admin/account")
    ]


def _staff_log_size(web: StaffWeb) -> int:
    entries = web.context.read(
        lambda uow: staff_log_page(uow, where=StaffLogFilter(), limit=1_000, starting_after="")
    )
    return len(entries)


def test_an_auditor_gets_403_on_every_write_url_of_the_staff_ui_even_with_a_valid_csrf_token(
    staff_web: StaffWeb, world: World
) -> None:
    staff_web.sign_in("auditor")
    token = csrf_token(staff_web.get("/admin/account").get_data(as_text=True))
    writes = staff_rules(staff_web, "POST")
    logged = _staff_log_size(staff_web)

    answers = {
        rule.rule: staff_web.client.post(world.url(rule), data={"csrf_token": token}).status_code
        for rule in writes
    }

    assert {"/admin/outlets/new", "/admin/outlets/<outlet_id>/devices/<device_id>/revoke"} <= set(answers)
    assert len(answers) >= 8, answers
    assert {path: status for path, status in answers.items() if status != 403} == {}
    assert _staff_log_size(staff_web) == logged  # nothing was done, so nothing was logged


def _post_forms(page: str) -> list[str]:
    """The actions of the POST forms on a page."""
    actions = []
    for tag in _FORM.findall(page):
        method = _METHOD.search(tag)
        if method is not None and method.group(1).lower() == "post":
            action = _ACTION.search(tag)
            actions.append(html.unescape(action.group(1)) if action else "(this page)")
    return actions


def _crawl(web: StaffWeb, start: list[str]) -> tuple[dict[str, int], dict[str, list[str]]]:
    """Open every /admin page reachable from `start`; (status of each, POST forms on each opened page)."""
    statuses: dict[str, int] = {}
    writes: dict[str, list[str]] = {}
    queue = collections.deque(start)
    while queue and len(statuses) < MAX_PAGES_CRAWLED:
        path = queue.popleft()
        if path in statuses:
            continue
        response = web.get(path)
        statuses[path] = response.status_code
        if response.status_code != 200 or response.mimetype != "text/html":
            continue
        page = response.get_data(as_text=True)
        forms = [action for action in _post_forms(page) if urlsplit(action).path not in OWN_SESSION_ACTIONS]
        if forms:
            writes[path] = forms
        queue.extend(link for link in links(page) if link not in statuses)
    return statuses, writes


def test_no_page_an_auditor_can_open_shows_a_write_control(staff_web: StaffWeb, world: World) -> None:
    staff_web.sign_in("auditor")
    every_page = [world.url(rule) for rule in staff_rules(staff_web, "GET")]

    statuses, writes = _crawl(staff_web, ["/admin/", *every_page])

    assert writes == {}
    opened = {urlsplit(path).path for path, status in statuses.items() if status == 200}
    assert {
        "/admin/books/trial-balance",
        "/admin/books/journal",
        f"/admin/books/transactions/{world.ledger.spend_id}",
        f"/admin/books/accounts/{world.ledger.wallet_account_id}",
        "/admin/books/checkpoints",
        "/admin/staff-log",
    } <= opened
    assert f"/admin/residents/{world.values['resident_id']}" not in opened  # not an auditor's page
    assert len(statuses) < MAX_PAGES_CRAWLED, "the crawl stopped early: raise the limit"
