"""Demo staff accounts, one per role, so a new user can sign in to /admin straight away."""

from __future__ import annotations

import json
from functools import partial
from pathlib import Path
from typing import Any

import click
import qrcode

from clubcard.context import LedgerContext
from ledger.ports import UnitOfWork
from ledger.usecases.staff_accounts import STAFF_ROLES, create_staff_user

DEMO_PASSWORD_SUFFIX = "-demo-password"  # demo only: `clubcard users create` makes real accounts


def _create(uow: UnitOfWork, *, role: str, username: str, password: str, context: LedgerContext) -> Any:
    return create_staff_user(
        uow,
        username=username,
        display_name=f"Demo {role.replace('_', ' ')}",
        role=role,
        password=password,
        now=context.clock.now(),
    )


def seed_demo_staff(context: LedgerContext, path: Path) -> None:
    """Create one demo user per role; write their sign-in details (and TOTP QR PNGs) beside `path`."""
    accounts = {}
    for role in STAFF_ROLES:
        username = role.replace("_", "-")
        password = username + DEMO_PASSWORD_SUFFIX
        credentials = context.write(
            partial(_create, role=role, username=username, password=password, context=context)
        )
        qr_path = path.parent / f"demo-totp-{username}.png"
        qrcode.make(credentials.provisioning_uri()).save(qr_path)
        accounts[role] = {
            "username": username,
            "password": password,
            "totp_secret": credentials.totp_secret,
            "totp_qr": str(qr_path),
            "recovery_codes": list(credentials.recovery_codes),
        }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(accounts, indent=2))
    path.chmod(0o600)


def print_demo_staff(path: Path, base_url: str) -> None:
    """How to sign in as each demo user."""
    if not path.exists():
        return
    accounts = json.loads(path.read_text())
    click.echo(f"\nStaff UI: {base_url}/admin  (demo users, also in {path}):")
    for role, account in accounts.items():
        click.echo(
            f"  {role:15} user {account['username']:15} password {account['password']:30} "
            f"TOTP secret {account['totp_secret']}"
        )
    click.echo(
        "  Add the TOTP secret to an authenticator app (or scan the demo-totp-*.png QR files in the data\n"
        "  directory, or run `oathtool --totp -b SECRET`), then enter its 6-digit code after the password."
    )
