"""Timestamps as the TRACKiT socket writes them.

Simulated times are float seconds since the Unix epoch (UTC). Device and server times go
out as ``2022-04-02T09:50:03.574Z``; the service event's inner ``tmx`` is a local time
without a zone (``2022-04-02T06:47:07.0``), as in the manual.
"""

from __future__ import annotations

import functools
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

LOCAL_ZONE = ZoneInfo("Europe/Lisbon")


@functools.lru_cache(maxsize=4096)
def _minute_prefix(minute: int) -> str:
    return datetime.fromtimestamp(minute * 60, UTC).strftime("%Y-%m-%dT%H:%M:")


def iso_utc(t: float) -> str:
    """``t`` as ``YYYY-MM-DDTHH:MM:SS.mmmZ`` (millisecond precision, truncated)."""
    ms_total = int(t * 1000)
    minute, ms_in_minute = divmod(ms_total, 60_000)
    seconds, ms = divmod(ms_in_minute, 1000)
    return f"{_minute_prefix(minute)}{seconds:02d}.{ms:03d}Z"


def iso_local_no_zone(t: float) -> str:
    """``t`` as a Lisbon wall-clock time without a zone, like the manual's service ``evt.tmx``."""
    local = datetime.fromtimestamp(int(t), LOCAL_ZONE)
    return local.strftime("%Y-%m-%dT%H:%M:%S") + ".0"


def parse_iso(text: str) -> float:
    """Seconds since the epoch of an ISO-8601 time; a time without a zone is taken as UTC."""
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.timestamp()


_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_start(text: str, now: float) -> float:
    """A start time: ISO-8601, or an offset from ``now`` such as ``-6h``, ``-90m``, ``-2d``."""
    if text.startswith("-") and text[-1:] in _UNITS:
        try:
            return float(int(now - float(text[1:-1]) * _UNITS[text[-1]]))
        except ValueError:
            raise ValueError(f"not a time offset: {text!r}") from None
    return parse_iso(text)
