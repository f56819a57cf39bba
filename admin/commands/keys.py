"""`clubcard keys`: API keys for staff and kiosks, and the card signing keys."""

from __future__ import annotations

import datetime as dt
import getpass

import click

from admin.commands.common import open_context
from clubcard.context import LedgerContext
from ledger.errors import NotFound, ValidationFailed
from ledger.settings import Settings

ROLE_CHOICES = ("admin", "scheme_manager", "caseworker", "finance", "auditor", "device")


@click.group()
def keys() -> None:
    """API keys for staff and kiosks, and the card signing keys."""


@keys.command("create")
@click.option("--role", required=True, type=click.Choice(ROLE_CHOICES))
@click.option("--outlet", "outlet_id", default=None, help="the outlet a device key is bound to")
@click.option("--label", default="", help="who or what holds the key")
def keys_create(role: str, outlet_id: str | None, label: str) -> None:
    """Create a key and print it once."""
    from ledger.usecases.api_keys import create_key, with_article

    # The first command of a fresh install may be this one, so it may create the signing keys.
    context = open_context(create_missing_keys=True)
    if role == "device" and outlet_id is None:
        raise ValidationFailed(
            f"a device key needs --outlet ID, the outlet its kiosk stands in; {_outlets(context)}"
        )
    if role != "device" and outlet_id is not None:
        raise ValidationFailed(
            f"only a device key takes --outlet; {with_article(role)} key is not bound to one"
        )
    try:
        new = context.write(
            lambda uow: create_key(
                uow, role=role, outlet_id=outlet_id, label=label or role, now=context.clock.now()
            )
        )
    except NotFound:
        raise NotFound(f"no outlet {outlet_id}; {_outlets(context)}") from None
    click.echo(f"key id {new.principal.key_id} ({role}); the key is shown once:\n{new.secret}")


def _outlets(context: LedgerContext) -> str:
    """Which outlet ids there are, so the operator can pick one without another tool."""
    from ledger.usecases.api_keys import outlet_choices

    choices, more = context.read(outlet_choices)
    if not choices:
        return "there are no outlets yet: an admin creates one with POST /api/v1/outlets"
    listed = ", ".join(f"{outlet_id} ({name})" for outlet_id, name in choices)
    return f"outlets: {listed}{', … (GET /api/v1/outlets lists all)' if more else ''}"


@keys.command("revoke")
@click.argument("key_id")
def keys_revoke(key_id: str) -> None:
    """Revoke a key by its id; it stops working at once."""
    from ledger.usecases.api_keys import revoke_key

    context = open_context()
    context.write(lambda uow: revoke_key(uow, key_id, context.clock.now()))
    click.echo(f"revoked {key_id}")


@keys.command("list")
def keys_list() -> None:
    """List every API key: id, role, outlet, created, revoked, label (never a secret or hash)."""
    from ledger.usecases.api_keys import list_keys

    listed = open_context().read(list_keys)
    if not listed:
        click.echo("no API keys yet: `clubcard keys create --role admin` makes the first")
        return
    click.echo(f"{'id':36}  {'role':14}  {'outlet':36}  {'created':16}  {'revoked':16}  label")
    for key in listed:
        label = " ".join(key.label.split())  # one line per key, whatever a label holds
        click.echo(
            f"{key.key_id:36}  {key.role:14}  {key.outlet_id or '-':36}  {_minute(key.created_at):16}  "
            f"{_minute(key.revoked_at):16}  {label}"
        )


def _minute(instant: dt.datetime | None) -> str:
    return "-" if instant is None else f"{instant.astimezone(dt.UTC):%Y-%m-%d %H:%M}"


@keys.command("rotate-card-key")
def keys_rotate_card_key() -> None:
    """Start signing new cards with a fresh key; cards signed by the old key keep verifying."""
    from ledger.cards.keys import rotate_card_key

    old, new = rotate_card_key(Settings.from_environment().card_key_path)
    click.echo(f"card key {old.key_id} retired; new cards are signed by {new.key_id}")
    click.echo("a running server signs with the new key within a second; no restart is needed")


@keys.command("distrust-card-key")
@click.argument("key_id")
def keys_distrust_card_key(key_id: str) -> None:
    """Refuse every token a leaked card key signed, online and offline; list the cards to reissue."""
    from ledger.usecases.card_keys import distrust_card_key

    context = open_context()
    keys_now = context.card_keys
    result = context.write(
        lambda uow: distrust_card_key(
            uow, key_id=key_id, keys=keys_now, now=context.clock.now(), actor=_operator()
        )
    )
    if result.already_distrusted:
        click.echo(f"card key {result.key_id} was already distrusted at {_minute(result.distrusted_at)} UTC")
    else:
        click.echo(
            f"card key {result.key_id} distrusted: every token it signed is refused from now on, and kiosks "
            "refuse them offline after their next fetch of /.well-known/clubcard-keys"
        )
    count = result.cards_to_reissue_count
    if count == 0:
        click.echo("no active card was signed by it: nothing to reissue")
        return
    cards = "1 card needs" if count == 1 else f"{count} cards need"
    click.echo(f"{cards} reissuing: replace each with POST /api/v1/cards/NUMBER/replace")
    for number in result.cards_to_reissue:
        click.echo(number)
    if count > len(result.cards_to_reissue):
        click.echo(f"… and {count - len(result.cards_to_reissue)} more")


def _operator() -> str:
    """Who ran the command, as the staff log records it."""
    try:
        return f"cli:{getpass.getuser()}"[:120]
    except (KeyError, OSError):  # no user name in this environment (some containers)
        return "cli"
