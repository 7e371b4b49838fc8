"""Local days of a configurable IANA time zone, as half-open UTC windows.

Stored times are UTC, a "day" is a local day. A local day is not always
24 hours long (daylight saving), so windows are computed with ``zoneinfo`` rather than by
adding ``timedelta(days=1)`` to a UTC instant.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from lake.errors import TrackitError


def zone(tz: str) -> ZoneInfo:
    """The ``ZoneInfo`` named ``tz``; raises ``TrackitError`` for an unknown name."""
    try:
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise TrackitError(f"unknown time zone {tz!r} (expected an IANA name such as "
                           "'UTC' or 'Europe/Lisbon')") from exc


@dataclass(frozen=True)
class DayWindow:
    """Local days ``day`` to ``last_day`` (inclusive; one day when ``last_day`` is None):
    ``start`` (inclusive) to ``end`` (exclusive), both UTC."""

    day: date
    tz: str
    start: datetime
    end: datetime
    last_day: date | None = None

    @property
    def final_day(self) -> date:
        """The last local day of the window (``day`` for a one-day window)."""
        return self.last_day or self.day

    @property
    def is_one_day(self) -> bool:
        return self.final_day == self.day

    @property
    def label(self) -> str:
        """``2026-03-10`` or ``2026-03-10 to 2026-03-12``."""
        if self.is_one_day:
            return self.day.isoformat()
        return f"{self.day.isoformat()} to {self.final_day.isoformat()}"

    @property
    def hours(self) -> float:
        """Length of the day in hours (23 or 25 on daylight-saving changes)."""
        return (self.end - self.start).total_seconds() / 3600

    def local(self, instant: datetime) -> datetime:
        """``instant`` in the day's time zone."""
        return instant.astimezone(zone(self.tz))

    def hours_since_start(self, instant: datetime) -> float:
        """Hours from the start of the day to ``instant`` (negative before the day)."""
        return (instant - self.start).total_seconds() / 3600


def day_window(day: date, tz: str = "UTC") -> DayWindow:
    """The UTC window of the local ``day`` in ``tz``."""
    zi = zone(tz)
    start = datetime.combine(day, time(0), tzinfo=zi).astimezone(UTC)
    end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=zi).astimezone(UTC)
    return DayWindow(day=day, tz=tz, start=start, end=end)


def range_window(first: date, last: date, tz: str = "UTC") -> DayWindow:
    """The UTC window from the local midnight starting ``first`` to the one ending ``last``."""
    if last < first:
        raise TrackitError(f"the range ends ({last.isoformat()}) before it starts "
                           f"({first.isoformat()}): give --from before --to")
    zi = zone(tz)
    start = datetime.combine(first, time(0), tzinfo=zi).astimezone(UTC)
    end = datetime.combine(last + timedelta(days=1), time(0), tzinfo=zi).astimezone(UTC)
    return DayWindow(day=first, tz=tz, start=start, end=end,
                     last_day=None if last == first else last)


def yesterday(tz: str = "UTC", now: datetime | None = None) -> date:
    """The local day before ``now`` (default: the current time) in ``tz``."""
    current = (now or datetime.now(UTC)).astimezone(zone(tz))
    return current.date() - timedelta(days=1)


def local_day_of(instant: datetime, tz: str = "UTC") -> date:
    """The local day in ``tz`` that contains ``instant`` (an aware datetime)."""
    return instant.astimezone(zone(tz)).date()
