"""`clubcard issue-bulk` runs the same bulk job as the API, shows progress and prints its counts."""

from __future__ import annotations

import csv
from pathlib import Path

from tests.integration.value_support import LEISURE
from tests.support.api import World
from tests.support.cli import Cli, cli

__all__ = ["cli"]


def test_issue_bulk_dry_runs_then_pays_each_member_once_and_writes_the_refused_ones(
    world: World, cli: Cli, database_url: str, tmp_path: Path
) -> None:
    leisure = world.scheme("leisure", "GBP", LEISURE, funded=10_000)
    teens = [world.resident((leisure,)) for _ in range(3)]
    outsider = world.resident((leisure,), ward="Elsewhere")
    cli.environment(data_directory=tmp_path, database_url=database_url)

    dry = cli("issue-bulk", "leisure", "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert "would pay 3 of 4 members £15.00 each: £45.00 of a budget of £100.00" in dry.stdout
    assert [world.wallet(teen, leisure) for teen in teens] == [0, 0, 0]

    refused = tmp_path / "refused.csv"
    ran = cli("issue-bulk", "leisure", "--key", "december", "--refused-csv", str(refused))
    assert ran.exit_code == 0, ran.output
    assert "succeeded: paid 3; already paid 0; refused 1" in ran.stdout
    assert "issuing" in ran.stderr, "a progress bar on stderr"
    rows = list(csv.DictReader(refused.open()))
    assert [(row["resident_id"], row["problem"]) for row in rows] == [(outsider, "not-eligible")]
    assert [world.wallet(teen, leisure) for teen in teens] == [1500] * 3

    again = cli("issue-bulk", "leisure", "--key", "december-again")
    assert again.exit_code == 0, again.output
    assert "succeeded: paid 0; already paid 3; refused 1" in again.stdout
    assert [world.wallet(teen, leisure) for teen in teens] == [1500] * 3
    world.assert_audit_ok()


def test_issue_bulk_for_a_scheme_the_budget_cannot_cover_stops_and_says_so(
    world: World, cli: Cli, database_url: str, tmp_path: Path
) -> None:
    leisure = world.scheme("leisure", "GBP", LEISURE, funded=2_000)
    teens = [world.resident((leisure,)) for _ in range(2)]
    cli.environment(data_directory=tmp_path, database_url=database_url)

    ran = cli("issue-bulk", "leisure", "--key", "december")

    assert ran.exit_code == 1
    assert (
        "failed: paid 1; already paid 0; refused 0; the scheme budget cannot pay the next member £15.00"
        in ran.stdout
    )
    assert sorted(world.wallet(teen, leisure) for teen in teens) == [0, 1500]
    world.assert_audit_ok()
