"""The `clubcard` command: serve, migrate, keys, audit, expiry."""

from __future__ import annotations

import datetime as dt
import json
import sys
from typing import Any

import click

from ledger.clock import parse_rfc3339
from ledger.settings import Settings


def _context() -> Any:
    from api.context import build_context

    return build_context(Settings.from_environment())


@click.group()
def main() -> None:
    """Clubcard: a council's entitlement schemes on one double-entry ledger."""


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--workers", default=1, show_default=True, type=int, help="gunicorn worker processes")
@click.option("--no-demo", is_flag=True, help="do not seed the demo council on first run")
def serve(host: str, port: int, workers: int, no_demo: bool) -> None:
    """Run the service (migrating the database, seeding the demo council on first run)."""
    from admin.seed import is_seeded, seed_demo
    from admin.server import run_server

    context = _context()
    keys_path = context.settings.data_directory / "demo-keys.json"
    if not no_demo and not is_seeded(context):
        click.echo("Seeding the demo council (five schemes, ten outlets, fifty residents)...")
        seed_demo(context, keys_path)
    base = f"http://{host}:{port}"
    click.echo(f"\nClubcard is running on {context.settings.database_url}")
    click.echo(f"  API:          {base}/api/v1")
    click.echo(f"  API docs:     {base}/api/docs")
    click.echo(f"  OpenAPI:      {base}/api/openapi.json")
    click.echo(f"  Card keys:    {base}/.well-known/clubcard-keys")
    if keys_path.exists():
        keys = json.loads(keys_path.read_text())["keys"]
        click.echo(f"\nDemo keys (also in {keys_path}):")
        for role in ("admin", "scheme_manager", "caseworker", "finance", "auditor"):
            click.echo(f"  {role:15} {keys[role]}")
        for name, device in list(keys["devices"].items())[:3]:
            click.echo(f"  device         {device['key']}  ({name})")
    context.engine.dispose()
    run_server(host, port, workers)


@main.command()
def migrate() -> None:
    """Create or upgrade the database schema."""
    from ledger.db.bootstrap import open_database

    engine = open_database(Settings.from_environment().database_url)
    click.echo(f"database at the latest schema: {engine.url.render_as_string(hide_password=True)}")


@main.group()
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

    context = _context()
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

    context = _context()
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


@main.group()
def audit() -> None:
    """Prove the books are right."""


@audit.command("check")
def audit_check() -> None:
    """Prove stored balances equal sums of postings and every transaction sums to zero per unit."""
    from ledger.usecases.audit import check

    report = _context().read(check)
    click.echo(f"checked {report.accounts_checked} accounts")
    for problem in report.problems:
        click.echo(f"PROBLEM {problem}", err=True)
    click.echo("ok: balances equal sums of postings; every transaction balances" if report.ok else "FAILED")
    sys.exit(0 if report.ok else 1)


@audit.command("seal")
def audit_seal() -> None:
    """Seal committed transactions into the Merkle log and sign a new tree head."""
    from ledger.usecases.checkpoints import seal

    context = _context()
    total = 0
    while True:
        head = context.write(lambda uow: seal(uow, context.ledger_key, context.clock.now()))
        if head is None:
            break
        total = head.tree_size
        click.echo(f"signed tree head: size {head.tree_size} root {head.root_hash}", err=True)
    click.echo(f"sealed; log size {total}" if total else "nothing new to seal")


@audit.command("verify")
def audit_verify() -> None:
    """Recompute every content hash, Merkle root and signature; name the first bad transaction."""
    from ledger.usecases.checkpoints import verify

    context = _context()
    report = context.read(
        lambda uow: verify(
            uow,
            {context.ledger_key.key_id},
            progress=lambda n: click.echo(f"  {n:,} transactions...", err=True),
        )
    )
    click.echo(
        f"checked {report.transactions_checked:,} transactions and {report.checkpoints_checked} checkpoints"
    )
    if report.ok:
        click.echo("ok: every hash, root and signature verifies")
        return
    click.echo(f"FAILED: {report.problem}", err=True)
    if report.first_bad_transaction:
        click.echo(f"first bad transaction: {report.first_bad_transaction}", err=True)
    sys.exit(1)


@audit.command("trial-balance")
@click.option("--at", default=None, help="an RFC 3339 instant (default: now)")
def audit_trial_balance(at: str | None) -> None:
    """Print every account's balance at an instant and the per-unit totals (always zero)."""
    from ledger.usecases.audit import trial_balance

    instant: dt.datetime | None = parse_rfc3339(at) if at else None
    report = _context().read(lambda uow: trial_balance(uow, instant))
    for line in report.lines:
        click.echo(f"{line.balance_minor:>14} {line.unit:5} {line.name}")
    for unit, total in sorted(report.totals_by_unit.items()):
        click.echo(f"total {unit}: {total}")
    sys.exit(0 if report.balanced else 1)


@main.command()
def expire() -> None:
    """Release timed-out holds and return expired lots' value to their scheme budgets."""
    from ledger.usecases.expiry import expire_all

    context = _context()
    report = expire_all(
        context.uow_factory,
        context.clock,
        progress=lambda n: click.echo(f"  {n:,} lots expired...", err=True),
    )
    click.echo(f"holds released: {report.holds_released}; lots expired: {report.lots_expired}")
    for scheme_id, amount in sorted(report.returned_minor_by_scheme.items()):
        click.echo(f"  returned {amount} to the budget of scheme {scheme_id}")


if __name__ == "__main__":
    main()
