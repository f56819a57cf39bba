"""Bulk issuance as a job: queued by the API, run by a job runner chunk by chunk, resumed after a crash."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

import pytest
from sqlalchemy import func, select

from clubcard.jobs import JobRunner
from ledger.db.activity_repository import ActivityRepository
from ledger.db.jobs_repository import JobsRepository
from ledger.db.tables import transactions
from ledger.usecases import bulk_allowance, bulk_allowance_run
from ledger.usecases.bulk_allowance import dry_run_bulk_issuance
from ledger.usecases.issuances import IssueRequest
from ledger.usecases.jobs import LEASE_SECONDS, job_progress
from ledger.usecases.residents import erase_personal_data
from tests.integration.value_support import LEISURE
from tests.support.api import World

BULK = "/api/v1/issuances/bulk"
AMOUNT = 1500  # LEISURE's monthly allowance


def members(world: World, count: int, *, outsiders: int = 0) -> tuple[dict[str, Any], list[str], list[str]]:
    """A funded leisure scheme with `count` eligible teenagers and `outsiders` from another ward."""
    leisure = world.scheme("leisure", "GBP", LEISURE, funded=100 * AMOUNT)
    teens = [world.resident((leisure,)) for _ in range(count)]
    others = [world.resident((leisure,), ward="Elsewhere") for _ in range(outsiders)]
    return leisure, teens, others


def issues(world: World) -> int:
    """Issue transactions in the journal."""
    query = select(func.count()).select_from(transactions).where(transactions.c.kind == "issue")
    return int(world.run(lambda uow: uow.execute_now(query).scalar_one()))


def progress(world: World, job_id: str) -> dict[str, Any]:
    """The job's progress as the use case reports it."""
    return dataclasses.asdict(world.context.read(lambda uow: job_progress(uow, job_id)))


def test_a_bulk_issuance_through_the_api_is_queued_then_a_worker_runs_it_with_correct_counts(
    world: World,
) -> None:
    leisure, teens, outsiders = members(world, 5, outsiders=2)
    manager = world.staff("scheme_manager")

    accepted = world.post(BULK, {"scheme": "leisure"}, manager, key="november")

    assert accepted.status_code == 202, accepted.get_json()
    body = accepted.get_json()
    assert (body["status"], body["total"], body["period"]) == ("queued", 7, "month:2026-11-01")
    queued = world.get(body["status_url"], manager).get_json()
    assert (queued["status"], queued["done"], queued["paid"]) == ("queued", 0, 0)
    assert issues(world) == 0, "the view only queues the job: nothing is paid until a worker runs it"

    assert JobRunner(world.context.uow_factory, world.clock).run_pending() == 1

    job = world.get(body["status_url"], manager).get_json()
    assert (job["status"], job["total"], job["done"]) == ("succeeded", 7, 7)
    assert (job["paid"], job["already_paid"], job["refused"], job["error"]) == (5, 0, 2, None)
    assert [world.wallet(teen, leisure) for teen in teens] == [AMOUNT] * 5
    assert [world.wallet(other, leisure) for other in outsiders] == [0, 0]
    refusals = world.get(job["refused_url"] + "?limit=1", manager).get_json()
    assert refusals["has_more"] is True and refusals["data"][0]["problem"] == "not-eligible"
    rest = world.get(job["refused_url"] + f"?starting_after={refusals['data'][0]['resident_id']}", manager)
    refused = {row["resident_id"] for row in refusals["data"] + rest.get_json()["data"]}
    assert refused == set(outsiders)
    missing = world.get("/api/v1/jobs/00000000-0000-0000-0000-000000000000", manager)
    assert (missing.status_code, missing.get_json()["type"].rsplit("/", 1)[1]) == (404, "not-found")
    world.assert_audit_ok()


