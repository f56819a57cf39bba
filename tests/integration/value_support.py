"""A small world for the value and redemption API tests: app, clock, schemes, people, outlets, keys."""

from __future__ import annotations

import datetime as dt
import itertools
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from werkzeug.test import TestResponse

from api.app import create_app
from clubcard.context import LedgerContext
from clubcard.jobs import JobRunner
from ledger.clock import FixedClock
from ledger.units import Unit
from ledger.usecases import flows
from ledger.usecases.api_keys import create_key
from ledger.usecases.audit import check, trial_balance
from ledger.usecases.cards import block_card, issue_card
from ledger.usecases.checkpoints import seal, verify
from ledger.usecases.common import new_id
from ledger.usecases.schemes import create_scheme

START = dt.datetime(2026, 11, 4, 10, 0, tzinfo=dt.UTC)  # a Wednesday
PROBLEM = "https://clubcard.example/problems/"
BAD_INTEGERS = ["2.5", '"7"', "true", "1e3", "-5", "0", "null"]


class World:
    """Drives the API as its callers would, and sets up what other endpoints would create."""

    def __init__(self, app: Flask, clock: FixedClock) -> None:
        self.app = app
        self.clock = clock
        self.client = app.test_client()
        self.context: LedgerContext = app.extensions["clubcard"]
        self._staff: dict[str, str] = {}
        self._keys = itertools.count()

    def run(self, operation: Any) -> Any:
        """Run a use case in one transaction."""
        return self.context.write(operation)

    def staff(self, role: str) -> str:
        """A staff key secret for a role (one per role)."""
        if role not in self._staff:
            self._staff[role] = self.run(
                lambda uow: create_key(uow, role=role, outlet_id=None, label=role, now=self.clock.now())
            ).secret
        return self._staff[role]

    def scheme(self, slug: str, unit: str, rules: dict[str, Any], funded: int = 0) -> dict[str, Any]:
        """Create (and fund) a scheme."""
        scheme = self.run(
            lambda uow: create_scheme(
                uow, slug=slug, name=slug, unit=Unit(unit), rules=rules, now=self.clock.now(), actor="test"
            )
        )
        if funded:
            self.fund(scheme, funded)
        return dict(scheme)

    def fund(self, scheme: dict[str, Any], amount: int) -> None:
        """Add to a scheme budget."""
        self.run(
            lambda uow: flows.fund(
                uow, scheme=scheme, amount_minor=amount, now=self.clock.now(), actor="test", key=new_id()
            )
        )

    def resident(
        self,
        schemes: tuple[dict[str, Any], ...] = (),
        *,
        kind: str = "person",
        born: str | None = "2010-01-01",
        ward: str | None = "Riverside",
        collective: str | None = None,
        referral: str | None = "referral",
    ) -> str:
        """Enrol a resident (with details) in schemes."""
        resident_id = new_id()
        details = {
            "name": "Test",
            "date_of_birth": born,
            "postcode": "DB1 2AB",
            "ward": ward,
            "contact": None,
        }

        def operation(uow: Any) -> None:
            uow.people.add_resident(id=resident_id, kind=kind, details=details, now=self.clock.now())
            for scheme in schemes:
                uow.people.add_membership(
                    resident_id=resident_id,
                    scheme_id=scheme["id"],
                    collective_id=collective,
                    referral=referral,
                    actor="test",
                    now=self.clock.now(),
                )

        self.run(operation)
        return resident_id

    def card(self, resident_id: str) -> tuple[str, str]:
        """Issue a card: (number, token)."""
        card = self.run(
            lambda uow: issue_card(
                uow, resident_id=resident_id, key=self.context.card_key, now=self.clock.now()
            )
        )
        return card.number, card.token

    def block(self, number: str) -> None:
        """Block a card."""
        self.run(lambda uow: block_card(uow, number=number, now=self.clock.now()))

    def outlet(self, categories: list[str], schemes: list[str]) -> tuple[str, str]:
        """An outlet and a device key for it: (outlet id, secret)."""
        outlet_id = new_id()
        self.run(
            lambda uow: uow.registry.add_outlet(
                id=outlet_id, name="outlet", categories=categories, schemes=schemes, now=self.clock.now()
            )
        )
        secret = self.run(
            lambda uow: create_key(
                uow, role="device", outlet_id=outlet_id, label="kiosk", now=self.clock.now()
            )
        ).secret
        return outlet_id, secret

    def post(
        self, path: str, body: Any, secret: str, *, key: str | None = "auto", raw: str | None = None
    ) -> TestResponse:
        """POST JSON with a bearer key and an Idempotency-Key (fresh unless given; None sends none)."""
        headers = {"Authorization": f"Bearer {secret}"}
        if key == "auto":
            key = f"k-{next(self._keys)}-{new_id()}"
        if key is not None:
            headers["Idempotency-Key"] = key
        if raw is not None:
            return self.client.post(path, data=raw, headers=headers, content_type="application/json")
        return self.client.post(path, json=body, headers=headers)

    def get(self, path: str, secret: str) -> TestResponse:
        """GET with a bearer key."""
        return self.client.get(path, headers={"Authorization": f"Bearer {secret}"})

    def wallet(self, resident_id: str, scheme: dict[str, Any]) -> int:
        """A wallet's balance in one scheme."""
        return int(self.context.read(lambda uow: uow.lots.owners_total(resident_id, scheme["id"])))

    def balance(self, account_id: str) -> int:
        """An account's balance."""
        return int(self.context.read(lambda uow: uow.accounts.balance(account_id)))

    def account_id(self, name: str) -> str | None:
        """The id of an account by name."""
        found = self.context.read(lambda uow: uow.accounts.by_name(name))
        return None if found is None else str(found.id)

    def books(self) -> tuple[Any, ...]:
        """The trial balance now, to compare before and after a refused request."""
        return tuple(self.context.read(lambda uow: trial_balance(uow)).lines)

    def transaction(self, transaction_id: str) -> Any:
        """A recorded transaction."""
        return self.context.read(lambda uow: uow.journal.get(transaction_id))

    def assert_audit_ok(self) -> None:
        """Balances equal sums of postings, every transaction balances, floors hold."""
        report = self.context.read(lambda uow: check(uow))
        assert report.ok, report.problems

    def assert_books_right(self) -> None:
        """Trial balance zero in every unit, the audit check clean, and the sealed log verifies."""
        balance = self.context.read(lambda uow: trial_balance(uow))
        assert balance.balanced and set(balance.totals_by_unit.values()) <= {0}, balance.totals_by_unit
        self.assert_audit_ok()
        key = self.context.ledger_key
        self.run(lambda uow: seal(uow, key, self.clock.now()))
        report = self.context.read(lambda uow: verify(uow, {key.key_id}, workers=1))
        assert report.ok, report.problem

    def wait_for_job(self, job_id: str, secret: str, timeout: float = 30.0) -> dict[str, Any]:
        """Run the queued jobs as a worker would, then read the job until it is no longer running."""
        JobRunner(self.context.uow_factory, self.clock).run_pending()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            job = self.get(f"/api/v1/jobs/{job_id}", secret).get_json()
            if job["status"] not in ("queued", "running"):
                return dict(job)
            time.sleep(0.05)
        raise AssertionError(f"job {job_id} still running")


