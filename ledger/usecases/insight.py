"""Insight for the council: per scheme, uptake, value, when and where it is spent and how soon, overall or
by ward (with its deprivation decile) or age band; every figure from fewer than 10 people suppressed."""

from __future__ import annotations

import dataclasses
import datetime as dt
import zoneinfo
from collections.abc import Sequence
from typing import Any

from ledger.errors import NotFound
from ledger.ports import UnitOfWork
from ledger.rules import local_date, parse_rules
from ledger.suppression import Figure, Shown, suppress_figures, suppress_total_and_parts
from ledger.usecases.insight_cache import FiguresCache
from ledger.usecases.insight_members import Members, Redemptions, member_groups, redemption_buckets
from ledger.usecases.insight_time import (
    HOUR_LABELS,
    WEEKDAY_LABELS,
    age_cutoffs,
    clock_offsets,
    eligibility_band,
    week_start,
)

ACTIVE_DAYS = 30
DIMENSIONS = {"all": "all members", "ward": "ward", "age": "age band"}
MAX_WEEKS_SHOWN = 26
ALL_ROW = "All members"


@dataclasses.dataclass(frozen=True)
class Column:
    """A column of figures: its heading, and the unit its values are in (None: a count)."""

    heading: str
    unit: str | None = None


@dataclasses.dataclass(frozen=True)
class Row:
    """One row of a table: its label, the ward's deprivation decile if any, its figures after suppression."""

    label: str
    cells: tuple[Shown, ...]
    decile: int | None = None


@dataclasses.dataclass(frozen=True)
class Table:
    """A table of figures (and the chart drawn from its first column); `total` is the sum of the rows."""

    key: str
    title: str
    row_heading: str
    columns: tuple[Column, ...]
    rows: tuple[Row, ...]
    total: Row | None = None


@dataclasses.dataclass(frozen=True)
class SchemeInsight:
    """Every insight table of one scheme, grouped by one dimension."""

    slug: str
    name: str
    unit: str
    dimension: str
    tables: tuple[Table, ...]
    computed_at: dt.datetime | None = None  # when the figures were worked out (insight_cache)

    def table(self, key: str) -> Table:
        """The table called `key`, or NotFound."""
        for table in self.tables:
            if table.key == key:
                return table
        raise NotFound(f"there is no insight table called {key}")


# Each process keeps a scheme's figures for a few minutes (ledger.usecases.insight_cache says why).
FIGURES: FiguresCache[tuple[Table, ...]] = FiguresCache()


def scheme_insight(
    uow: UnitOfWork, *, slug: str, dimension: str, now: dt.datetime, zone: zoneinfo.ZoneInfo
) -> SchemeInsight:
    """Every insight table of the scheme `slug`, grouped by "all", "ward" or "age"."""
    if dimension not in DIMENSIONS:
        raise NotFound(f"insight can be grouped by {', '.join(DIMENSIONS)}, not {dimension}")
    scheme = uow.schemes.get(slug=slug)
    if scheme is None:
        raise NotFound(f"there is no scheme {slug}")
    deciles = {row["ward"]: int(row["decile"]) for row in uow.insight.wards()}
    # Kept per database, scheme, rule version, grouping and ward list: a change to any of them is a new key.
    key = (
        _database(uow),
        scheme["id"],
        scheme["version"],
        dimension,
        tuple(sorted(deciles.items())),
        str(zone),
    )
    kept = FIGURES.get(key, now, lambda: _tables(uow, scheme, dimension, deciles, now, zone))
    name, unit = scheme["name"], scheme["unit"]
    return SchemeInsight(scheme["slug"], name, unit, dimension, kept.value, computed_at=kept.computed_at)


def _tables(
    uow: UnitOfWork,
    scheme: dict[str, Any],
    dimension: str,
    deciles: dict[str, int],
    now: dt.datetime,
    zone: zoneinfo.ZoneInfo,
) -> tuple[Table, ...]:
    """Every table of the scheme's page, worked out from the postings now."""
    today = local_date(now, zone)
    cutoffs, oldest = age_cutoffs(today)
    lens = _Lens(uow, dimension, uow.insight.group_expression(dimension, cutoffs, oldest), deciles)
    band = eligibility_band(parse_rules(scheme["rules"]).eligibility, today)
    since = now - dt.timedelta(days=ACTIVE_DAYS)
    groups, total = member_groups(
        uow.insight.member_figures(scheme["id"], since, lens.group), lens.group is not None
    )
    groups.sort(key=lens.order)
    tables = [
        _uptake(uow, lens, scheme["id"], band, (groups, total)),
        _value(lens, scheme["unit"], (groups, total)),
        _first_spend(lens, (groups, total)),
    ]
    tables += _patterns(uow, scheme["id"], scheme["unit"], zone, now)
    return tuple(tables)


def _database(uow: UnitOfWork) -> str:
    """Which database the figures come from (a process may serve several, as the tests do)."""
    return str(getattr(getattr(uow, "engine", None), "url", id(uow)))


