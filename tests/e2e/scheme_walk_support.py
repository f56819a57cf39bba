"""A walk through one scheme over HTTP: staff, kiosks and residents as the API sees them.

Everything goes through the REST API (the Flask test client of tests.support.api.ApiDriver) except the two
things that are not requests: the scheduled expiry job, and the auditor's offline checks at the end
(`checkpoints.verify` and `audit.check`, read on one snapshot as `clubcard audit verify|check` do).
"""

from __future__ import annotations

import copy
import datetime as dt
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from werkzeug.test import TestResponse

from admin.demo_schemes import FIVE_SCHEMES
from ledger.clock import FixedClock
from ledger.usecases import audit, checkpoints
from ledger.usecases.expiry import ExpiryReport, expire_all
from tests.support.api import AUTO, ApiDriver, assert_problem, driver_on

V1 = "/api/v1"
MONDAY = dt.datetime(2026, 11, 2, 9, 0, tzinfo=dt.UTC)
# PostgreSQL seals only behind the server's oldest open transaction, which other work may hold: poll.
SEAL_PATIENCE_SECONDS = 60


def demo_scheme(slug: str) -> dict[str, Any]:
    """The demo council's scheme as staff would type it in (a copy: tests may not change the original)."""
    return copy.deepcopy(next(scheme for scheme in FIVE_SCHEMES if scheme["slug"] == slug))


