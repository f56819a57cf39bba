"""Small-number suppression: no figure from fewer than 10 people, and none recoverable by differencing."""

from __future__ import annotations

import itertools

from ledger.suppression import (
    MINIMUM_PEOPLE,
    Figure,
    as_text,
    suppress_figures,
    suppress_total_and_parts,
)


def recoverable_parts(total_value: int | None, shown_parts: list[int | None]) -> list[int]:
    """Indexes of hidden parts an attacker can work out as the total minus the visible parts."""
    hidden = [index for index, value in enumerate(shown_parts) if value is None]
    if total_value is None or len(hidden) != 1:
        return []
    return hidden


def test_a_figure_from_fewer_than_ten_people_is_withheld_and_shown_as_fewer_than_ten() -> None:
    shown = suppress_figures([Figure(9, 9), Figure(10, 10)])
    assert [as_text(item) for item in shown] == ["fewer than 10", "10"]


def test_a_total_with_one_small_part_hides_the_next_smallest_part_as_well() -> None:
    total, parts = suppress_total_and_parts(
        Figure(61, 61), [Figure(30, 30), Figure(1, 1), Figure(12, 12), Figure(18, 18)]
    )
    assert total.value == 61
    assert [part.value for part in parts] == [30, None, None, 18]


def test_a_single_resident_cannot_be_singled_out_by_subtracting_the_visible_parts_from_the_total() -> None:
    # One resident in a ward of their own: the ward total and the other wards are published.
    total, parts = suppress_total_and_parts(Figure(41, 41), [Figure(20, 20), Figure(1, 1), Figure(20, 20)])
    visible = sum(part.value for part in parts if part.value is not None)
    assert parts[1].value is None
    assert total.value is not None and total.value - visible != 1
    assert recoverable_parts(total.value, [part.value for part in parts]) == []


def test_hiding_an_empty_part_beside_a_single_resident_does_not_leave_them_exposed() -> None:
    # Hidden parts of 1 and 0 people: total minus the visible part would still be that one resident.
    people = [30, 1, 0]
    total, parts = suppress_total_and_parts(Figure(31, 31), [Figure(n, n) for n in people])
    hidden_people = sum(n for n, part in zip(people, parts, strict=True) if part.value is None)
    assert parts[1].value is None
    assert total.value is None or hidden_people >= MINIMUM_PEOPLE


def test_a_total_with_one_part_that_is_small_is_hidden_too() -> None:
    total, parts = suppress_total_and_parts(Figure(5, 5), [Figure(5, 5)])
    assert (total.value, parts[0].value) == (None, None)


def test_a_total_is_hidden_when_hiding_every_part_still_leaves_fewer_than_ten_people_to_difference() -> None:
    total, parts = suppress_total_and_parts(Figure(14, 14), [Figure(2, 2), Figure(3, 3)])
    assert total.value is None
    assert [part.value for part in parts] == [None, None]


def test_two_hidden_parts_that_together_rest_on_ten_people_leave_the_total_shown() -> None:
    total, parts = suppress_total_and_parts(Figure(12, 12), [Figure(3, 3), Figure(9, 9)])
    assert total.value == 12
    assert [part.value for part in parts] == [None, None]


def test_a_small_total_is_not_rebuilt_by_adding_up_its_parts() -> None:
    total, parts = suppress_total_and_parts(Figure(8, 8), [])
    assert total.value is None
    total, parts = suppress_total_and_parts(Figure(9, 9), [Figure(10, 10), Figure(11, 11)])
    assert total.value is None
    assert any(part.value is None for part in parts)


def test_figures_from_ten_or_more_people_are_all_shown() -> None:
    total, parts = suppress_total_and_parts(Figure(500, 30), [Figure(200, 10), Figure(300, 20)])
    assert (total.value, [part.value for part in parts]) == (500, [200, 300])


def test_no_combination_of_small_wards_lets_anyone_be_recovered_by_differencing() -> None:
    for sizes in itertools.product([0, 1, 2, 9, 10, 15], repeat=3):
        people = list(sizes)
        total, parts = suppress_total_and_parts(
            Figure(sum(people), sum(people)), [Figure(n, n) for n in people]
        )
        shown = [part.value for part in parts]
        for index, value in enumerate(shown):
            assert value is None or people[index] >= MINIMUM_PEOPLE
        if total.value is not None:
            assert total.value >= MINIMUM_PEOPLE
            hidden = [people[index] for index, value in enumerate(shown) if value is None]
            # Whatever differencing reveals rests on nobody, or on 10 people or more together.
            assert sum(hidden) == 0 or sum(hidden) >= MINIMUM_PEOPLE


def test_empty_parts_are_withheld_but_do_not_force_a_busy_part_to_be_hidden() -> None:
    # Every redemption in one hour: the other hours rest on nobody, so differencing reveals no one.
    total, parts = suppress_total_and_parts(Figure(24, 24), [Figure(0, 0), Figure(24, 24), Figure(0, 0)])
    assert total.value == 24
    assert [part.value for part in parts] == [None, 24, None]
