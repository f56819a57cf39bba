"""A driver for staff UI tests over Flask's test client: sign in as a role, post forms with their CSRF token.

Use it from a test module with `from tests.support.staff_web import staff_web_fixture  # noqa: F401` and
take the `staff_web` fixture (the app on a fresh database, SQLite and PostgreSQL, with a fixed clock).
"""

from __future__ import annotations

import datetime as dt
import html
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyotp
import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from api.app import create_app
from clubcard.context import LedgerContext
from ledger.clock import FixedClock
from ledger.usecases.staff_accounts import NewStaffCredentials, create_staff_user

START = dt.datetime(2026, 11, 2, 9, 0, tzinfo=dt.UTC)
PASSWORD = "a long test password"
_CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"|value="([^"]+)"[^>]*name="csrf_token"')


def csrf_token(page: str) -> str:
    """The CSRF token in a rendered form."""
    found = _CSRF.search(page)
    assert found is not None, "no CSRF token on the page"
    return html.unescape(found.group(1) or found.group(2))


def page_text(response: TestResponse) -> str:
    """A page's visible text, whitespace collapsed (what a person reads)."""
    text = re.sub(r"<(script|style)[^>]*>.*?</\1>", " ", response.get_data(as_text=True), flags=re.S)
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", text))).strip()


class StaffWeb:
    """The app, a browser-like client, and staff accounts made on demand."""

    def __init__(self, app: Flask, clock: FixedClock) -> None:
        self.app = app
        self.clock = clock
        self.context: LedgerContext = app.extensions["clubcard"]
        self.client: FlaskClient = app.test_client()
        self.accounts: dict[str, NewStaffCredentials] = {}

    def account(self, role: str, username: str | None = None) -> NewStaffCredentials:
        """A staff account for a role, created once."""
        username = username or role.replace("_", "-")
        if username not in self.accounts:
            self.accounts[username] = self.context.write(
                lambda uow: create_staff_user(
                    uow,
                    username=username,
                    display_name=f"Test {role}",
                    role=role,
                    password=PASSWORD,
                    now=self.clock.now(),
                )
            )
        return self.accounts[username]

    def totp(self, username: str, step: int = 0) -> str:
        """The authenticator app's code for a user, `step` intervals from now."""
        secret = self.accounts[username].totp_secret
        return pyotp.TOTP(secret).at(self.clock.now() + dt.timedelta(seconds=30 * step))

    def get(self, path: str) -> TestResponse:
        """GET a page."""
        return self.client.get(path)

    def post_form(self, path: str, data: dict[str, Any], *, form_page: str | None = None) -> TestResponse:
        """POST a form with the CSRF token of the page it is on (`form_page`, default `path`)."""
        page = self.client.get(form_page or path)
        return self.client.post(path, data={**data, "csrf_token": csrf_token(page.get_data(as_text=True))})

    def sign_in(self, role: str, username: str | None = None) -> NewStaffCredentials:
        """Sign in with password and TOTP; the client then holds a staff session."""
        account = self.account(role, username)
        first = self.post_form("/admin/sign-in", {"username": account.user.username, "password": PASSWORD})
        assert first.status_code == 302, page_text(first)
        code = self.totp(account.user.username)
        second = self.post_form("/admin/sign-in/code", {"code": code})
        assert second.status_code == 302, page_text(second)
        self.clock.advance(dt.timedelta(seconds=30))  # the next sign-in needs a fresh code
        return account

    def new_client(self) -> FlaskClient:
        """Another browser (no cookies)."""
        self.client = self.app.test_client()
        return self.client


@pytest.fixture(name="staff_web")
def staff_web_fixture(database_url: str, tmp_path: Path) -> Iterator[StaffWeb]:
    """The app on a fresh database with a fixed clock, driven as staff use it."""
    clock = FixedClock(START)
    app = create_app(
        {"CLUBCARD_DATABASE_URL": database_url, "CLUBCARD_DATA_DIR": str(tmp_path), "CLOCK": clock}
    )
    yield StaffWeb(app, clock)
    app.extensions["clubcard"].engine.dispose()