class Walk:
    """Drives the API as council staff, kiosks and auditors would."""

    def __init__(self, driver: ApiDriver) -> None:
        self.driver = driver
        self.clock = driver.clock
        self.context = driver.context
        self.last_transaction_id: str | None = None

    # -- plain requests -------------------------------------------------------------------------------

    def send(
        self, method: str, path: str, who: str, body: Any = None, key: str | None = None
    ) -> TestResponse:
        """One request as a role (admin, finance...) or with a raw key (a kiosk's device key)."""
        return self.driver.call(method, V1 + path, who, json=body, key=key or AUTO)

    def ok(
        self, method: str, path: str, who: str, body: Any = None, status: int = 201, key: str | None = None
    ) -> dict[str, Any]:
        """A request that must succeed with `status`; returns its JSON body."""
        response = self.send(method, path, who, body, key=key)
        assert response.status_code == status, (method, path, response.status_code, response.get_json())
        data = response.get_json()
        if isinstance(data, dict) and data.get("transaction_id"):
            self.last_transaction_id = str(data["transaction_id"])
        return dict(data) if isinstance(data, dict) else {"list": data}

    def refused(
        self, method: str, path: str, who: str, body: Any, status: int, problem: str
    ) -> dict[str, Any]:
        """A request that must be refused with this status and RFC 9457 problem type; returns the problem."""
        return assert_problem(self.send(method, path, who, body), status, problem)

    # -- staff set up a scheme ------------------------------------------------------------------------

    def create_scheme(self, scheme: dict[str, Any], who: str = "scheme_manager") -> dict[str, Any]:
        """POST /schemes from data; checks the scheme reads back as it was typed in."""
        created = self.ok("POST", "/schemes", who, scheme)
        assert (created["slug"], created["unit"], created["version"]) == (scheme["slug"], scheme["unit"], 1)
        assert created["budget_balance_minor"] == 0
        return created

    def fund(self, slug: str, amount_minor: int) -> dict[str, Any]:
        """Finance adds to the budget (bank → budget)."""
        before = self.budget(slug)
        receipt = self.ok(
            "POST", f"/schemes/{slug}/funding", "finance", {"amount_minor": amount_minor, "reference": "PO-1"}
        )
        assert (receipt["kind"], receipt["amount_minor"]) == ("fund", amount_minor)
        assert self.budget(slug) == before + amount_minor
        return receipt

    def budget(self, slug: str) -> int:
        """The scheme budget as staff read it (GET /schemes/{slug})."""
        return int(self.ok("GET", f"/schemes/{slug}", "finance", status=200)["budget_balance_minor"])

    def outlet(self, name: str, categories: list[str], schemes: list[str]) -> tuple[str, str]:
        """An admin registers an outlet and a kiosk credential for it: (outlet id, device key)."""
        outlet = self.ok(
            "POST", "/outlets", "admin", {"name": name, "categories": categories, "schemes": schemes}
        )
        assert (sorted(outlet["categories"]), sorted(outlet["schemes"])) == (
            sorted(categories),
            sorted(schemes),
        )
        device = self.ok("POST", f"/outlets/{outlet['id']}/devices", "admin", {"label": "front desk"})
        assert device["outlet_id"] == outlet["id"] and not device["revoked"]
        return str(outlet["id"]), str(device["key"])

    # -- residents ------------------------------------------------------------------------------------

    def resident(self, name: str, kind: str = "person", **details: Any) -> str:
        """A caseworker enrols a resident; returns the pseudonymous id."""
        created = self.ok("POST", "/residents", "caseworker", {"kind": kind, "name": name, **details})
        assert created["kind"] == kind and created["details"]["name"] == name
        return str(created["id"])

    def join(self, slug: str, resident_id: str, who: str = "caseworker", **extra: Any) -> dict[str, Any]:
        """Enrol a resident in a scheme (eligibility checked)."""
        joined = self.ok("POST", f"/schemes/{slug}/members", who, {"resident_id": resident_id, **extra})
        assert (joined["resident_id"], joined["scheme"]) == (resident_id, slug)
        return joined

    def refused_to_join(self, slug: str, resident_id: str, **extra: Any) -> str:
        """An enrolment refused as not-eligible; returns the reason given."""
        body = {"resident_id": resident_id, **extra}
        return str(
            self.refused("POST", f"/schemes/{slug}/members", "caseworker", body, 422, "not-eligible")[
                "detail"
            ]
        )

    def card(self, resident_id: str) -> str:
        """A caseworker issues a card; returns the signed token its QR code carries."""
        card = self.ok("POST", f"/residents/{resident_id}/cards", "caseworker")
        assert card["resident_id"] == resident_id and len(card["token"]) < 300
        return str(card["token"])

    def wallet(self, resident_id: str, slug: str) -> int:
        """A resident's balance in a scheme as a caseworker sees it (GET /residents/{id})."""
        seen = self.ok("GET", f"/residents/{resident_id}", "caseworker", status=200)
        return sum(int(w["balance_minor"]) for w in seen["wallets"] if w["scheme"] == slug)

    # -- value ----------------------------------------------------------------------------------------

    def redeem(self, device: str, token: str, slug: str, amount_minor: int) -> dict[str, Any]:
        """A kiosk redeems; returns the receipt."""
        body = {"card_token": token, "scheme": slug, "amount_minor": amount_minor}
        receipt = self.ok("POST", "/redemptions", device, body)
        assert (receipt["kind"], receipt["amount_minor"], receipt["scheme"]) == ("redeem", amount_minor, slug)
        assert sum(lot["amount_minor"] for lot in receipt["taken"]) == amount_minor
        return receipt

    def refuse_redemption(
        self, device: str, token: str, slug: str, amount_minor: int, status: int, problem: str
    ) -> None:
        """A kiosk's redemption refused, leaving the books as they were."""
        before = self.trial_balance()["lines"]
        body = {"card_token": token, "scheme": slug, "amount_minor": amount_minor}
        self.refused("POST", "/redemptions", device, body, status, problem)
        assert self.trial_balance()["lines"] == before

    def entitlements(self, device: str, token: str) -> dict[str, dict[str, Any]]:
        """What the card may spend at the kiosk's outlet, by scheme slug."""
        seen = self.ok("GET", f"/cards/{token}/entitlements", device, status=200)
        return {scheme["scheme"]: scheme for scheme in seen["schemes"]}

    def expire(self) -> ExpiryReport:
        """The scheduled expiry job (not an HTTP request), at the walk's clock."""
        return expire_all(self.context.uow_factory, self.clock)

    # -- the auditor ----------------------------------------------------------------------------------

    def trial_balance(self) -> dict[str, Any]:
        """GET /audit/trial-balance as the auditor."""
        return self.ok("GET", "/audit/trial-balance", "auditor", status=200)

    def close_the_books(self) -> None:
        """Trial balance zero per unit; everything sealed under a signed checkpoint; verify and check ok."""
        balance = self.trial_balance()
        assert balance["balanced"], balance["totals_by_unit"]
        assert balance["totals_by_unit"] and set(balance["totals_by_unit"].values()) == {0}
        journal = self.send("GET", "/audit/journal?format=json", "auditor")
        assert journal.status_code == 200
        recorded = len(journal.get_json()["data"])
        assert recorded > 0
        deadline = time.monotonic() + SEAL_PATIENCE_SECONDS
        while True:
            sealed = self.send("POST", "/audit/checkpoints", "finance")
            assert sealed.status_code in (200, 201), sealed.get_json()
            heads = self.ok("GET", "/audit/checkpoints?limit=1", "auditor", status=200)["data"]
            if heads and heads[0]["tree_size"] == recorded:
                break
            assert time.monotonic() < deadline, (
                f"only {heads[0]['tree_size'] if heads else 0} of {recorded} sealed"
            )
            time.sleep(0.1)
        assert heads[0]["signature_valid"] and heads[0]["key_id"] == self.context.ledger_key.key_id
        trusted = {self.context.ledger_key.key_id}
        verified = self.context.read(lambda uow: checkpoints.verify(uow, trusted))
        assert verified.ok, verified.problem
        assert verified.transactions_checked == recorded and verified.checkpoints_checked >= 1
        checked = self.context.read(lambda uow: audit.check(uow))
        assert checked.ok, checked.problems
        if self.last_transaction_id is not None:  # and any receipt can be proved included
            proof = self.ok("GET", f"/transactions/{self.last_transaction_id}/proof", "auditor", status=200)
            assert proof["checkpoint"]["signature_valid"]


@pytest.fixture
def walk(database_url: str, tmp_path: Path) -> Iterator[Walk]:
    """The API on a fresh database (SQLite, then PostgreSQL) with a key per staff role, on a Monday morning
    (the walks count their days and weeks from it)."""
    for driver in driver_on(database_url, tmp_path, clock=FixedClock(MONDAY)):
        yield Walk(driver)