def test_a_worker_killed_mid_job_is_resumed_by_a_fresh_runner_that_pays_nobody_twice(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bulk_allowance, "CHUNK_SIZE", 4)
    leisure, teens, _ = members(world, 18)
    manager = world.staff("scheme_manager")
    job_id = world.post(BULK, {"scheme": "leisure"}, manager, key="november").get_json()["job_id"]
    first = JobRunner(world.context.uow_factory, world.clock)
    chunks_before_the_crash = iter([False, False, True])  # two chunks, then the process dies

    status = first.run(first.claim(job_id), should_stop=lambda: next(chunks_before_the_crash))  # type: ignore[arg-type]

    assert status == "running"
    stopped = progress(world, job_id)
    assert (stopped["status"], stopped["done"], stopped["paid"]) == ("running", 8, 8)
    assert issues(world) == 8
    fresh = JobRunner(world.context.uow_factory, world.clock)
    assert fresh.claim() is None, "the dead worker's lease still holds the job"

    world.clock.at = world.clock.now() + dt.timedelta(seconds=LEASE_SECONDS + 1)
    assert fresh.run_pending() == 1

    done = progress(world, job_id)
    assert (done["status"], done["done"], done["paid"], done["already_paid"]) == ("succeeded", 18, 18, 0)
    assert issues(world) == 18
    assert [world.wallet(teen, leisure) for teen in teens] == [AMOUNT] * 18
    world.assert_audit_ok()


def test_a_chunk_cut_off_before_its_commit_leaves_nothing_and_the_resumed_job_pays_it_once(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bulk_allowance, "CHUNK_SIZE", 3)
    leisure, teens, _ = members(world, 7)
    manager = world.staff("scheme_manager")
    job_id = world.post(BULK, {"scheme": "leisure"}, manager, key="november").get_json()["job_id"]
    calls = iter([None, KeyboardInterrupt("power cut"), None, None])

    def cut_off(self: Any, job: str, refusals: Any) -> None:
        failure = next(calls)
        if failure is not None:
            raise failure  # after the chunk's postings, before its commit

    monkeypatch.setattr(JobsRepository, "add_refusals", cut_off)
    runner = JobRunner(world.context.uow_factory, world.clock)
    with pytest.raises(KeyboardInterrupt):
        runner.run(runner.claim(job_id))  # type: ignore[arg-type]
    assert (progress(world, job_id)["done"], issues(world)) == (3, 3), "the cut-off chunk rolled back whole"

    world.clock.at = world.clock.now() + dt.timedelta(seconds=LEASE_SECONDS + 1)
    assert JobRunner(world.context.uow_factory, world.clock).run_pending() == 1

    assert (progress(world, job_id)["status"], progress(world, job_id)["paid"], issues(world)) == (
        "succeeded",
        7,
        7,
    )
    assert [world.wallet(teen, leisure) for teen in teens] == [AMOUNT] * 7
    world.assert_audit_ok()


def test_a_second_run_in_the_same_period_pays_nobody_and_reports_them_already_paid(world: World) -> None:
    leisure, teens, _ = members(world, 6)
    manager = world.staff("scheme_manager")
    first = world.post(BULK, {"scheme": "leisure"}, manager, key="november").get_json()
    assert world.wait_for_job(first["job_id"], manager)["paid"] == 6
    budget = world.balance(leisure["budget_account_id"])

    second = world.post(BULK, {"scheme": "leisure"}, manager, key="november-by-mistake").get_json()
    job = world.wait_for_job(second["job_id"], manager)

    assert second["job_id"] != first["job_id"] and second["already_paid"] == 6
    assert (job["status"], job["paid"], job["already_paid"], job["refused"]) == ("succeeded", 0, 6, 0)
    assert world.balance(leisure["budget_account_id"]) == budget
    assert [world.wallet(teen, leisure) for teen in teens] == [AMOUNT] * 6
    assert issues(world) == 6
    world.assert_audit_ok()


