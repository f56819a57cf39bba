"""A street with a pot for the street pot tests: a recycling scheme in points, a street (a collective) whose
wallet holds 800 points, three households on it with a card each, one household on another street, and an
outlet that takes the scheme (and one that does not)."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

from sqlalchemy import update

from ledger.clock import council_zone
from ledger.db.tables import personal_details
from ledger.usecases.street_pot import add_proposal, open_round
from tests.support.api import World

RECYCLING_RULES = {
    "eligibility": {"resident_kinds": ["household", "collective"]},
    "issuing": {"mode": "earned"},
    "spending": {"outlet_categories": ["local-service"]},
}
POT_MINOR = 800
MANAGER = "scheme_manager:test"
HOUSEHOLD_BORN = dt.date(1980, 3, 3)  # the householder's date of birth: their first sign-in on /my


@dataclasses.dataclass(frozen=True)
class Street:
    """The street under test and everyone around it."""

    world: World
    scheme: dict[str, Any]
    street_id: str
    households: tuple[str, ...]
    cards: tuple[tuple[str, str], ...]  # (number, token) of each household's card, in order
    elsewhere_id: str  # a household on another street
    parks_id: str  # takes the scheme
    gym_id: str  # does not

    @property
    def zone(self) -> dt.tzinfo:
        """The council's time zone."""
        return council_zone(self.world.context.settings.time_zone)

    def run(self, operation: Any) -> Any:
        """Run a use case in one transaction."""
        return self.world.run(operation)

    def open_round(self, days: int = 7) -> str:
        """Open a round closing in `days` days."""
        now = self.world.clock.now()
        return str(
            self.run(
                lambda uow: open_round(
                    uow,
                    street_id=self.street_id,
                    slug=self.scheme["slug"],
                    closes_at=now + dt.timedelta(days=days),
                    now=now,
                    zone=self.zone,
                    actor=MANAGER,
                )
            )
        )

    def propose(self, round_id: str, title: str, cost_minor: int, outlet_id: str | None = None) -> str:
        """Add a proposal (delivered by the parks team unless another outlet is named)."""
        self.world.clock.advance(dt.timedelta(seconds=1))  # proposals added one after another
        return str(
            self.run(
                lambda uow: add_proposal(
                    uow,
                    round_id=round_id,
                    title=title,
                    cost_minor=cost_minor,
                    outlet_id=outlet_id or self.parks_id,
                    now=self.world.clock.now(),
                    actor=MANAGER,
                )
            )
        )

    def pot(self) -> int:
        """What the street's wallet holds."""
        return self.world.wallet(self.street_id, self.scheme)


def street(world: World) -> Street:
    """A street with 800 points in its pot and three households on it."""
    scheme = world.scheme("recycling", "POINT", RECYCLING_RULES, funded=100_000)
    other = world.scheme("leisure", "GBP", {"spending": {"outlet_categories": ["local-service"]}})
    street_id = world.resident((scheme,), kind="collective", born=None)
    other_street = world.resident((scheme,), kind="collective", born=None)
    households = tuple(
        world.resident((scheme,), kind="household", born=HOUSEHOLD_BORN.isoformat(), collective=street_id)
        for _ in range(3)
    )
    _name(world, street_id, "Oak Street")
    for number, household in enumerate(households, start=1):
        _name(world, household, f"Householder {number}")
    cards = tuple(world.card(household) for household in households)
    elsewhere = world.resident(
        (scheme,), kind="household", born=HOUSEHOLD_BORN.isoformat(), collective=other_street
    )
    parks_id, _ = world.outlet(["local-service"], ["recycling"], name="Parks and Gardens Team")
    gym_id, _ = world.outlet(["local-service"], [other["slug"]], name="Gym")
    world.issue(scheme, street_id, POT_MINOR, kind="earn")
    return Street(world, scheme, street_id, households, cards, elsewhere, parks_id, gym_id)


def _name(world: World, resident_id: str, name: str) -> None:
    """Give a resident a name of their own (World names everyone "Test")."""
    query = update(personal_details).where(personal_details.c.resident_id == resident_id).values(name=name)
    world.run(lambda uow: uow.execute_now(query))
