"""The insight figures kept for a few minutes: reused while fresh, worked out again after, apart by key."""

from __future__ import annotations

import datetime as dt

from ledger.usecases.insight_cache import FiguresCache

NOON = dt.datetime(2026, 12, 1, 12, 0, tzinfo=dt.UTC)


def test_figures_are_reused_while_fresh_and_worked_out_again_once_stale() -> None:
    cache: FiguresCache[int] = FiguresCache(fresh_seconds=300)
    runs: list[int] = []

    def work() -> int:
        runs.append(1)
        return len(runs)

    first = cache.get("leisure", NOON, work)
    again = cache.get("leisure", NOON + dt.timedelta(seconds=299), work)
    later = cache.get("leisure", NOON + dt.timedelta(seconds=300), work)

    assert (first.value, again.value, later.value) == (1, 1, 2)
    assert again.computed_at == NOON and later.computed_at == NOON + dt.timedelta(seconds=300)


def test_another_key_or_a_clock_set_back_works_the_figures_out_afresh() -> None:
    cache: FiguresCache[str] = FiguresCache(fresh_seconds=300, most=1)
    cache.get(("db", "leisure", 1), NOON, lambda: "version 1")
    assert cache.get(("db", "leisure", 2), NOON, lambda: "version 2").value == "version 2"
    assert cache.get(("db", "leisure", 1), NOON, lambda: "again").value == "again"  # only one kept
    assert (
        cache.get(("db", "leisure", 1), NOON - dt.timedelta(seconds=1), lambda: "earlier").value == "earlier"
    )
