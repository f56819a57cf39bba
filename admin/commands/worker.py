"""`clubcard worker`: run queued jobs (bulk issuances) until stopped; `clubcard serve` starts one too."""

from __future__ import annotations

import signal
import subprocess
import sys
from types import FrameType

import click

from admin.commands.common import open_context


@click.command()
def worker() -> None:
    """Run queued jobs as they come; stop with Ctrl-C or SIGTERM (the job in hand resumes elsewhere)."""
    from clubcard.jobs import JobRunner

    context = open_context()
    runner = JobRunner(context.uow_factory, context.clock)

    def stop(_signal: int, _frame: FrameType | None) -> None:
        runner.stop()  # after the chunk in flight, which commits or rolls back whole

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    click.echo("clubcard worker: running jobs (Ctrl-C to stop)", err=True)
    runner.run_forever()
    context.engine.dispose()


def start_worker_process() -> subprocess.Popen[bytes]:
    """A `clubcard worker` beside the web server, with the same CLUBCARD_* settings (the environment)."""
    return subprocess.Popen([sys.executable, "-c", "from admin.cli import main; main()", "worker"])
