"""`clubcard keys`: API keys for staff and kiosks, and the card signing key."""

from __future__ import annotations

import click

from admin.commands.common import open_context
from ledger.settings import Settings


@click.group()
def keys() -> None:
    """API keys for staff and kiosks."""


@keys.command("create")
@click.option(
    "--role",
    required=True,
    type=click.Choice(["admin", "scheme_manager", "caseworker", "finance", "auditor", "device"]),
)
@click.option("--outlet", "outlet_id", default=None, help="the outlet a device key is bound to")
@click.option("--label", default="", help="who or what holds the key")
def keys_create(role: str, outlet_id: str | None, label: str) -> None:
    """Create a key and print it once."""
    from ledger.usecases.api_keys import create_key

    context = open_context()
    new = context.write(
        lambda uow: create_key(
            uow, role=role, outlet_id=outlet_id, label=label or role, now=context.clock.now()
        )
    )
    click.echo(f"key id {new.principal.key_id} ({role}); the key is shown once:\n{new.secret}")


@keys.command("revoke")
@click.argument("key_id")
def keys_revoke(key_id: str) -> None:
    """Revoke a key by its id."""
    from ledger.usecases.api_keys import revoke_key

    context = open_context()
    context.write(lambda uow: revoke_key(uow, key_id, context.clock.now()))
    click.echo(f"revoked {key_id}")


@keys.command("rotate-card-key")
def keys_rotate_card_key() -> None:
    """Start signing new cards with a fresh key; cards signed by the old key keep verifying."""
    from ledger.cards.token import load_or_create_card_key

    settings = Settings.from_environment()
    old, _ = load_or_create_card_key(settings.card_key_path)
    retired = settings.card_key_path.parent / "card-retired"
    retired.mkdir(parents=True, exist_ok=True)
    settings.card_key_path.rename(retired / f"{old.key_id}.pem")
    new, _ = load_or_create_card_key(settings.card_key_path)
    click.echo(f"card key {old.key_id} retired; new cards are signed by {new.key_id}")
