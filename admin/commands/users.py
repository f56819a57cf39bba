"""`clubcard users`: staff accounts for the web UI (password + TOTP), created, listed, disabled, reset."""

from __future__ import annotations

import io
import secrets
from pathlib import Path

import click
import qrcode

from admin.commands.common import open_context
from ledger.usecases.staff_accounts import (
    STAFF_ROLES,
    NewStaffCredentials,
    create_staff_user,
    disable_staff_user,
    list_staff_users,
    reset_second_factor,
)

OPERATOR = "operator:cli"


@click.group()
def users() -> None:
    """Staff accounts for the web UI at /admin."""


def terminal_qr(data: str) -> str:
    """A QR code drawn with text, for an authenticator app to scan off the terminal."""
    code = qrcode.QRCode(border=1)
    code.add_data(data)
    buffer = io.StringIO()
    code.print_ascii(out=buffer, invert=True)
    return buffer.getvalue()


def show_credentials(credentials: NewStaffCredentials, qr_file: Path | None) -> None:
    """Print the TOTP secret (text and QR) and the recovery codes, once."""
    uri = credentials.provisioning_uri()
    click.echo(f"TOTP secret for {credentials.user.username}: {credentials.totp_secret}")
    click.echo(f"  (or scan: {uri})")
    click.echo(terminal_qr(uri))
    if qr_file is not None:
        qrcode.make(uri).save(qr_file)
        click.echo(f"  QR code also written to {qr_file}")
    click.echo("Recovery codes (each works once; keep them somewhere safe):")
    for code in credentials.recovery_codes:
        click.echo(f"  {code}")


@users.command("create")
@click.argument("username")
@click.option("--role", required=True, type=click.Choice(STAFF_ROLES))
@click.option("--name", "display_name", default="", help="the person's name as staff see it")
@click.option("--password", default=None, help="omit to be asked (or to have one generated with --generate)")
@click.option("--generate", is_flag=True, help="generate a strong password and print it once")
@click.option("--qr-file", type=click.Path(path_type=Path), default=None, help="also write the QR as PNG")
def users_create(
    username: str, role: str, display_name: str, password: str | None, generate: bool, qr_file: Path | None
) -> None:
    """Create a staff account; prints its TOTP secret and recovery codes once."""
    if generate:
        password = secrets.token_urlsafe(15)
    elif password is None:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    assert password is not None
    context = open_context(create_missing_keys=True)  # a set-up command: may run before the first serve
    credentials = context.write(
        lambda uow: create_staff_user(
            uow,
            username=username,
            display_name=display_name,
            role=role,
            password=password,
            now=context.clock.now(),
        )
    )
    click.echo(f"created {credentials.user.username} ({role})")
    if generate:
        click.echo(f"password (shown once): {password}")
    show_credentials(credentials, qr_file)


@users.command("list")
def users_list() -> None:
    """Every staff account: username, role, name, whether enrolled or disabled."""
    context = open_context()
    for user in context.read(list_staff_users):
        status = "disabled" if user.disabled else ("active" if user.totp_confirmed else "not yet enrolled")
        click.echo(f"{user.username:24} {user.role:15} {status:17} {user.display_name}")


@users.command("disable")
@click.argument("username")
def users_disable(username: str) -> None:
    """Disable an account; it is signed out everywhere at once."""
    context = open_context()
    user = context.write(
        lambda uow: disable_staff_user(uow, username, actor=OPERATOR, now=context.clock.now())
    )
    click.echo(f"disabled {user.username}; every session ended")


@users.command("reset-totp")
@click.argument("username")
@click.option("--qr-file", type=click.Path(path_type=Path), default=None, help="also write the QR as PNG")
def users_reset_totp(username: str, qr_file: Path | None) -> None:
    """A new second factor for someone who lost their phone; they enrol again at next sign-in."""
    context = open_context()
    credentials = context.write(
        lambda uow: reset_second_factor(uow, username, actor=OPERATOR, now=context.clock.now())
    )
    click.echo(f"reset the second factor of {credentials.user.username}; every session ended")
    show_credentials(credentials, qr_file)
