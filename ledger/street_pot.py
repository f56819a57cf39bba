"""The street pot's rules, as pure values: when a voting round takes votes, and which proposal wins."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable, Sequence
from typing import Literal

MAX_TITLE_LENGTH = 120
MAX_PROPOSALS_PER_ROUND = 50
MAX_ROUND_DAYS = 92  # a round closes within about three months of opening: a limit on everything
Outcome = Literal["commissioned", "no-votes", "none-affordable"]
WINNER_RULE = (
    "The proposal with the most household votes that the pot can pay for wins. A tie goes to the cheaper "
    "proposal, then to the one added first. If nobody votes, or the pot cannot pay for any proposal that "
    "has votes, nothing is bought and the pot keeps its balance for the next round."
)


@dataclasses.dataclass(frozen=True)
class Proposal:
    """Something a street's pot could buy, and how many households voted for it."""

    id: str
    title: str
    cost_minor: int
    outlet_id: str
    outlet_name: str
    added_at: dt.datetime
    votes: int

    def rank(self) -> tuple[int, int, dt.datetime, str]:
        """Its place in the count: more votes first, then cheaper, then added earlier."""
        return (-self.votes, self.cost_minor, self.added_at, self.id)


@dataclasses.dataclass(frozen=True)
class VotingRound:
    """A round of voting on one street's pot in one scheme."""

    id: str
    street_id: str
    scheme_id: str
    closes_at: dt.datetime
    opened_at: dt.datetime
    closed_at: dt.datetime | None

    def takes_votes(self, now: dt.datetime) -> bool:
        """Open for votes and proposals: not closed, and its closing time not yet reached."""
        return self.closed_at is None and now < self.closes_at

    def is_due(self, now: dt.datetime) -> bool:
        """Still open in the books though its closing time has passed: the next visit closes it."""
        return self.closed_at is None and now >= self.closes_at


@dataclasses.dataclass(frozen=True)
class Result:
    """What a round's count came to: the winning proposal, or why nothing was bought."""

    outcome: Outcome
    winner: Proposal | None


def count(proposals: Sequence[Proposal], affordable: Callable[[Proposal], bool]) -> Result:
    """The most-voted proposal the pot can pay for (ties: cheaper, then earlier); see WINNER_RULE."""
    voted = sorted((proposal for proposal in proposals if proposal.votes > 0), key=Proposal.rank)
    if not voted:
        return Result("no-votes", None)
    for proposal in voted:
        if affordable(proposal):
            return Result("commissioned", proposal)
    return Result("none-affordable", None)


def check_closing_time(closes_at: dt.datetime, now: dt.datetime) -> str | None:
    """Why a round cannot close at this time (None when it can): in the future, within MAX_ROUND_DAYS."""
    if closes_at <= now:
        return "the closing time must be in the future"
    if closes_at > now + dt.timedelta(days=MAX_ROUND_DAYS):
        return f"the closing time must be within {MAX_ROUND_DAYS} days"
    return None


def check_title(title: str) -> str | None:
    """Why a proposal's title is refused (None when it is fine)."""
    if not title:
        return "enter what the proposal is"
    if len(title) > MAX_TITLE_LENGTH:
        return f"the title must be {MAX_TITLE_LENGTH} characters or fewer"
    if not title.isprintable():
        return "the title must be plain text on one line"
    return None
