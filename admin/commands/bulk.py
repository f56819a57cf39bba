"""`clubcard issue-bulk SCHEME`: pay a scheme's allowance to every eligible member, with a progress bar."""

from __future__ import annotations

import csv
import functools
import getpass
import sys
import time
import uuid
from pathlib import Path

import click

from admin.commands.common import open_context
from clubcard.context import LedgerContext
from ledger.units import Unit, format_amount

FOLLOW_SECONDS = 0.5


@click.command("issue-bulk")
@click.argument("scheme")
@click.option("--amount-minor", type=click.IntRange(min=1), help="default: the scheme's issuing rules")
@click.option("--key", help="the run's Idempotency-Key: the same key resumes the same job (default: new)")
@click.option("--dry-run", is_flag=True, help="count whom it would pay and the total; pay nothing")
@click.option("--refused-csv", type=click.Path(dir_okay=False, path_type=Path), help="write refused members")
def issue_bulk(
    scheme: str, amount_minor: int | None, key: str | None, dry_run: bool, refused_csv: Path | None
) -> None:
    """Run the bulk issuance job for SCHEME here (or follow it if a worker has it) and print its counts."""
    from clubcard.jobs import JobRunner
    from ledger.usecases.bulk_allowance import dry_run_bulk_issuance, start_bulk_issuance
    from ledger.usecases.issuances import IssueRequest
    from ledger.usecases.jobs import job_progress

    context = open_context()
    request, now, zone = (
        IssueRequest(scheme=scheme, amount_minor=amount_minor),
        context.clock.now(),
        context.clock.zone,
    )
    if dry_run:
        plan = context.read(lambda uow: dry_run_bulk_issuance(uow, request=request, now=now, zone=zone))
        unit = Unit(plan.unit)
        each, total = format_amount(plan.amount_minor, unit), format_amount(plan.total_minor, unit)
        click.echo(
            f"would pay {plan.to_pay:,} of {plan.members:,} members {each} each: {total} "
            f"of a budget of {format_amount(plan.budget_minor, unit)}; "
            f"already paid this period: {plan.already_paid:,}; not eligible: {plan.not_eligible:,}"
        )
        return
    actor = f"cli:{getpass.getuser()}"
    job = context.write(
        lambda uow: start_bulk_issuance(
            uow, request=request, now=now, zone=zone, actor=actor, key=key or str(uuid.uuid4())
        )
    )
    click.echo(f"job {job.job_id}: {job.total:,} members" + (f", period {job.period}" if job.period else ""))
    runner = JobRunner(context.uow_factory, context.clock)
    with click.progressbar(length=job.total, label="issuing", file=sys.stderr) as bar:

        def advance() -> bool:
            progress = context.read(lambda uow: job_progress(uow, job.job_id))
            bar.update(progress.done - bar.pos)
            return False

        claimed = runner.claim(job.job_id)
        if claimed is not None:
            runner.run(claimed, should_stop=advance)
        while (progress := context.read(lambda uow: job_progress(uow, job.job_id))).status in (
            "queued",
            "running",
        ):
            advance()  # another worker has it: follow its progress
            time.sleep(FOLLOW_SECONDS)
        bar.update(progress.done - bar.pos)
    click.echo(
        f"{progress.status}: paid {progress.paid:,}; already paid {progress.already_paid:,}; "
        f"refused {progress.refused:,}"
        + (f"; {progress.result.get('error_detail') or progress.error}" if progress.error else "")
    )
    if refused_csv is not None:
        _write_refusals(context, job.job_id, refused_csv)
    if progress.status != "succeeded":
        sys.exit(1)  # a failed job: the same key resumes it


def _write_refusals(context: LedgerContext, job_id: str, path: Path) -> None:
    """The refused members, page by page, as resident_id,problem,reason."""
    from ledger.usecases.jobs import job_refusals

    after = ""
    with path.open("w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["resident_id", "problem", "reason"])
        while page := context.read(functools.partial(job_refusals, job_id=job_id, limit=1_000, after=after)):
            writer.writerows([refusal.resident_id, refusal.problem, refusal.reason] for refusal in page)
            after = page[-1].resident_id
    click.echo(f"refused members written to {path}")
