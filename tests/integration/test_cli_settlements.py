"""`clubcard settlements create|approve|reconcile|list` against the fake Stripe: counts at the end, one-line
errors (the two-person rule), and a reconcile that books Stripe's transfers to the bank."""

from __future__ import annotations

from pathlib import Path

from tests.integration.settlement_support import SettlementWorld, stripe_world
from tests.support.cli import Cli, cli
from tests.support.fake_stripe import FakeStripe, fake_stripe, stripe_settings
from tests.support.fake_stripe.transfers import transfers

__all__ = ["cli", "fake_stripe", "stripe_world"]


def test_finance_settles_from_the_command_line_with_two_people_and_reconciles(
    stripe_world: SettlementWorld, fake_stripe: FakeStripe, cli: Cli, database_url: str, tmp_path: Path
) -> None:
    world = stripe_world
    pool, pool_key = world.outlet(["leisure-centre"], ["leisure"])
    world.payee(pool, connected_account_id="acct_pool1")
    world.redeem(pool_key, 1250)
    cli.environment(data_directory=tmp_path, database_url=database_url)
    for name, value in stripe_settings(fake_stripe).items():
        cli.monkeypatch.setenv(name, value)

    made = cli("settlements", "create", "--period-end", "2026-11-05T00:00:00Z", "--by", "ann")
    assert made.exit_code == 0, made.output
    assert "(stripe): 1 lines, 0 carried" in made.stdout and "to pay: £12.50" in made.stdout
    batch_id = made.stdout.split()[1]

    refused = cli("settlements", "approve", batch_id, "--by", "ann")
    assert refused.exit_code == 1 and refused.stderr.count("\n") == 1
    assert "you made this batch, so you cannot approve it" in refused.stderr

    approved = cli("settlements", "approve", batch_id, "--by", "bob")
    assert approved.exit_code == 0, approved.output
    assert f"batch {batch_id} approved: transferred 1; total £12.50" in approved.stdout
    assert [t["amount"] for t in transfers(fake_stripe)] == [1250]

    reconciled = cli("settlements", "reconcile")
    assert reconciled.exit_code == 0, reconciled.output
    assert "transferred: 0; confirmed: 1; returned: 0; failed: 0" in reconciled.stdout
    listed = cli("settlements", "list")
    assert f"{batch_id}  #1" in listed.stdout and "paid" in listed.stdout and "1 batches" in listed.stdout
    assert world.clearing() == 0
    world.assert_books_right()
