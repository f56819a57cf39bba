"""A real HTTP server for staff UI browser tests: the app on a fresh SQLite file, in a thread on 127.0.0.1.

Take the `staff_server` fixture (import staff_server_fixture); `staff_server.sign_in(page, role)` signs in.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pyotp
import pytest
from playwright.sync_api import Page
from werkzeug.serving import BaseWSGIServer, make_server

from api.app import create_app
from clubcard.context import LedgerContext
from ledger.usecases.staff_accounts import NewStaffCredentials, create_staff_user

PASSWORD = "a long browser test password"


class StaffServer:
    """The running app: its URL, its ledger context, and staff accounts made on demand."""

    def __init__(self, server: BaseWSGIServer, context: LedgerContext) -> None:
        self.server = server
        self.context = context
        self.base_url = f"http://127.0.0.1:{server.server_port}"
        self.accounts: dict[str, NewStaffCredentials] = {}

    def account(self, role: str) -> NewStaffCredentials:
        """A staff account for the role (username = the role with hyphens), created once."""
        username = role.replace("_", "-")
        if username not in self.accounts:
            self.accounts[username] = self.context.write(
                lambda uow: create_staff_user(
                    uow,
                    username=username,
                    display_name=f"Test {role.replace('_', ' ')}",
                    role=role,
                    password=PASSWORD,
                    now=self.context.clock.now(),
                )
            )
        return self.accounts[username]

    def current_code(self, role: str) -> str:
        """What the authenticator app shows now."""
        return pyotp.TOTP(self.account(role).totp_secret).now()

    def sign_in(self, page: Page, role: str) -> None:
        """Sign in through the sign-in pages with password and TOTP, as a person would."""
        account = self.account(role)
        page.goto(f"{self.base_url}/admin/sign-in")
        page.get_by_label("Username").fill(account.user.username)
        page.get_by_label("Password", exact=True).fill(PASSWORD)
        page.get_by_role("button", name="Continue").click()
        page.get_by_label("Code", exact=True).fill(self.current_code(role))
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url(f"{self.base_url}/admin/**")


@pytest.fixture(name="staff_server")
def staff_server_fixture(tmp_path: Path) -> Iterator[StaffServer]:
    """The app served over real HTTP on a free port, on a fresh SQLite database."""
    app = create_app(
        {"CLUBCARD_DATA_DIR": str(tmp_path), "CLUBCARD_DATABASE_URL": f"sqlite:///{tmp_path}/db"}
    )
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield StaffServer(server, app.extensions["clubcard"])
    finally:
        server.shutdown()
        thread.join(timeout=10)
        app.extensions["clubcard"].engine.dispose()
