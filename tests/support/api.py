"""Helpers for API tests: an app on a fresh database, keys per role, JSON requests."""

from __future__ import annotations

import datetime as dt
import itertools
from pathlib import Path
from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from api.app import create_app
from clubcard.context import LedgerContext
from ledger.clock import FixedClock
from ledger.usecases.api_keys import create_key

STAFF_ROLES = ("admin", "scheme_manager", "caseworker", "finance", "auditor")
START = dt.datetime(2026, 11, 2, 9, 0, tzinfo=dt.UTC)


class ApiDriver:
    """A test client with a key per role and fresh idempotency keys."""

    def __init__(self, database_url: str, data_directory: Path, clock: FixedClock | None = None) -> None:
        self.clock = clock or FixedClock(START)
        self.app: Flask = create_app(
            {
                "CLUBCARD_DATABASE_URL": database_url,
                "CLUBCARD_DATA_DIR": str(data_directory),
                "CLOCK": self.clock,
                "RATELIMIT_ENABLED": True,
            }
        )
        self.context: LedgerContext = self.app.extensions["clubcard"]
        self.client: FlaskClient = self.app.test_client()
        self.keys = {role: self.key(role) for role in STAFF_ROLES}
        self._idempotency = itertools.count()

    def key(self, role: str, outlet_id: str | None = None) -> str:
        """A new key for a role (a device needs its outlet)."""
        new = self.context.write(
            lambda uow: create_key(
                uow, role=role, outlet_id=outlet_id, label=f"test {role}", now=self.clock.now()
            )
        )
        return new.secret

    def headers(self, role_or_key: str | None, idempotency_key: str | None = None) -> dict[str, str]:
        """Authorization (by role name or raw key) and an Idempotency-Key (fresh unless given)."""
        headers: dict[str, str] = {}
        if role_or_key is not None:
            headers["Authorization"] = f"Bearer {self.keys.get(role_or_key, role_or_key)}"
        headers["Idempotency-Key"] = idempotency_key or f"k-{next(self._idempotency)}"
        return headers

    def call(self, method: str, path: str, role: str | None, body: Any = None, key: str | None = None) -> Any:
        """Send a request; returns the test response."""
        return self.client.open(path, method=method, json=body, headers=self.headers(role, key))