# Every group's member figures (ordered as the lens orders them), and their total.
_MemberFigures = tuple[list[Members], Members]


@dataclasses.dataclass(frozen=True)
class _Lens:
    """How rows are grouped: the dimension, its SQL group column, and the uploaded ward deciles."""

    uow: Any
    dimension: str
    group: Any
    deciles: dict[str, int]

    def label(self, row: Any) -> str:
        """A grouped row's label."""
        return str(row.grp) if self.group is not None else ALL_ROW

    def decile(self, row: Any) -> int | None:
        """The deprivation decile of a ward row (None if not a ward or not in the uploaded list)."""
        return self.deciles.get(str(row.grp)) if self.dimension == "ward" else None

    def order(self, row: Any) -> tuple[int, str]:
        """Wards by deprivation decile (most deprived first, unlisted last); age bands as listed."""
        if self.dimension == "ward":
            return (self.deciles.get(str(row.grp), 11), str(row.grp))
        return (0, "")


def _columns_suppressed(
    total: Sequence[Figure], parts: Sequence[Sequence[Figure]]
) -> tuple[list[Shown], list[list[Shown]]]:
    """Suppress each column of a table on its own: its total and its parts."""
    shown_total: list[Shown] = []
    shown_parts: list[list[Shown]] = [[] for _ in parts]
    for index, figure in enumerate(total):
        column_total, column_parts = suppress_total_and_parts(figure, [row[index] for row in parts])
        shown_total.append(column_total)
        for row_index, shown in enumerate(column_parts):
            shown_parts[row_index].append(shown)
    return shown_total, shown_parts


def _build(
    key: str,
    title: str,
    heading: str,
    columns: Sequence[Column],
    lens: _Lens,
    rows: list[Any],
    total: Any,
    figures: Any,
) -> Table:
    """A table from grouped rows: figures(row) gives each row's figures, suppressed column by column."""
    total_figures = figures(total)
    shown_total, shown_parts = _columns_suppressed(total_figures, [figures(row) for row in rows])
    body = tuple(
        Row(lens.label(row), tuple(cells), lens.decile(row))
        for row, cells in zip(rows, shown_parts, strict=True)
    )
    total_row = Row(ALL_ROW, tuple(shown_total))
    if not body:
        return Table(key, title, heading, tuple(columns), (total_row,))
    return Table(key, title, heading, tuple(columns), body, total_row)


def _uptake(
    uow: UnitOfWork, lens: _Lens, scheme_id: str, band: dict[str, Any], members: _MemberFigures
) -> Table:
    """Eligible, enrolled and active (used value in the last 30 days) people."""
    groups, everyone = members

    def fetch(group: Any) -> list[_Counts]:
        counts: dict[Any, dict[str, int]] = {}
        for name, rows in (
            ("eligible", uow.insight.eligible(scheme_id, band, group)),
            ("enrolled", uow.insight.enrolled(scheme_id, group)),
        ):
            for row in rows:
                key = row.grp if group is not None else None
                counts.setdefault(key, {})[name] = int(row.people)
        for member in groups if group is not None else [everyone]:
            if member.figure("active_people"):
                counts.setdefault(member.grp, {})["active"] = member.figure("active_people")
        if group is None:
            return [_Counts(None, counts.get(None, {}))]
        return [_Counts(key, value) for key, value in counts.items()]

    total = fetch(None)[0]
    rows = sorted(fetch(lens.group), key=lens.order) if lens.group is not None else []
    columns = (Column("Eligible"), Column("Enrolled"), Column(f"Active in the last {ACTIVE_DAYS} days"))
    return _build(
        "uptake",
        "Uptake",
        DIMENSIONS[lens.dimension],
        columns,
        lens,
        rows,
        total,
        lambda row: [Figure(row.get(name), row.get(name)) for name in ("eligible", "enrolled", "active")],
    )


@dataclasses.dataclass(frozen=True)
class _Counts:
    grp: Any
    counts: dict[str, int]

    def get(self, name: str) -> int:
        return self.counts.get(name, 0)


def _value(lens: _Lens, unit: str, members: _MemberFigures) -> Table:
    """Value issued, redeemed (used), expired and unclaimed (still in lots)."""
    rows, total = members

    def figures(row: Members) -> list[Figure]:
        issued, expired = row.figure("issued_minor"), row.figure("expired_minor")
        unclaimed = row.figure("unclaimed_minor")
        return [
            Figure(issued, row.figure("issued_people")),
            Figure(issued - expired - unclaimed, row.figure("spent_people")),
            Figure(expired, row.figure("expired_people")),
            Figure(unclaimed, row.figure("people")),
        ]

    columns = tuple(Column(heading, unit) for heading in ("Issued", "Redeemed", "Expired", "Unclaimed"))
    return _build(
        "value",
        "Value issued and where it went",
        DIMENSIONS[lens.dimension],
        columns,
        lens,
        rows,
        total,
        figures,
    )


