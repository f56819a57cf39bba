"""The job runner: claims queued jobs from the database and runs them; any number may run at once."""

# Jobs live in the jobs table, so they outlive the process that accepted them: a view only queues one. A
# runner claims a job under a lease it renews with every chunk; if its process dies, the lease runs out
# and the next runner (after a restart, or another worker) resumes after the last committed chunk.

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from ledger.clock import Clock
from ledger.ports import UnitOfWorkFactory
from ledger.service import run_in_transaction
from ledger.usecases.bulk_allowance import JOB_KIND as BULK_ALLOWANCE
from ledger.usecases.bulk_allowance import run_bulk_allowance
from ledger.usecases.expiry_job import JOB_KIND as EXPIRY_RUN
from ledger.usecases.expiry_job import run_expiry_job
from ledger.usecases.jobs import LEASE_SECONDS, ClaimedJob, claim_job

log = logging.getLogger("clubcard.jobs")
POLL_SECONDS = 1.0
JobBody = Callable[..., str]
JOB_BODIES: dict[str, JobBody] = {BULK_ALLOWANCE: run_bulk_allowance, EXPIRY_RUN: run_expiry_job}


class JobRunner:
    """Runs jobs from the jobs table, one at a time, until told to stop."""

    def __init__(
        self,
        uow_factory: UnitOfWorkFactory,
        clock: Clock,
        *,
        lease_seconds: float = LEASE_SECONDS,
        poll_seconds: float = POLL_SECONDS,
    ) -> None:
        self.uow_factory, self.clock = uow_factory, clock
        self.lease_seconds, self.poll_seconds = lease_seconds, poll_seconds
        self.stopping = threading.Event()

    def claim(self, job_id: str | None = None) -> ClaimedJob | None:
        """Take this job, or the oldest waiting one, if no live worker holds it."""
        now = self.clock.now()
        return run_in_transaction(
            self.uow_factory, lambda uow: claim_job(uow, now, job_id=job_id, lease_seconds=self.lease_seconds)
        )

    def run(self, job: ClaimedJob, should_stop: Callable[[], bool] | None = None) -> str:
        """Run a claimed job until it ends or we are told to stop; returns its status."""
        stop = should_stop or self.stopping.is_set
        status = JOB_BODIES[job.kind](
            self.uow_factory, self.clock, job.id, should_stop=stop, lease_seconds=self.lease_seconds
        )
        log.info("job %s (%s): %s", job.id, job.kind, status)
        return status

    def run_pending(self) -> int:
        """Run every job waiting now, then return how many were run."""
        count = 0
        while not self.stopping.is_set() and (job := self.claim()) is not None:
            self.run(job)
            count += 1
        return count

    def run_forever(self) -> None:
        """Run jobs as they are queued until stop() is called."""
        while not self.stopping.is_set():
            try:
                if self.run_pending() == 0:
                    self.stopping.wait(self.poll_seconds)
            except Exception:  # the database went away, say: keep the worker alive and try again
                log.exception("job runner: will try again")
                self.stopping.wait(self.poll_seconds)

    def start(self) -> threading.Thread:
        """Run jobs on a daemon thread (the embedded default's worker inside one process)."""
        thread = threading.Thread(target=self.run_forever, name="clubcard-jobs", daemon=True)
        thread.start()
        return thread

    def stop(self) -> None:
        """Stop after the chunk in flight; the job's lease then lets the next runner carry on."""
        self.stopping.set()
