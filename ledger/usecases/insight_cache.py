"""The insight pages' figures, kept for a few minutes per process: every figure of a scheme's page is an
aggregate over all its postings (seconds at a million), and officers read trends, not the last minute, so a
page (and its CSV downloads) reuses figures worked out less than FRESH_SECONDS ago and says when they are
from. A new rule version or ward list is a new key, so those show at once."""

from __future__ import annotations

import collections
import dataclasses
import datetime as dt
import threading
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

T = TypeVar("T")
FRESH_SECONDS = 300
MAX_KEPT = 64  # schemes times groupings, per process: a limit on everything


@dataclasses.dataclass(frozen=True)
class Kept(Generic[T]):
    """Figures and when they were worked out."""

    value: T
    computed_at: dt.datetime


class FiguresCache(Generic[T]):
    """Figures by key, each reused until FRESH_SECONDS after it was worked out (thread-safe)."""

    def __init__(self, fresh_seconds: int = FRESH_SECONDS, most: int = MAX_KEPT) -> None:
        self.fresh = dt.timedelta(seconds=fresh_seconds)
        self.most = most
        self._kept: collections.OrderedDict[Hashable, Kept[T]] = collections.OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable, now: dt.datetime, compute: Callable[[], T]) -> Kept[T]:
        """The figures for `key`: kept ones still fresh at `now`, or new ones worked out now."""
        with self._lock:
            kept = self._kept.get(key)
        if kept is not None and kept.computed_at <= now < kept.computed_at + self.fresh:
            return kept
        made = Kept(compute(), now)
        with self._lock:
            self._kept[key] = made
            self._kept.move_to_end(key)
            while len(self._kept) > self.most:
                self._kept.popitem(last=False)
        return made

    def clear(self) -> None:
        """Forget everything kept."""
        with self._lock:
            self._kept.clear()
