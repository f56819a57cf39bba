"""May this be spent here? An outlet, a scheme, and the one rule between them.

An outlet takes a scheme when it is approved for the scheme and its categories meet where the scheme's
rules say value may be spent: the scheme's outlet categories, or the categories a purpose (a release
voucher's accommodation, work clothes...) may be spent at. Every screen and every write asks here.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Mapping
from typing import Any

from ledger.errors import NotAllowedHere
from ledger.rules import Spending, parse_rules
from ledger.units import Unit


def payable_account_name(outlet_id: str, unit: str) -> str:
    """The name of the account an outlet is owed its redemptions in a unit on (one per outlet and unit)."""
    return f"outlet:{outlet_id}:payable:{unit}"


@dataclasses.dataclass(frozen=True)
class Outlet:
    """A partner outlet: the kinds of place it is and the schemes it is approved for (by slug or id)."""

    id: str
    name: str
    categories: frozenset[str]
    approved_schemes: frozenset[str]

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> Outlet:
        """The outlet as the registry stores it."""
        return cls(
            str(record["id"]),
            str(record["name"]),
            frozenset(record["categories"]),
            frozenset(record["schemes"]),
        )

    def approves(self, scheme: Scheme) -> bool:
        """True when this outlet is approved for the scheme."""
        return self.approves_scheme(scheme.slug, scheme.id)

    def approves_scheme(self, slug: str, scheme_id: str) -> bool:
        """True when this outlet is approved for the scheme with this slug and id (listed by either)."""
        return slug in self.approved_schemes or scheme_id in self.approved_schemes


@dataclasses.dataclass(frozen=True)
class Scheme:
    """A scheme as far as spending goes: who it is and where its rules let its value be spent."""

    id: str
    slug: str
    name: str
    unit: Unit
    spending: Spending

    @classmethod
    def from_record(cls, record: Mapping[str, Any], spending: Spending | None = None) -> Scheme:
        """The scheme as stored (its rules parsed unless the caller already holds its spending rules)."""
        rules = spending if spending is not None else parse_rules(record["rules"]).spending
        return cls(str(record["id"]), str(record["slug"]), str(record["name"]), Unit(record["unit"]), rules)

    def accepts_categories(self, outlet_categories: Collection[str]) -> bool:
        """True when a place of these categories meets the scheme's outlet categories or a purpose's
        (a scheme that names none may be spent at any approved outlet)."""
        if not self.spending.outlet_categories and not self.spending.purpose_categories:
            return True
        here = set(outlet_categories)
        if here.intersection(self.spending.outlet_categories):
            return True
        return any(here.intersection(accepted) for accepted in self.spending.purpose_categories.values())

    def may_be_spent_at(self, outlet: Outlet) -> bool:
        """May this scheme's value be spent at this outlet? Approved for it, and a kind of place it allows."""
        return outlet.approves(self) and self.accepts_categories(outlet.categories)

    def why_not_spendable_at(self, outlet: Outlet) -> str | None:
        """Why this scheme may not be spent at the outlet, in words for the counter; None when it may."""
        if not outlet.approves(self):
            return f"this outlet is not approved for {self.slug}"
        if not self.accepts_categories(outlet.categories):
            return f"{self.slug} cannot be spent at this kind of outlet"
        return None

    def require_spendable_at(self, outlet: Outlet) -> None:
        """Refuse (NotAllowedHere, saying why) unless the scheme may be spent at the outlet."""
        reason = self.why_not_spendable_at(outlet)
        if reason is not None:
            raise NotAllowedHere(reason)

    def lot_categories_at(self, outlet: Outlet) -> frozenset[str]:
        """The lot categories (purposes) of this scheme spendable at the outlet.

        A purpose listed in the purpose categories is spendable where the outlet has one of its
        categories; any other category is spendable where the outlet has that category itself."""
        purposes = self.spending.purpose_categories
        direct = {category for category in outlet.categories if category not in purposes}
        mapped = {
            purpose for purpose, accepted in purposes.items() if outlet.categories.intersection(accepted)
        }
        return frozenset(direct | mapped)