def problem(response: TestResponse, status: int, kind: str) -> None:
    """Assert a problem+json response of this status and type."""
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.content_type == "application/problem+json"
    assert response.get_json()["type"] == PROBLEM + kind, response.get_json()


@pytest.fixture
def world(database_url: str, tmp_path: Path) -> Iterator[World]:
    """The app on a fresh database with a fixed clock."""
    clock = FixedClock(START)
    app = create_app(
        {"CLUBCARD_DATABASE_URL": database_url, "CLUBCARD_DATA_DIR": str(tmp_path), "CLOCK": clock}
    )
    yield World(app, clock)
    app.extensions["clubcard"].engine.dispose()


LEISURE = {
    "eligibility": {"min_age": 13, "max_age": 19, "wards": ["Riverside", "Northgate"]},
    "issuing": {"mode": "recurring", "amount_minor": 1500, "period": "month"},
    "spending": {
        "outlet_categories": ["leisure-centre", "library"],
        "per_day_limit_minor": 1000,
        "refund_window_days": 14,
        "offline_floor_limit_minor": 500,
    },
    "expiry": {"days_after_issue": 91},
}
RELEASE = {
    "eligibility": {"min_age": 18, "referral_required": True},
    "issuing": {
        "mode": "series",
        "purposes": {"accommodation": 6000, "work-clothes": 4000, "interview-preparation": 2500},
    },
    "spending": {
        "outlet_categories": ["hostel", "supported-housing", "clothing", "interview-preparation"],
        "purpose_categories": {
            "accommodation": ["hostel", "supported-housing"],
            "work-clothes": ["clothing"],
        },
        "partial_spend": True,
        "transferable": False,
        "refund_window_days": 7,
    },
    "expiry": {"days_after_issue": 90},
}
TIME_BANK = {
    "issuing": {"mode": "earned"},
    "earning": {
        "volunteer_hours": {
            "amount_minor": 1,
            "per_quantity": True,
            "cap_per_day_minor": 480,
            "requires_role": ["scheme_manager"],
        }
    },
    "spending": {"outlet_categories": ["repair-cafe"], "transferable": True, "overdraft_floor_minor": -600},
}
HEALTHY = {
    "issuing": {"mode": "earned"},
    "earning": {
        "leisure_check_in": {"amount_minor": 10, "cap_per_day_minor": 10, "cap_per_week_minor": 50},
        "walking_group": {"amount_minor": 10, "cap_per_day_minor": 10, "cap_per_week_minor": 50},
    },
    "spending": {"outlet_categories": ["leisure-centre"], "refund_window_days": 1},
}
RECYCLING = {
    "eligibility": {"resident_kinds": ["household", "collective"]},
    "issuing": {"mode": "earned"},
    "earning": {
        "recycling_collection": {"amount_minor": 25, "cap_per_week_minor": 50, "period": "month"},
        "street_reward": {
            "amount_minor": 500,
            "collective": True,
            "datum_minor": 100,
            "period": "month",
            "requires_role": ["scheme_manager"],
        },
    },
    "spending": {"outlet_categories": ["local-service"]},
    "expiry": {"days_after_issue": 365},
}
