"""The council's calendar for the insight pages: age bands on a day, eligibility as birth dates, the
clock's offsets from UTC over a span (so the database can count by local hour and weekday), week labels."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from typing import Any

from ledger.rules import Eligibility

# Age bands, youngest first: (label, the youngest age in the band).
AGE_BANDS = (("under 13", 0), ("13 to 19", 13), ("20 to 34", 20), ("35 to 64", 35), ("65 and over", 65))
HOUR_LABELS = tuple(f"{hour:02d}:00 to {(hour + 1) % 24:02d}:00" for hour in range(24))
WEEKDAY_LABELS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
FIRST_MONDAY = dt.date(1970, 1, 5)


def birthday_cutoff(today: dt.date, age: int) -> str:
    """The latest birth date (YYYY-MM-DD) of someone who is `age` or older today."""
    try:
        return today.replace(year=today.year - age).isoformat()
    except ValueError:  # 29 February in a year without one: they turn `age` on 1 March
        return today.replace(year=today.year - age, day=28).isoformat()


def age_cutoffs(today: dt.date) -> tuple[list[tuple[str, str]], str]:
    """(label of those born after the cutoff, cutoff) for every band but the oldest; the oldest's label."""
    cutoffs = [
        (label, birthday_cutoff(today, AGE_BANDS[index + 1][1]))
        for index, (label, _) in enumerate(AGE_BANDS[:-1])
    ]
    return cutoffs, AGE_BANDS[-1][0]


def eligibility_band(eligibility: Eligibility, today: dt.date) -> dict[str, Any]:
    """The scheme's eligible age band and wards as birth-date bounds the database can compare."""
    band: dict[str, Any] = {"wards": list(eligibility.wards)}
    if eligibility.min_age is not None:
        band["born_on_or_before"] = birthday_cutoff(today, eligibility.min_age)
    if eligibility.max_age is not None:
        band["born_after"] = birthday_cutoff(today, eligibility.max_age + 1)
    return band


def _offset_seconds(zone: zoneinfo.ZoneInfo, at: dt.datetime) -> int:
    offset = at.astimezone(zone).utcoffset()
    assert offset is not None, "a ZoneInfo always knows its offset"
    return int(offset.total_seconds())


def clock_offsets(
    zone: zoneinfo.ZoneInfo, first: dt.datetime, last: dt.datetime
) -> list[tuple[dt.datetime, int]]:
    """(UTC instant it applies from, seconds east of UTC) for each offset in force from first to last."""
    start = first.astimezone(dt.UTC).replace(minute=0, second=0, microsecond=0)
    offsets = [(start, _offset_seconds(zone, start))]
    day = start
    while day < last:
        following = day + dt.timedelta(days=1)
        if _offset_seconds(zone, following) != offsets[-1][1]:
            # Offsets change on the hour (UTC) in every zone a UK council uses; find that hour.
            hour = day
            while _offset_seconds(zone, hour) == offsets[-1][1]:
                hour += dt.timedelta(hours=1)
            offsets.append((hour, _offset_seconds(zone, hour)))
        day = following
    return offsets


def week_start(week_index: int) -> dt.date:
    """The Monday that begins week `week_index` counted from 5 January 1970."""
    return FIRST_MONDAY + dt.timedelta(weeks=week_index)
