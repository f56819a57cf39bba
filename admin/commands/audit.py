"""`clubcard audit`: prove the books are right."""

from __future__ import annotations

import datetime as dt
import sys

import click

from admin.commands.common import open_context
from ledger.clock import parse_rfc3339


@click.group()
def audit() -> None:
    """Prove the books are right."""


@audit.command("check")
def audit_check() -> None:
    """Prove stored balances equal sums of postings and every transaction sums to zero per unit."""
    from ledger.usecases.audit import check

    report = open_context().read(check)
    click.echo(f"checked {report.accounts_checked} accounts")
    for problem in report.problems:
        click.echo(f"PROBLEM {problem}", err=True)
    click.echo("ok: balances equal sums of postings; every transaction balances" if report.ok else "FAILED")
    sys.exit(0 if report.ok else 1)


@audit.command("seal")
def audit_seal() -> None:
    """Seal committed transactions into the Merkle log and sign a new tree head."""
    from ledger.usecases.checkpoints import seal

    context = open_context()
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

    context = open_context()
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
    report = open_context().read(lambda uow: trial_balance(uow, instant))
    for line in report.lines:
        click.echo(f"{line.balance_minor:>14} {line.unit:5} {line.name}")
    for unit, total in sorted(report.totals_by_unit.items()):
        click.echo(f"total {unit}: {total}")
    sys.exit(0 if report.balanced else 1)
