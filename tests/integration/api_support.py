"""A driver for API integration tests: the app on a fresh database, keys per role, and helpers.

Use it from a test module with `from tests.integration.api_support import api_fixture  # noqa: F401`
and take the `api` fixture.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from api.app import create_app
from api.problems import PROBLEM_BASE, PROBLEM_CONTENT_TYPE
from clubcard.context import LedgerContext
from ledger.clock import FixedClock
from ledger.units import AccountKind, Unit
from ledger.usecases import flows
from ledger.usecases.api_keys import create_key
from ledger.usecases.common import ensure_account
from ledger.usecases.schemes import get_scheme

START = dt.datetime(2026, 11, 1, 9, 0, tzinfo=dt.UTC)


class ApiDriver:
    """The app and its test client, with a key per role created on demand."""

    def __init__(self, app: Flask, clock: FixedClock) -> None:
        self.app = app
        self.clock = clock
        self.client: FlaskClient = app.test_client()
        self.context: LedgerContext = app.extensions["clubcard"]
        self._keys: dict[tuple[str, str | None], str] = {}
        self._counter = itertools.count()

    def key(self, role: str, outlet_id: str | None = None) -> str:
        """A bearer secret for this role (and outlet), created once."""
        if (role, outlet_id) not in self._keys:
            created = self.context.write(
                lambda uow: create_key(
                    uow, role=role, outlet_id=outlet_id, label=f"test {role}", now=self.clock.now()
                )
            )
            self._keys[(role, outlet_id)] = created.secret
        return self._keys[(role, outlet_id)]

    def idempotency_key(self) -> str:
        """A fresh Idempotency-Key."""
        return f"test-{next(self._counter)}"

    def call(
        self,
        method: str,
        path: str,
        role: str | None = None,
        *,
        secret: str | None = None,
        json: Any = None,
        headers: dict[str, str] | None = None,
    ) -> TestResponse:
        """Call the API as a role (or with a given secret, or anonymously)."""
        sent = dict(headers or {})
        if secret is None and role is not None:
            secret = self.key(role)
        if secret is not None:
            sent["Authorization"] = f"Bearer {secret}"
        return self.client.open(path, method=method, json=json, headers=sent)

    def scheme(self, slug: str, rules: dict[str, Any] | None = None, funded_minor: int = 0) -> dict[str, Any]:
        """Create a GBP scheme through the API, and fund it."""
        body = {"slug": slug, "name": slug.replace("-", " ").title(), "unit": "GBP", "rules": rules or {}}
        created = self.call("POST", "/api/v1/schemes", "scheme_manager", json=body)
        assert created.status_code == 201, created.json
        if funded_minor:
            funded = self.call(
                "POST",
                f"/api/v1/schemes/{slug}/funding",
                "finance",
                json={"amount_minor": funded_minor},
                headers={"Idempotency-Key": self.idempotency_key()},
            )
            assert funded.status_code == 201, funded.json
        return dict(created.json)

    def resident(self, **overrides: Any) -> str:
        """Enrol a resident through the API; returns the pseudonymous id."""
        body = {"kind": "person", "name": "Ada Example", "date_of_birth": "2010-06-15"}
        body.update(overrides)
        response = self.call("POST", "/api/v1/residents", "caseworker", json=body)
        assert response.status_code == 201, response.json
        return str(response.json["id"])

    def member(self, slug: str, resident_id: str, **extra: Any) -> TestResponse:
        """Enrol a resident in a scheme through the API."""
        body = {"resident_id": resident_id, **extra}
        return self.call("POST", f"/api/v1/schemes/{slug}/members", "caseworker", json=body)

    def issue(self, slug: str, owner_id: str, amount_minor: int, **options: Any) -> Any:
        """Credit a wallet directly through the issue use case."""
        return self.context.write(
            lambda uow: flows.issue(
                uow,
                scheme=get_scheme(uow, slug),
                owner_id=owner_id,
                amount_minor=amount_minor,
                now=self.clock.now(),
                actor="caseworker:test",
                key=self.idempotency_key(),
                **options,
            )
        )

    def spend(self, slug: str, owner_id: str, amount_minor: int) -> Any:
        """Spend from a wallet into a test outlet's payable account through the use case."""

        def operation(uow: Any) -> Any:
            payable = ensure_account(
                uow,
                name="outlet:test:payable:GBP",
                unit=Unit.GBP,
                kind=AccountKind.PAYABLE,
                floor_minor=None,
                now=self.clock.now(),
            )
            return flows.spend(
                uow,
                scheme=get_scheme(uow, slug),
                owner_id=owner_id,
                amount_minor=amount_minor,
                payable_account_id=payable.id,
                categories=None,
                now=self.clock.now(),
                actor="device:test",
                key=self.idempotency_key(),
            )

        return self.context.write(operation)

    def wallet(self, slug: str, owner_id: str) -> int:
        """A wallet's balance in one scheme, read from the ledger."""
        return int(
            self.context.read(lambda uow: uow.lots.owners_total(owner_id, get_scheme(uow, slug)["id"]))
        )


def assert_problem(response: TestResponse, status: int, problem: str) -> dict[str, Any]:
    """Check an RFC 9457 problem response and return its body."""
    assert response.status_code == status, (response.status_code, response.get_data(as_text=True))
    assert response.content_type == PROBLEM_CONTENT_TYPE
    body = dict(response.json or {})
    assert body["type"] == PROBLEM_BASE + problem, body
    assert body["status"] == status
    assert body["title"] and body["detail"]
    return body


@pytest.fixture(name="api")
def api_fixture(database_url: str, tmp_path: Path) -> Iterator[ApiDriver]:
    """The app on a fresh database (SQLite and PostgreSQL) with a fixed clock."""
    clock = FixedClock(START)
    app = create_app(
        {"CLUBCARD_DATABASE_URL": database_url, "CLUBCARD_DATA_DIR": str(tmp_path), "CLOCK": clock}
    )
    yield ApiDriver(app, clock)
    app.extensions["clubcard"].engine.dispose()
