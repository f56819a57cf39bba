"""`clubcard audit`: prove the books are right."""

from __future__ import annotations

import datetime as dt
import json
import pathlib
import sys
from typing import Any

import click

from admin.commands.common import open_context
from ledger.clock import parse_rfc3339
from ledger.errors import ValidationFailed
from ledger.usecases.trusted_heads import TreeHead, published_head


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


class TreeHeadFile(click.ParamType):
    """A JSON file holding a signed tree head, as `clubcard audit head` prints."""

    name = "HEAD.json"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> TreeHead:
        """Read and check the file; a bad one is a usage error naming what is wrong."""
        if isinstance(value, TreeHead):
            return value
        try:
            document = json.loads(pathlib.Path(value).read_text(encoding="utf-8"))
        except OSError as error:
            self.fail(f"cannot read {value}: {error.strerror}", param, ctx)
        except (UnicodeDecodeError, json.JSONDecodeError):
            self.fail(f"{value} is not JSON; save one with `clubcard audit head > {value}`", param, ctx)
        try:
            return TreeHead.from_document(document)
        except ValidationFailed as error:
            self.fail(f"{value} is not a signed tree head: {error.detail}", param, ctx)


@audit.command("head")
def audit_head() -> None:
    """Print the latest signed tree head and the ledger public key as JSON, to keep outside Clubcard."""
    context = open_context()
    head = context.read(lambda uow: published_head(uow, context.ledger_key))
    if head is None:
        raise click.ClickException("nothing has been sealed yet: run `clubcard audit seal` first")
    problem = head.problem({context.ledger_key.key_id})
    if problem is not None:
        raise click.ClickException(f"the latest signed head is not worth keeping: {problem}")
    click.echo(json.dumps(head.document(), indent=2))


@audit.command("verify")
@click.option(
    "--trusted-head",
    type=TreeHeadFile(),
    default=None,
    help="a head saved earlier (`clubcard audit head`): the log must still extend it (RFC 9162)",
)
@click.option(
    "--since-trusted-head",
    type=TreeHeadFile(),
    default=None,
    help="like --trusted-head, but check only what was sealed after that head",
)
def audit_verify(trusted_head: TreeHead | None, since_trusted_head: TreeHead | None) -> None:
    """Recompute every content hash, Merkle root and signature; name the first bad transaction."""
    from ledger.usecases.checkpoints import verify
    from ledger.usecases.trusted_heads import verify_since

    if trusted_head is not None and since_trusted_head is not None:
        raise click.UsageError("give --trusted-head or --since-trusted-head, not both")
    context = open_context()
    trusted = {context.ledger_key.key_id}

    def progress(count: int) -> None:
        click.echo(f"  {count:,} transactions...", err=True)

    if since_trusted_head is not None:
        head = since_trusted_head
        report = context.read(lambda uow: verify_since(uow, trusted, head, progress))
    else:
        report = context.read(lambda uow: verify(uow, trusted, progress=progress, trusted_head=trusted_head))
    click.echo(
        f"checked {report.transactions_checked:,} transactions and {report.checkpoints_checked} checkpoints"
    )
    if report.ok:
        click.echo("ok: every hash, root and signature verifies")
        if report.trusted_head_size is not None:
            click.echo(f"ok: the log extends the trusted head of {report.trusted_head_size:,} transactions")
        return
    click.echo(f"FAILED: {report.problem}", err=True)
    if report.first_bad_transaction:
        click.echo(f"first bad transaction: {report.first_bad_transaction}", err=True)
    sys.exit(1)


class Instant(click.ParamType):
    """An RFC 3339 instant on the command line."""

    name = "INSTANT"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> dt.datetime:
        """Parse the instant; anything else is a usage error with an example."""
        if isinstance(value, dt.datetime):
            return value
        try:
            return parse_rfc3339(value)
        except (ValueError, OverflowError, ValidationFailed):
            self.fail(
                f"--at takes an RFC 3339 instant such as 2026-11-30T17:00:00Z, not {value!r}", param, ctx
            )


@audit.command("trial-balance")
@click.option("--at", type=Instant(), default=None, help="an RFC 3339 instant (default: now)")
def audit_trial_balance(at: dt.datetime | None) -> None:
    """Print every account's balance at an instant and the per-unit totals (always zero)."""
    from ledger.usecases.audit import trial_balance

    report = open_context().read(lambda uow: trial_balance(uow, at))
    for line in report.lines:
        click.echo(f"{line.balance_minor:>14} {line.unit:5} {line.name}")
    for unit, total in sorted(report.totals_by_unit.items()):
        click.echo(f"total {unit}: {total}")
    sys.exit(0 if report.balanced else 1)
