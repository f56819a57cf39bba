"""The insight figures of a scheme's members and redemptions, combined from the database's few grouped
rows: one pass per member over the scheme's postings (ledger.db.insight_repository.member_figures) gives
every group's value, people and days-to-first-spend histogram, and their total is the sum of the groups
(each member is in exactly one group); one pass over its redemptions gives every time bucket."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from typing import Any

PEOPLE = ("issued_people", "expired_people", "spent_people", "active_people", "people")
AMOUNTS = ("issued_minor", "expired_minor", "unclaimed_minor")


@dataclasses.dataclass
class Members:
    """A group's figures: value (minor units) and people by what happened to them, and how many people
    took how many whole days from their first issue to their first spend."""

    grp: Any
    figures: dict[str, int] = dataclasses.field(default_factory=dict)
    days: dict[int, int] = dataclasses.field(default_factory=dict)

    def figure(self, name: str) -> int:
        """One of the group's PEOPLE or AMOUNTS figures (0 if nobody is behind it)."""
        return self.figures.get(name, 0)

    def add(self, row: Any) -> None:
        """Add a (group, days) row of figures to this group's."""
        for name in (*AMOUNTS, *PEOPLE):
            self.figures[name] = self.figures.get(name, 0) + int(getattr(row, name) or 0)
        if row.days is not None:
            self.days[int(row.days)] = self.days.get(int(row.days), 0) + int(row.people)

    def histogram(self) -> list[tuple[int, int]]:
        """(whole days, people) of those who have spent, by days."""
        return sorted(self.days.items())


def member_groups(rows: Iterable[Any], grouped: bool) -> tuple[list[Members], Members]:
    """Every group's figures (in the order the database gave them; none if not grouped) and the total."""
    groups: dict[Any, Members] = {}
    total = Members(None)
    for row in rows:
        if grouped:
            groups.setdefault(row.grp, Members(row.grp)).add(row)
        total.add(row)
    return list(groups.values()), total


@dataclasses.dataclass(frozen=True)
class Redemptions:
    """A time bucket's redemptions, their value and the distinct people behind them."""

    bucket: int | None
    outlet_id: str | None
    redemptions: int
    value_minor: int
    people: int


def redemption_buckets(rows: Iterable[Any]) -> dict[str, list[Redemptions]]:
    """The counted rows and the people rows of each bucket, merged: by bucket kind."""
    merged: dict[tuple[str, Any, Any], dict[str, int]] = {}
    for row in rows:
        figures = merged.setdefault((row.kind, row.bucket, row.outlet_id), {})
        for name in ("redemptions", "value_minor", "people"):
            if getattr(row, name) is not None:
                figures[name] = int(getattr(row, name))
    # Each redemption is in one week at one outlet: a week's and everyone's counts are sums of those.
    for (kind, bucket, _), figures in list(merged.items()):
        if kind == "week_outlet":
            for whole in (("week", bucket, None), ("all", None, None)):
                into = merged.setdefault(whole, {})
                for name in ("redemptions", "value_minor"):
                    into[name] = into.get(name, 0) + figures.get(name, 0)
    kinds: dict[str, list[Redemptions]] = {}
    for (kind, bucket, outlet_id), figures in merged.items():
        kinds.setdefault(kind, []).append(
            Redemptions(
                None if bucket is None else int(bucket),
                outlet_id,
                figures.get("redemptions", 0),
                figures.get("value_minor", 0),
                figures.get("people", 0),
            )
        )
    return kinds
