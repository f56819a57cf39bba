"""Insight tables as people read them: a bar chart's geometry for server-rendered SVG (no script, no inline
style: presentation attributes only) and a CSV download, with suppressed figures as "fewer than 10"."""

from __future__ import annotations

import csv
import dataclasses
import io

from ledger.suppression import SUPPRESSED_TEXT, Shown
from ledger.units import format_amount
from ledger.usecases.insight import Column, Table

BAR_HEIGHT = 22
BAR_GAP = 8
LABEL_WIDTH = 230
PLOT_WIDTH = 360
VALUE_WIDTH = 130


@dataclasses.dataclass(frozen=True)
class Bar:
    """One horizontal bar: its label, the figure as text, and its geometry in SVG user units."""

    label: str
    text: str
    y: int
    width: int
    suppressed: bool


@dataclasses.dataclass(frozen=True)
class Chart:
    """A horizontal bar chart of a table's first column."""

    bars: tuple[Bar, ...]
    width: int
    height: int
    label_width: int
    value_x: int


def figure_text(shown: Shown, column: Column) -> str:
    """A figure as published: "fewer than 10", a count, or an amount in the column's unit."""
    if shown.value is None:
        return SUPPRESSED_TEXT
    if column.unit is not None:
        return format_amount(shown.value, column.unit)
    return f"{shown.value:,}"


def chart(table: Table, column_index: int = 0) -> Chart:
    """Bars for one column of the table's rows (not its total); a suppressed figure gets no bar."""
    column = table.columns[column_index]
    values = [row.cells[column_index].value or 0 for row in table.rows]
    largest = max([abs(value) for value in values] + [1])
    bars = []
    for index, row in enumerate(table.rows):
        shown = row.cells[column_index]
        width = 0 if shown.value is None else round(PLOT_WIDTH * abs(shown.value) / largest)
        bars.append(
            Bar(
                row.label, figure_text(shown, column), index * (BAR_HEIGHT + BAR_GAP), width, shown.suppressed
            )
        )
    height = max(len(bars) * (BAR_HEIGHT + BAR_GAP), BAR_HEIGHT)
    width = LABEL_WIDTH + PLOT_WIDTH + VALUE_WIDTH
    return Chart(tuple(bars), width, height, LABEL_WIDTH, LABEL_WIDTH + PLOT_WIDTH + 6)


def table_csv(table: Table, *, with_decile: bool) -> str:
    """The table as CSV: its rows then its total, suppressed figures as "fewer than 10"."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(
        [table.row_heading, *(["Deprivation decile"] if with_decile else []), *_headings(table.columns)]
    )
    rows = [*table.rows, *([table.total] if table.total is not None else [])]
    for row in rows:
        decile = [str(row.decile) if row.decile is not None else ""] if with_decile else []
        cells = [figure_text(cell, column) for cell, column in zip(row.cells, table.columns, strict=True)]
        writer.writerow([_safe(row.label), *decile, *cells])
    return out.getvalue()


def _headings(columns: tuple[Column, ...]) -> list[str]:
    return [_safe(column.heading) for column in columns]


def _safe(text: str) -> str:
    """Text a spreadsheet will not run as a formula (a ward or outlet name is typed by people)."""
    return "'" + text if text[:1] in ("=", "+", "-", "@") else text
