"""`clubcard expire`: release timed-out holds, return expired lots to their budgets."""

from __future__ import annotations

import click

from admin.commands.common import open_context


@click.command()
def expire() -> None:
    """Release timed-out holds and return expired lots' value to their scheme budgets."""
    from ledger.usecases.expiry import expire_all

    context = open_context()
    report = expire_all(
        context.uow_factory,
        context.clock,
        progress=lambda n: click.echo(f"  {n:,} lots expired...", err=True),
    )
    click.echo(f"holds released: {report.holds_released}; lots expired: {report.lots_expired}")
    for scheme_id, amount in sorted(report.returned_minor_by_scheme.items()):
        click.echo(f"  returned {amount} to the budget of scheme {scheme_id}")
