"""The street pot's count: the most-voted proposal the pot can pay for; ties to the cheaper, then earlier."""

from __future__ import annotations

import datetime as dt

from ledger.street_pot import Proposal, count

EARLY = dt.datetime(2026, 11, 2, 9, 0, tzinfo=dt.UTC)


def _proposal(name: str, votes: int, cost_minor: int, minutes_later: int = 0) -> Proposal:
    return Proposal(
        name, name, cost_minor, "parks", "Parks", EARLY + dt.timedelta(minutes=minutes_later), votes
    )


def test_a_tie_goes_to_the_cheaper_proposal_then_to_the_one_added_first() -> None:
    trees, bins, benches = (
        _proposal("trees", 3, 600),
        _proposal("bins", 3, 200, 5),
        _proposal("benches", 3, 200, 9),
    )
    assert count([trees, benches, bins], lambda _: True).winner == bins


def test_the_pot_skips_what_it_cannot_pay_for_and_says_so_when_it_can_pay_for_nothing() -> None:
    gardener, bins = _proposal("gardener", 5, 5_000), _proposal("bins", 1, 200)
    assert count([gardener, bins], lambda p: p.cost_minor <= 800).winner == bins
    nothing = count([gardener], lambda p: p.cost_minor <= 800)
    assert nothing.outcome == "none-affordable" and nothing.winner is None


def test_a_proposal_nobody_voted_for_never_wins() -> None:
    assert count([_proposal("bins", 0, 200)], lambda _: True).outcome == "no-votes"