def _first_spend(lens: _Lens, members: _MemberFigures) -> Table:
    """How many people have spent, and the median whole days from their first issue to their first spend."""
    groups = [_Histogram(group.grp, group.histogram()) for group in members[0] if group.days]
    total = _Histogram(None, members[1].histogram())
    shown_total, shown_parts = _columns_suppressed([total.people()], [[group.people()] for group in groups])

    def with_median(histogram_row: _Histogram, people: Shown) -> tuple[Shown, Shown]:
        median = suppress_figures([Figure(histogram_row.median(), histogram_row.people().people)])[0]
        return people, median if not people.suppressed else Shown(None, None)

    body = tuple(
        Row(lens.label(group), with_median(group, cells[0]), lens.decile(group))
        for group, cells in zip(groups, shown_parts, strict=True)
    )
    total_row = Row(ALL_ROW, with_median(total, shown_total[0]))
    columns = (Column("People who have spent"), Column("Median days from first issue to first spend"))
    title = "How soon people first spend"
    if not body:
        return Table("first-spend", title, DIMENSIONS[lens.dimension], columns, (total_row,))
    return Table("first-spend", title, DIMENSIONS[lens.dimension], columns, body, total_row)


@dataclasses.dataclass(frozen=True)
class _Histogram:
    grp: Any
    counts: list[tuple[int, int]]

    def people(self) -> Figure:
        total = sum(people for _, people in self.counts)
        return Figure(total, total)

    def median(self) -> int:
        """The median (lower middle) of whole days, from (days, people) pairs."""
        ordered = sorted(self.counts)
        total = sum(people for _, people in ordered)
        seen = 0
        for days, people in ordered:
            seen += people
            if seen * 2 >= total:
                return days
        return 0


def _patterns(
    uow: UnitOfWork, scheme_id: str, unit: str, zone: zoneinfo.ZoneInfo, now: dt.datetime
) -> list[Table]:
    """Redemptions per outlet per week, by hour of the day and by day of the week (council's clock)."""
    first, last = uow.insight.redemption_span(scheme_id)
    offsets = clock_offsets(zone, first or now, last or now)
    buckets = redemption_buckets(uow.insight.redemptions(scheme_id, offsets))
    overall = buckets.get("all", [])
    total = overall[0] if overall else None

    def timed(key: str, title: str, heading: str, labels: Sequence[str], bucket: str) -> Table:
        found = {row.bucket: row for row in buckets.get(bucket, [])}
        parts = [_redemption_figures(found.get(index)) for index in range(len(labels))]
        shown_total, shown_parts = _columns_suppressed(_redemption_figures(total), parts)
        rows = tuple(Row(label, tuple(cells)) for label, cells in zip(labels, shown_parts, strict=True))
        columns = (Column("Redemptions"), Column("Value", unit))
        return Table(key, title, heading, columns, rows, Row("All redemptions", tuple(shown_total)))

    return [
        _outlet_weeks(uow, buckets),
        timed("hours", "Redemptions by time of day", "Hour", HOUR_LABELS, "hour"),
        timed("weekdays", "Redemptions by day of the week", "Day", WEEKDAY_LABELS, "weekday"),
    ]


def _redemption_figures(row: Any) -> list[Figure]:
    """(redemptions, value) of a bucket, each resting on the bucket's distinct people."""
    if row is None:
        return [Figure(0, 0), Figure(0, 0)]
    people = int(row.people)
    return [Figure(int(row.redemptions), people), Figure(int(row.value_minor), people)]


def _outlet_weeks(uow: UnitOfWork, buckets: dict[str, list[Redemptions]]) -> Table:
    """Redemptions per outlet per week: each week's total and its outlets, suppressed as a total and parts."""
    weeks = {int(row.bucket or 0): row for row in buckets.get("week", [])}
    cells: dict[tuple[int, str], Any] = {}
    for row in buckets.get("week_outlet", []):
        cells[(int(row.bucket or 0), str(row.outlet_id))] = row
    outlet_ids = sorted({outlet for _, outlet in cells})
    names = {outlet: (uow.registry.outlet(outlet) or {}).get("name", outlet) for outlet in outlet_ids}
    rows = []
    for week in sorted(weeks, reverse=True)[:MAX_WEEKS_SHOWN]:
        total = _redemption_figures(weeks[week])[0]
        parts = [_redemption_figures(cells.get((week, outlet)))[0] for outlet in outlet_ids]
        shown_total, shown_parts = suppress_total_and_parts(total, parts)
        rows.append(Row(f"Week beginning {week_start(week):%-d %B %Y}", (*shown_parts, shown_total)))
    columns = (*(Column(names[outlet]) for outlet in outlet_ids), Column("All outlets"))
    return Table("outlet-weeks", "Redemptions per outlet per week", "Week", columns, tuple(rows))
