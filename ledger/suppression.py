"""Small-number suppression for published figures: no figure built from fewer than 10 people is shown,
and none can be worked out by taking the visible parts of a total away from it (secondary suppression)."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

# Figures resting on fewer people than this are withheld, as UK public-sector statistics do.
MINIMUM_PEOPLE = 10
SUPPRESSED_TEXT = "fewer than 10"


@dataclasses.dataclass(frozen=True)
class Figure:
    """A number to publish and how many distinct people it was built from."""

    value: int
    people: int


@dataclasses.dataclass(frozen=True)
class Shown:
    """A figure after suppression: its value, or None when it is withheld."""

    value: int | None
    people: int | None

    @property
    def suppressed(self) -> bool:
        """True when the figure is withheld."""
        return self.value is None


def primary(figure: Figure) -> bool:
    """True when a figure rests on too few people to be shown on its own account."""
    assert figure.people >= 0, "a count of people is never negative"
    return figure.people < MINIMUM_PEOPLE


def suppress_total_and_parts(total: Figure, parts: Sequence[Figure]) -> tuple[Shown, list[Shown]]:
    """Suppress small figures in a total and its parts so that no hidden part can be recovered by
    differencing (total minus the visible parts): while the hidden parts together rest on 1 to 9 people
    (always so when exactly one small part is hidden), the next smallest visible part is hidden too, or the
    total when no part is left to hide."""
    hide_total = primary(total)
    hidden = [primary(part) for part in parts]
    # A hidden total must not be rebuilt by adding up its parts: hide one of them too.
    if hide_total and hidden and not any(hidden):
        hidden[_smallest_visible(parts, hidden)] = True
    # Hidden parts resting on nobody at all give nobody away, however they are differenced.
    while not hide_total and 0 < _hidden_people(parts, hidden) < MINIMUM_PEOPLE:
        if all(hidden):
            hide_total = True
        else:
            hidden[_smallest_visible(parts, hidden)] = True
    shown_total = _shown(total, hide_total)
    return shown_total, [_shown(part, flag) for part, flag in zip(parts, hidden, strict=True)]


def _hidden_people(parts: Sequence[Figure], hidden: Sequence[bool]) -> int:
    """How many people the hidden parts rest on together (what differencing would reveal about)."""
    return sum(part.people for part, flag in zip(parts, hidden, strict=True) if flag)


def suppress_figures(figures: Sequence[Figure]) -> list[Shown]:
    """Primary suppression only, for figures that are not parts of a published total (a median)."""
    return [_shown(figure, primary(figure)) for figure in figures]


def _smallest_visible(parts: Sequence[Figure], hidden: Sequence[bool]) -> int:
    """The index of the visible part built from the fewest people (then the smallest value)."""
    candidates = [index for index, flag in enumerate(hidden) if not flag]
    assert candidates, "there is a visible part to hide"
    return min(candidates, key=lambda index: (parts[index].people, abs(parts[index].value), index))


def _shown(figure: Figure, hide: bool) -> Shown:
    return Shown(None, None) if hide else Shown(figure.value, figure.people)


def as_text(shown: Shown, format_value: object = None) -> str:
    """The figure as published: its number, or "fewer than 10"."""
    if shown.value is None:
        return SUPPRESSED_TEXT
    if callable(format_value):
        return str(format_value(shown.value))
    return f"{shown.value:,}"
