"""Local days of a configurable IANA time zone, as half-open UTC windows.

DESIGN.md "Time": stored times are UTC, a "day" is a local day. A local day is not always
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
    """One local day: ``start`` (inclusive) to ``end`` (exclusive), both UTC."""

    day: date
    tz: str
    start: datetime
    end: datetime

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


def yesterday(tz: str = "UTC", now: datetime | None = None) -> date:
    """The local day before ``now`` (default: the current time) in ``tz``."""
    current = (now or datetime.now(UTC)).astimezone(zone(tz))
    return current.date() - timedelta(days=1)


def local_day_of(instant: datetime, tz: str = "UTC") -> date:
    """The local day in ``tz`` that contains ``instant`` (an aware datetime)."""
    return instant.astimezone(zone(tz)).date()
