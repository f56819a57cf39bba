"""One injectable clock so expiry, caps, windows and checkpoints are testable (freezegun patches it)."""

from __future__ import annotations

import datetime as dt
from typing import Protocol


class Clock(Protocol):
    """Anything that tells the current UTC time."""

    def now(self) -> dt.datetime:
        """The current time, timezone-aware UTC."""
        ...


class SystemClock:
    """The wall clock, in UTC."""

    def now(self) -> dt.datetime:
        """The current time, timezone-aware UTC."""
        return dt.datetime.now(dt.UTC)


class FixedClock:
    """A clock that stands still until moved; for tests and deterministic jobs."""

    def __init__(self, at: dt.datetime) -> None:
        self.at = as_utc(at)

    def now(self) -> dt.datetime:
        """The fixed instant."""
        return self.at

    def advance(self, delta: dt.timedelta) -> None:
        """Move the clock forward."""
        self.at += delta


def as_utc(value: dt.datetime) -> dt.datetime:
    """Return a timezone-aware UTC datetime; naive values are taken to be UTC already."""
    if value.tzinfo is None:
        return value.replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC)


def rfc3339(value: dt.datetime) -> str:
    """Format as RFC 3339 UTC with microseconds and a Z."""
    return as_utc(value).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_rfc3339(text: str) -> dt.datetime:
    """Parse an RFC 3339 timestamp (a trailing Z allowed) into aware UTC."""
    return as_utc(dt.datetime.fromisoformat(text.replace("Z", "+00:00")))
