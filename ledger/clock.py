"""One injectable clock so expiry, caps, windows and checkpoints are testable (freezegun patches it)."""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo
from typing import Protocol

from ledger.errors import ValidationFailed

# Calendar rules (per-day caps, weeks, monthly allowances, refund windows) follow the council's days.
DEFAULT_TIME_ZONE = "Europe/London"


def council_zone(name: str) -> zoneinfo.ZoneInfo:
    """The IANA time zone called `name` (e.g. Europe/London), or a clear error naming the setting."""
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as error:
        raise ValidationFailed(
            f"CLUBCARD_TIME_ZONE {name!r} is not a time zone name (use one like {DEFAULT_TIME_ZONE})"
        ) from error


class Clock(Protocol):
    """Anything that tells the current UTC time, and the council's time zone for its calendar."""

    @property
    def zone(self) -> zoneinfo.ZoneInfo:
        """The council's time zone: where its days, weeks and months begin."""
        ...

    def now(self) -> dt.datetime:
        """The current time, timezone-aware UTC."""
        ...


class SystemClock:
    """The wall clock, in UTC, for a council in `zone`."""

    def __init__(self, zone: str = DEFAULT_TIME_ZONE) -> None:
        self.zone = council_zone(zone)

    def now(self) -> dt.datetime:
        """The current time, timezone-aware UTC."""
        return dt.datetime.now(dt.UTC)


class FixedClock:
    """A clock that stands still until moved; for tests and deterministic jobs."""

    def __init__(self, at: dt.datetime, zone: str = DEFAULT_TIME_ZONE) -> None:
        self.at = as_utc(at)
        self.zone = council_zone(zone)

    def now(self) -> dt.datetime:
        """The fixed instant."""
        return self.at

    def advance(self, delta: dt.timedelta) -> None:
        """Move the clock forward."""
        self.at += delta


# RFC 3339 section 5.6 date-time, with at most microseconds: the offset is required, never guessed.
RFC3339_PATTERN = re.compile(r"\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d{1,6})?([Zz]|[+-]\d{2}:\d{2})")
RFC3339_EXAMPLE = "2026-11-01T09:00:00Z"


class InvalidInstant(ValidationFailed, ValueError):
    """Text that is not an RFC 3339 instant; a ValueError too, as datetime's own parsers raise."""


def as_utc(value: dt.datetime) -> dt.datetime:
    """Return a timezone-aware UTC datetime; naive values are taken to be UTC already."""
    if value.tzinfo is None:
        return value.replace(tzinfo=dt.UTC)
    try:
        return value.astimezone(dt.UTC)
    except OverflowError as error:
        # Only input gets here (9999-12-31T23:59:59-14:00 is in the year 10000 in UTC): refuse it.
        raise InvalidInstant(f"{value.isoformat()} falls outside the years 0001 to 9999 in UTC") from error


def rfc3339(value: dt.datetime) -> str:
    """Format as RFC 3339 UTC with microseconds and a Z."""
    # isoformat, not strftime: glibc's %Y writes the year 1 as "1", not "0001".
    return as_utc(value).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def parse_rfc3339(text: str) -> dt.datetime:
    """Parse an RFC 3339 timestamp with its offset into aware UTC; anything else is InvalidInstant."""
    shown = repr(text[:40]) if isinstance(text, str) else "that"
    if not isinstance(text, str) or not RFC3339_PATTERN.fullmatch(text):
        raise InvalidInstant(
            f"{shown} is not an RFC 3339 timestamp with a time zone, e.g. {RFC3339_EXAMPLE} "
            "(in a query string, write + as %2B)"
        )
    try:
        parsed = dt.datetime.fromisoformat(text.upper().replace("Z", "+00:00"))
    except ValueError as error:
        raise InvalidInstant(f"{shown} is not a real date and time") from error
    return as_utc(parsed)  # refuses an instant that is outside the calendar once in UTC