def test_the_engine_reads_and_pays_members_a_chunk_at_a_time_and_reports_progress_per_chunk(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bulk_allowance, "CHUNK_SIZE", 5)
    _, _, _ = members(world, 17, outsiders=2)
    pages: list[int] = []
    paid_per_chunk: list[int] = []
    real_page, real_issue = ActivityRepository.members_page, bulk_allowance_run.issue_chunk

    def page(self: ActivityRepository, scheme_id: str, *, after: str, limit: int) -> list[dict[str, Any]]:
        pages.append(limit)
        return real_page(self, scheme_id, after=after, limit=limit)

    def issue(uow: Any, plan: Any, batch: Any, now: dt.datetime, **options: Any) -> Any:
        paid_per_chunk.append(len(batch))
        return real_issue(uow, plan, batch, now, **options)

    monkeypatch.setattr(ActivityRepository, "members_page", page)
    monkeypatch.setattr(bulk_allowance_run, "issue_chunk", issue)
    manager = world.staff("scheme_manager")
    job_id = world.post(BULK, {"scheme": "leisure"}, manager, key="november").get_json()["job_id"]
    runner = JobRunner(world.context.uow_factory, world.clock)
    seen: list[int] = []

    def record() -> bool:
        seen.append(progress(world, job_id)["done"])
        return False

    assert runner.run(runner.claim(job_id), should_stop=record) == "succeeded"  # type: ignore[arg-type]

    assert set(pages) == {5}, "members are read five at a time, never all at once"
    assert max(paid_per_chunk) <= 5 and sum(paid_per_chunk) == 17 and len(paid_per_chunk) == 4
    # Between chunks the job shows the members done as of its last committed chunk (on PostgreSQL the
    # next chunk is already being written meanwhile, so a chunk's progress may show at the next look).
    assert seen == sorted(seen) and set(seen) <= {0, 5, 10, 15, 19} and seen[0] == 0
    assert len(set(seen)) >= 3
    assert progress(world, job_id)["done"] == 19


def test_a_dry_run_counts_whom_a_run_would_pay_and_the_total_before_anything_is_paid(world: World) -> None:
    leisure, _, _ = members(world, 4, outsiders=1)
    request = IssueRequest(scheme="leisure")

    def dry_run() -> bulk_allowance.BulkDryRun:
        return world.context.read(
            lambda uow: dry_run_bulk_issuance(
                uow, request=request, now=world.clock.now(), zone=world.clock.zone
            )
        )

    before = dry_run()
    assert (before.members, before.eligible, before.not_eligible, before.already_paid) == (5, 4, 1, 0)
    assert (before.to_pay, before.total_minor, before.budget_minor) == (4, 4 * AMOUNT, 100 * AMOUNT)
    assert issues(world) == 0
    manager = world.staff("scheme_manager")
    world.wait_for_job(world.post(BULK, {"scheme": "leisure"}, manager).get_json()["job_id"], manager)

    after = dry_run()
    assert (after.already_paid, after.to_pay, after.total_minor) == (4, 0, 0)
    assert after.budget_minor == 96 * AMOUNT
    assert world.balance(leisure["budget_account_id"]) == 96 * AMOUNT


def test_pages_of_members_carry_each_members_own_details_and_erasure_across_chunk_boundaries(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bulk_allowance, "CHUNK_SIZE", 3)
    leisure, teens, outsiders = members(world, 6, outsiders=2)
    ordered = sorted(teens + outsiders)
    erased = ordered[2]  # the last of the first page: its details and erasure are read within that page
    world.run(lambda uow: erase_personal_data(uow, erased, now=world.clock.now(), actor="test"))
    manager = world.staff("scheme_manager")

    job = world.wait_for_job(world.post(BULK, {"scheme": "leisure"}, manager).get_json()["job_id"], manager)

    unpaid = set(outsiders) | {erased}
    assert (job["status"], job["done"], job["paid"], job["refused"]) == (
        "succeeded",
        8,
        8 - len(unpaid),
        len(unpaid),
    )
    refused = world.get(job["refused_url"], manager).get_json()["data"]
    assert {row["resident_id"] for row in refused} == unpaid
    assert [world.wallet(resident, leisure) for resident in ordered] == [
        0 if resident in unpaid else AMOUNT for resident in ordered
    ]
    world.assert_audit_ok()
