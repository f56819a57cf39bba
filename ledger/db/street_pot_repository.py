"""The street pot's rows: voting rounds, their proposals and one vote per household per round."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Connection, func, insert, select, update

from ledger.db.tables import (
    memberships,
    outlets,
    personal_details,
    residents,
    schemes,
    street_pot_proposals,
    street_pot_rounds,
    street_pot_votes,
)
from ledger.street_pot import MAX_PROPOSALS_PER_ROUND

MAX_STREETS_LISTED = 500


class StreetPotRepository:
    """Reads and writes the street pot's tables on one connection."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    def add_round(self, **row: Any) -> None:
        """Open a round (columns as in tables.street_pot_rounds)."""
        self.connection.execute(insert(street_pot_rounds).values(**row))

    def round(self, round_id: str) -> dict[str, Any] | None:
        """One round by id."""
        query = select(street_pot_rounds).where(street_pot_rounds.c.id == round_id)
        row = self.connection.execute(query).first()
        return None if row is None else dict(row._mapping)

    def open_round(self, street_id: str, scheme_id: str) -> dict[str, Any] | None:
        """The street's round in the scheme that is not closed yet, if any (there is at most one)."""
        table = street_pot_rounds
        query = select(table).where(
            table.c.street_id == street_id, table.c.scheme_id == scheme_id, table.c.closed_at.is_(None)
        )
        row = self.connection.execute(query.limit(1)).first()
        return None if row is None else dict(row._mapping)

    def rounds(self, street_id: str, scheme_id: str, *, limit: int) -> list[dict[str, Any]]:
        """The street's rounds in the scheme, newest first."""
        table = street_pot_rounds
        query = (
            select(table)
            .where(table.c.street_id == street_id, table.c.scheme_id == scheme_id)
            .order_by(table.c.opened_at.desc(), table.c.id.desc())
            .limit(limit)
        )
        return [dict(row._mapping) for row in self.connection.execute(query)]

    def close(self, round_id: str, **values: Any) -> bool:
        """Record a round's close and outcome, if still open; False when someone closed it first."""
        table = street_pot_rounds
        result = self.connection.execute(
            update(table).where(table.c.id == round_id, table.c.closed_at.is_(None)).values(**values)
        )
        return int(result.rowcount) == 1

    def add_proposal(self, **row: Any) -> None:
        """Add a proposal to a round (columns as in tables.street_pot_proposals)."""
        self.connection.execute(insert(street_pot_proposals).values(**row))

    def proposals(self, round_id: str) -> list[dict[str, Any]]:
        """A round's proposals in the order they were added, each with its outlet's name and its number of
        household votes (counts only: no voter is read)."""
        proposal, vote = street_pot_proposals, street_pot_votes
        votes = (
            select(vote.c.proposal_id, func.count().label("votes"))
            .where(vote.c.round_id == round_id)
            .group_by(vote.c.proposal_id)
            .subquery()
        )
        query = (
            select(
                proposal, outlets.c.name.label("outlet_name"), func.coalesce(votes.c.votes, 0).label("votes")
            )
            .select_from(
                proposal.join(outlets, outlets.c.id == proposal.c.outlet_id).outerjoin(
                    votes, votes.c.proposal_id == proposal.c.id
                )
            )
            .where(proposal.c.round_id == round_id)
            .order_by(proposal.c.added_at, proposal.c.id)
            .limit(MAX_PROPOSALS_PER_ROUND)
        )
        return [{**row._mapping, "votes": int(row.votes)} for row in self.connection.execute(query)]

    def proposal_count(self, round_id: str) -> int:
        """How many proposals a round has."""
        query = select(func.count()).where(street_pot_proposals.c.round_id == round_id)
        return int(self.connection.execute(query).scalar_one())

    def vote_of(self, round_id: str, household_id: str) -> str | None:
        """The proposal a household voted for in a round, if it has voted."""
        vote = street_pot_votes
        query = select(vote.c.proposal_id).where(
            vote.c.round_id == round_id, vote.c.household_id == household_id
        )
        found: str | None = self.connection.execute(query).scalar()
        return found

    def set_vote(self, round_id: str, household_id: str, proposal_id: str, now: dt.datetime) -> None:
        """A household's vote: its first, or a change of mind (the same row, so one vote per round)."""
        vote = street_pot_votes
        changed = self.connection.execute(
            update(vote)
            .where(vote.c.round_id == round_id, vote.c.household_id == household_id)
            .values(proposal_id=proposal_id, voted_at=now)
        )
        if int(changed.rowcount) == 0:
            self.connection.execute(
                insert(vote).values(
                    round_id=round_id, household_id=household_id, proposal_id=proposal_id, voted_at=now
                )
            )

    def households_voted(self, round_id: str) -> int:
        """How many households have voted in a round."""
        query = select(func.count()).where(street_pot_votes.c.round_id == round_id)
        return int(self.connection.execute(query).scalar_one())

    def households(self, street_id: str, scheme_id: str) -> int:
        """How many members of the scheme belong to the street (who may vote on its pot)."""
        query = select(func.count()).where(
            memberships.c.collective_id == street_id, memberships.c.scheme_id == scheme_id
        )
        return int(self.connection.execute(query).scalar_one())

    def streets(self) -> list[dict[str, Any]]:
        """Every street (a collective) with each scheme it belongs to: street id and name, scheme id, slug,
        name and unit, by street name."""
        query = (
            select(
                residents.c.id.label("street_id"),
                personal_details.c.name.label("street_name"),
                schemes.c.id.label("scheme_id"),
                schemes.c.slug,
                schemes.c.name.label("scheme_name"),
                schemes.c.unit,
            )
            .select_from(
                residents.join(memberships, memberships.c.resident_id == residents.c.id)
                .join(schemes, schemes.c.id == memberships.c.scheme_id)
                .outerjoin(personal_details, personal_details.c.resident_id == residents.c.id)
            )
            .where(residents.c.kind == "collective")
            .order_by(personal_details.c.name, residents.c.id, schemes.c.slug)
            .limit(MAX_STREETS_LISTED)
        )
        return [dict(row._mapping) for row in self.connection.execute(query)]
