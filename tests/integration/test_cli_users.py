"""`clubcard users`: an operator makes a staff account on the command line; its holder signs in on the web.

Run through the real entry point on SQLite and PostgreSQL.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pyotp
import pytest
from flask.testing import FlaskClient

from api.app import create_app
from tests.support.cli import Cli, cli
from tests.support.staff_web import csrf_token, page_text

__all__ = ["cli"]


@pytest.fixture
def operator(cli: Cli, database_url: str, tmp_path: Path) -> Cli:
    """The command pointed at a fresh database and data directory."""
    cli.environment(data_directory=tmp_path / "data", database_url=database_url)
    return cli


@pytest.fixture
def browser(database_url: str, tmp_path: Path) -> Iterator[FlaskClient]:
    """The web app on the same database, as a browser reaches it."""
    app = create_app({"CLUBCARD_DATABASE_URL": database_url, "CLUBCARD_DATA_DIR": str(tmp_path / "data")})
    yield app.test_client()
    app.extensions["clubcard"].engine.dispose()


def _printed(pattern: str, output: str) -> str:
    found = re.search(pattern, output)
    assert found is not None, output
    return found.group(1)


def _sign_in(browser: FlaskClient, username: str, password: str, secret: str) -> int:
    """Password then TOTP code, as the sign-in pages ask; the status of the last step."""
    page = browser.get("/admin/sign-in").get_data(as_text=True)
    first = browser.post(
        "/admin/sign-in",
        data={"username": username, "password": password, "csrf_token": csrf_token(page)},
    )
    if first.status_code != 302:
        return first.status_code
    page = browser.get("/admin/sign-in/code").get_data(as_text=True)
    second = browser.post(
        "/admin/sign-in/code", data={"code": pyotp.TOTP(secret).now(), "csrf_token": csrf_token(page)}
    )
    return second.status_code


def test_an_account_made_on_the_command_line_signs_in_with_the_printed_password_and_secret(
    operator: Cli, browser: FlaskClient
) -> None:
    made = operator("users", "create", "sam", "--role", "caseworker", "--name", "Sam Patel", "--generate")

    assert made.exit_code == 0, made.output
    password = _printed(r"password \(shown once\): (\S+)", made.stdout)
    secret = _printed(r"TOTP secret for sam: (\S+)", made.stdout)
    assert "Recovery codes" in made.stdout
    assert _sign_in(browser, "sam", password, secret) == 302
    assert "Sam Patel" in page_text(browser.get("/admin/"))
    listed = operator("users", "list")
    assert re.search(r"sam\s+caseworker\s+active\s+Sam Patel", listed.stdout), listed.output


def test_a_disabled_account_is_signed_out_and_cannot_sign_in_again(
    operator: Cli, browser: FlaskClient
) -> None:
    made = operator("users", "create", "jo", "--role", "finance", "--generate")
    password = _printed(r"password \(shown once\): (\S+)", made.stdout)
    secret = _printed(r"TOTP secret for jo: (\S+)", made.stdout)
    assert _sign_in(browser, "jo", password, secret) == 302

    disabled = operator("users", "disable", "jo")

    assert disabled.exit_code == 0 and "every session ended" in disabled.stdout
    assert browser.get("/admin/").status_code == 302  # back to sign in
    assert _sign_in(browser, "jo", password, secret) != 302
    assert re.search(r"jo\s+finance\s+disabled", operator("users", "list").stdout)


def test_mistakes_are_one_line_and_a_non_zero_exit(operator: Cli) -> None:
    assert operator("users", "create", "kim", "--role", "admin", "--generate").exit_code == 0

    again = operator("users", "create", "kim", "--role", "admin", "--generate")
    nobody = operator("users", "disable", "nobody-here")
    bad_role = operator("users", "create", "lee", "--role", "mayor", "--generate")

    for result in (again, nobody, bad_role):
        assert result.exit_code != 0
        assert "Traceback" not in result.output
    assert len(again.stderr.strip().splitlines()) == 1, again.stderr
    assert len(nobody.stderr.strip().splitlines()) == 1, nobody.stderr
