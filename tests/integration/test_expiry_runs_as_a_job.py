"""An expiry run is a durable job: a worker stopped between batches is resumed by the next one, and the
run's counts at the end are exact (nothing expired twice, nothing counted twice). SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt

import pytest

from clubcard.jobs import JobRunner
from ledger.usecases import expiry_job
from ledger.usecases.expiry_job import expiry_run_page, start_expiry_run
from tests.integration.test_staff_expiry_pages import _expiring_world
from tests.support.staff_web import StaffWeb, staff_web_fixture  # noqa: F401


def test_a_run_stopped_after_one_batch_is_resumed_by_the_next_worker_and_counts_each_lot_once(
    staff_web: StaffWeb, monkeypatch: pytest.MonkeyPatch
) -> None:
    world = _expiring_world(staff_web)
    budget = world.run(lambda uow: uow.schemes.get(slug="leisure"))["budget_account_id"]
    before = world.balance(budget)
    monkeypatch.setattr(expiry_job, "BATCH_SIZE", 1)
    ledger, clock = staff_web.context, staff_web.clock
    queued = ledger.write(lambda uow: start_expiry_run(uow, now=clock.now(), actor="admin:admin", key="k"))
    first = JobRunner(ledger.uow_factory, clock)
    job = first.claim()
    assert job is not None
    batches = iter([False, False, True])  # the holds phase, one lot, then the worker is told to stop

    assert first.run(job, should_stop=lambda: next(batches)) == "running"
    halfway = ledger.read(lambda uow: expiry_run_page(uow, queued.job_id))
    assert (halfway.job.status, halfway.job.done, halfway.report.lots_expired) == ("running", 1, 1)
    assert JobRunner(ledger.uow_factory, clock).run_pending() == 0  # its lease still holds it

    clock.advance(dt.timedelta(seconds=31))  # the first worker's lease runs out
    assert JobRunner(ledger.uow_factory, clock).run_pending() == 1
    done = ledger.read(lambda uow: expiry_run_page(uow, queued.job_id))
    assert (done.job.status, done.job.done, done.job.total) == ("succeeded", 2, 2)
    assert done.report.lots_expired == 2 and done.report.returned == (("leisure", "GBP", 800),)
    assert world.balance(budget) == before + 800
