"""The street pot's use cases on SQLite and PostgreSQL: one vote per household per round, counts not names,
closing commissions the winner once (twice or racing), the payment in the books and reversible."""

from __future__ import annotations

import datetime as dt
import threading
from pathlib import Path

import pytest

from ledger.errors import Conflict, Forbidden, NotAllowedHere
from ledger.usecases.audit import trial_balance
from ledger.usecases.street_pot import ClosedRound, cast_vote, close_round, reverse_payment
from ledger.usecases.street_pot_pages import street_pot
from tests.integration.street_pot_support import MANAGER, POT_MINOR, Street, street
from tests.support.api import World
from tests.support.cli import Cli, cli

__all__ = ["cli"]


@pytest.fixture(name="oak")
def oak_fixture(world: World) -> Street:
    """The street under test."""
    return street(world)


def _vote(oak: Street, household_id: str, round_id: str, proposal_id: str) -> bool:
    now = oak.world.clock.now()
    return bool(
        oak.run(
            lambda uow: cast_vote(
                uow, household_id=household_id, round_id=round_id, proposal_id=proposal_id, now=now
            )
        )
    )


def _counts(oak: Street) -> dict[str, int]:
    now = oak.world.clock.now()
    page = oak.world.context.read(
        lambda uow: street_pot(uow, street_id=oak.street_id, slug="recycling", now=now)
    )
    assert page.open_round is not None
    return {proposal.title: proposal.votes for proposal in page.open_round.proposals}


def _close(oak: Street, round_id: str, actor: str = MANAGER) -> ClosedRound:
    now = oak.world.clock.now()
    return oak.run(lambda uow: close_round(uow, round_id=round_id, now=now, zone=oak.zone, actor=actor))


def test_a_household_has_one_vote_per_round_that_it_can_change_until_the_round_closes(oak: Street) -> None:
    round_id = oak.open_round()
    trees, bins = oak.propose(round_id, "Two street trees", 600), oak.propose(round_id, "Extra bins", 200)

    assert _vote(oak, oak.households[0], round_id, trees) is False
    assert _vote(oak, oak.households[0], round_id, bins) is True  # a change of mind, not a second vote
    _vote(oak, oak.households[1], round_id, bins)
    assert _counts(oak) == {"Two street trees": 0, "Extra bins": 2}

    oak.world.clock.advance(dt.timedelta(days=8))
    with pytest.raises(Conflict, match="closed"):
        _vote(oak, oak.households[2], round_id, trees)


def test_a_household_not_on_the_street_cannot_vote_on_its_pot(oak: Street) -> None:
    round_id = oak.open_round()
    trees = oak.propose(round_id, "Two street trees", 600)
    with pytest.raises(Forbidden, match="only households on this street"):
        _vote(oak, oak.elsewhere_id, round_id, trees)
    with pytest.raises(Forbidden):
        _vote(oak, oak.street_id, round_id, trees)  # nor the street itself
    assert _counts(oak) == {"Two street trees": 0}


def test_a_proposal_must_be_delivered_by_an_outlet_that_takes_the_scheme(oak: Street) -> None:
    round_id = oak.open_round()
    with pytest.raises(NotAllowedHere, match="does not take"):
        oak.propose(round_id, "A gym session", 100, oak.gym_id)


def test_closing_twice_commissions_the_winner_once_and_the_payment_is_in_the_books(oak: Street) -> None:
    round_id = oak.open_round()
    trees, bins = oak.propose(round_id, "Two street trees", 600), oak.propose(round_id, "Extra bins", 200)
    _vote(oak, oak.households[0], round_id, trees)
    _vote(oak, oak.households[1], round_id, trees)
    _vote(oak, oak.households[2], round_id, bins)

    first, second = _close(oak, round_id), _close(oak, round_id, actor="admin:someone-else")

    assert first == second and first.outcome == "commissioned" and first.winner_proposal_id == trees
    assert oak.pot() == POT_MINOR - 600
    parks = oak.world.account_id(f"outlet:{oak.parks_id}:payable:POINT")
    assert parks is not None and oak.world.balance(parks) == 600
    assert first.payment_transaction_id is not None
    paid = oak.world.transaction(first.payment_transaction_id)
    assert paid.kind == "redeem" and paid.outlet_id == oak.parks_id
    books = oak.world.context.read(trial_balance)
    assert books.balanced and books.totals_by_unit["POINT"] == 0
    oak.world.assert_audit_ok()


def test_two_people_closing_a_round_at_once_pay_the_outlet_once(oak: Street) -> None:
    round_id = oak.open_round()
    trees = oak.propose(round_id, "Two street trees", 600)
    _vote(oak, oak.households[0], round_id, trees)
    results: list[ClosedRound] = []

    def close_it(actor: str) -> None:
        results.append(_close(oak, round_id, actor=actor))

    threads = [threading.Thread(target=close_it, args=(f"admin:{n}",)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(results) == 2 and results[0] == results[1]
    assert oak.pot() == POT_MINOR - 600


def test_the_most_voted_proposal_the_pot_cannot_pay_for_gives_way_to_the_next(oak: Street) -> None:
    round_id = oak.open_round()
    gardener = oak.propose(round_id, "A gardener for a year", 5_000)
    bins = oak.propose(round_id, "Extra bins", 200)
    _vote(oak, oak.households[0], round_id, gardener)
    _vote(oak, oak.households[1], round_id, gardener)
    _vote(oak, oak.households[2], round_id, bins)

    closed = _close(oak, round_id)

    assert closed.outcome == "commissioned" and closed.winner_proposal_id == bins
    assert oak.pot() == POT_MINOR - 200


def test_a_round_nobody_voted_in_buys_nothing(oak: Street) -> None:
    round_id = oak.open_round()
    oak.propose(round_id, "Extra bins", 200)
    closed = _close(oak, round_id)
    assert closed.outcome == "no-votes" and closed.payment_transaction_id is None
    assert oak.pot() == POT_MINOR


def test_staff_reverse_a_commissioned_payment_and_the_audit_still_verifies(
    oak: Street, cli: Cli, database_url: str, tmp_path: Path
) -> None:
    round_id = oak.open_round()
    trees = oak.propose(round_id, "Two street trees", 600)
    _vote(oak, oak.households[0], round_id, trees)
    paid = _close(oak, round_id).payment_transaction_id
    now = oak.world.clock.now()

    reversal = oak.run(
        lambda uow: reverse_payment(
            uow, round_id=round_id, reason="The trees were not planted", now=now, actor=MANAGER
        )
    )

    assert oak.pot() == POT_MINOR and oak.world.transaction(reversal).reverses_id == paid
    with pytest.raises(Conflict, match="already been reversed"):
        oak.run(lambda uow: reverse_payment(uow, round_id=round_id, reason="again", now=now, actor="admin:x"))
    oak.world.assert_audit_ok()
    cli.environment(data_directory=tmp_path, database_url=database_url)
    assert cli("audit", "seal").exit_code == 0
    verified = cli("audit", "verify")
    assert verified.exit_code == 0, verified.output
