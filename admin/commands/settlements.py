"""`clubcard settlements create|approve|reconcile|list`: paying outlets from the command line."""

from __future__ import annotations

import click

from admin.commands.common import open_context
from ledger.clock import parse_rfc3339
from ledger.units import Unit, format_amount

BY_HELP = "your name as finance: the staff log records it, and the two-person rule compares it"


def _gbp(amount_minor: int) -> str:
    return format_amount(amount_minor, Unit.GBP)


@click.group()
def settlements() -> None:
    """Settle what outlets redeemed: make a batch, approve it (a second person), reconcile with Stripe."""


@settlements.command("create")
@click.option("--period-end", required=True, help="RFC 3339 with an offset, e.g. 2026-11-30T23:59:59Z")
@click.option("--by", "by", required=True, help=BY_HELP)
def create(period_end: str, by: str) -> None:
    """Make a batch of every outlet's payable up to the period end."""
    from clubcard import settlement_runs

    context = open_context()
    batch = settlement_runs.create(context, parse_rfc3339(period_end), f"finance:cli:{by}", None)
    carried = sum(1 for line in batch.lines if line.status == "carried")
    click.echo(
        f"batch {batch.id} ({batch.mode.replace('_', ' ')}): {len(batch.lines)} lines, {carried} carried"
    )
    click.echo(
        f"to pay: {batch.total_to_pay}; approve it as someone else: clubcard settlements approve {batch.id}"
    )


@settlements.command("approve")
@click.argument("batch_id")
@click.option("--by", "by", required=True, help=BY_HELP)
def approve(batch_id: str, by: str) -> None:
    """Approve a batch someone else made, then pay it out (Stripe) or write the payment file."""
    from clubcard import settlement_runs

    batch = settlement_runs.approve(open_context(), batch_id, f"finance:cli:{by}", None)
    counts: dict[str, int] = {}
    for line in batch.lines:
        counts[line.status] = counts.get(line.status, 0) + 1
    summary = ", ".join(f"{status.replace('_', ' ')} {count}" for status, count in sorted(counts.items()))
    click.echo(f"batch {batch.id} approved: {summary or 'no lines'}; total {batch.total_to_pay}")
    for line in batch.lines:
        if line.status == "held":
            click.echo(f"  held: {line.outlet_name} {line.amount}: {line.reason}")


@settlements.command("reconcile")
def reconcile() -> None:
    """Pay lines still in clearing and book every transfer Stripe confirmed or reversed."""
    from clubcard import settlement_runs

    counts = settlement_runs.reconcile_with_stripe(open_context())
    if counts is None:
        raise click.ClickException(
            "Stripe is not set up (STRIPE_API_KEY): payment-file batches are confirmed paid by finance"
        )
    click.echo(
        f"transferred: {counts.transferred}; confirmed: {counts.confirmed}; returned: {counts.returned}; "
        f"failed: {counts.failed}"
    )


@settlements.command("list")
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1, 100))
def list_batches(limit: int) -> None:
    """The latest batches, newest first."""
    from ledger.usecases.settlements import list_settlements

    context = open_context()
    batches = context.read(lambda uow: list_settlements(uow, limit=limit, starting_after=""))
    for batch in batches:
        click.echo(
            f"{batch.id}  #{batch.sequence}  to {batch.period_end:%Y-%m-%d %H:%M}Z  {batch.status:<17}  "
            f"{len(batch.lines):>4} lines  {batch.total_to_pay}"
        )
    click.echo(f"{len(batches)} batches")
