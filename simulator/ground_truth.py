"""What really happened in a simulation run, kept so tests and the demo can check the marts.

The fleet model records trips, I/O changes, device events, driver texts, forms, services,
silent periods, idle periods, overspeed episodes and place visits as it plans them; the
command desk records the messages sent to drivers and their status times; the server counts
the frames and the faults it injected. ``snapshot`` returns everything that happened up to a
simulated time, as JSON-ready data; ``write`` also writes the fleet's places file next to it.

Definitions, shared with the warehouse:

* idle: ignition on and speed at most 5 km/h, wherever it happens;
* overspeed: consecutive records sent above ``OVERSPEED_KMH`` form one episode, from the
  first record above to the first back at or under it (or the last above, if the records
  stop there);
* silence: a device that sends nothing for more than ``SILENT_AFTER_S``;
* place visit: a stop (between two trips) at a named place.
"""

from __future__ import annotations

import functools
import os
import tempfile
from collections import Counter, defaultdict
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

from protocol.messages import MessageStatus
from simulator.places import PLACES_FILE, Place, write_places_csv
from simulator.timefmt import LOCAL_ZONE, iso_utc

OVERSPEED_KMH = 120
SILENT_AFTER_S = 3600.0

_TIME_KEYS = frozenset({
    "start", "end", "motion_start", "arrival", "tmx", "emitted", "sent_at", "from", "until",
    "started", "detected", "arrived_at", "left_at",
})


class GroundTruth:
    """An append-only log of simulated facts, each a dict whose times are epoch seconds."""

    def __init__(self, seed: int, start: float) -> None:
        self.seed = seed
        self.start = start
        self.trips: list[dict[str, Any]] = []
        self.io_changes: list[dict[str, Any]] = []
        self.device_events: list[dict[str, Any]] = []
        self.driver_texts: list[dict[str, Any]] = []
        self.forms: list[dict[str, Any]] = []
        self.services: list[dict[str, Any]] = []
        self.silent_periods: list[dict[str, Any]] = []
        self.idle_periods: list[tuple[int, float, float]] = []
        """(vid, from, until) of each stretch with the ignition on and the vehicle standing."""
        self.overspeed_episodes: list[dict[str, Any]] = []
        """vid, uid, start, end (None while open) and the (tmx, speed) of the records above."""
        self.place_visits: list[dict[str, Any]] = []
        self.places: tuple[Place, ...] = ()
        self._places_written: Path | None = None
        self.vehicles: list[dict[str, Any]] = []
        self.sent_messages: dict[str, dict[str, Any]] = {}
        self.frames_sent: Counter[str] = Counter()
        self.faults: Counter[str] = Counter()
        self.connections: Counter[str] = Counter()

    def snapshot(self, now: float) -> dict[str, Any]:
        """Everything that happened up to simulated time ``now``; times as ISO-8601 UTC.

        A trip still running at ``now`` is listed with ``open: true`` and no end fields.
        """
        trips = []
        for trip in self.trips:
            if trip["start"] > now:
                continue
            if trip["end"] > now:
                trip = {key: value for key, value in trip.items()
                        if key in ("vid", "uid", "start", "start_lat", "start_lon",
                                   "odometer_start_m", "detection", "driver_card")}
                trip["open"] = True
            else:
                trip = {**trip, "open": False}
            trips.append(trip)

        def until_now(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
            return [item for item in items if item["tmx"] <= now]

        messages = []
        for message in self.sent_messages.values():
            reached = {txs: at for txs, at in message["statuses"].items() if at <= now}
            final = MessageStatus(max(reached, key=reached.__getitem__)).label if reached else None
            messages.append({**message, "statuses": {str(k): v for k, v in reached.items()},
                             "final_status": final})
        data = {
            "seed": self.seed,
            "start": self.start,
            "now": now,
            "vehicles": self.vehicles,
            "trips": trips,
            "io_changes": until_now(self.io_changes),
            "device_events": until_now(self.device_events),
            "driver_texts": until_now(self.driver_texts),
            "forms": until_now(self.forms),
            "services": until_now(self.services),
            "silent_periods": [p for p in self.silent_periods if p["from"] <= now],
            "overspeed_kmh": OVERSPEED_KMH,
            "silent_after_s": SILENT_AFTER_S,
            "idle": self._idle(now),
            "overspeed_episodes": self._overspeed(now),
            "silences": self._silences(now),
            "places": [{"name": p.name, "kind": p.kind, "lat": p.lat, "lon": p.lon,
                        "radius_m": p.radius_m} for p in self.places],
            "place_visits": self._visits(now),
            "driver_days": _driver_days(trips),
            "messages_to_drivers": messages,
            "frames_sent": dict(sorted(self.frames_sent.items())),
            "faults_injected": dict(sorted(self.faults.items())),
            "connections": dict(sorted(self.connections.items())),
        }
        return _with_iso_times(data)

    def _idle(self, now: float) -> list[dict[str, Any]]:
        """Idle seconds per vehicle, in all and per Lisbon day."""
        total: dict[int, float] = {v["vid"]: 0.0 for v in self.vehicles}
        days: dict[int, dict[str, float]] = defaultdict(lambda: defaultdict(float))
        for vid, start, end in self.idle_periods:
            if start >= now:
                continue
            end = min(end, now)
            total[vid] += end - start
            while start < end:
                day, midnight = _local_day(start)
                cut = min(end, midnight)
                days[vid][day] += cut - start
                start = cut
        return [{"vid": vid, "idle_s": round(seconds, 1),
                 "days": {day: round(s, 1) for day, s in sorted(days[vid].items())}}
                for vid, seconds in total.items()]

    def _overspeed(self, now: float) -> list[dict[str, Any]]:
        episodes = []
        for episode in self.overspeed_episodes:
            if episode["start"] > now:
                continue
            above = [(tmx, speed) for tmx, speed in episode["records"] if tmx <= now]
            closed = episode["end"] is not None and episode["end"] <= now
            episodes.append({
                "vid": episode["vid"], "uid": episode["uid"], "start": episode["start"],
                "end": episode["end"] if closed else above[-1][0],
                "max_speed_kmh": max(speed for _, speed in above),
                "records_above": len(above), "open": not closed,
            })
        return episodes

    def _silences(self, now: float) -> list[dict[str, Any]]:
        silences = []
        for period in self.silent_periods:
            if min(period["until"], now) - period["from"] <= SILENT_AFTER_S:
                continue
            still = period["until"] > now
            silences.append({
                "vid": period["vid"], "uid": period["uid"], "from": period["from"],
                "until": None if still else period["until"], "still_silent": still,
                "seconds": round(min(period["until"], now) - period["from"], 1),
                "mid_trip": period["mid_trip"], "moving": period["moving"],
            })
        return silences

    def _visits(self, now: float) -> list[dict[str, Any]]:
        visits = []
        for visit in self.place_visits:
            if visit["arrived_at"] > now:
                continue
            left = visit["left_at"]
            still = left is None or left > now
            visits.append({**visit, "left_at": None if still else left, "open": still})
        return visits

    def write(self, path: Path, now: float) -> None:
        """Write ``snapshot(now)`` to ``path`` atomically (readers never see half a file).

        The first write also writes the places file (``places.csv``) in the same folder.
        """
        payload = orjson.dumps(self.snapshot(now), option=orjson.OPT_INDENT_2)
        path.parent.mkdir(parents=True, exist_ok=True)
        if self.places and self._places_written != path:
            write_places_csv(path.parent / PLACES_FILE, self.places)
            self._places_written = path
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(payload)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


@functools.lru_cache(maxsize=4096)
def _local_day_of_hour(hour_start: int) -> tuple[str, float]:
    local = datetime.fromtimestamp(hour_start, LOCAL_ZONE)
    following = datetime.combine(local.date() + timedelta(days=1), datetime.min.time(),
                                 LOCAL_ZONE)
    return local.date().isoformat(), following.timestamp()


def _local_day(t: float) -> tuple[str, float]:
    """The Lisbon date at ``t`` and the epoch time of the following local midnight."""
    return _local_day_of_hour(int(t) // 3600 * 3600)


def _driver_days(trips: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per driver card and Lisbon day (of the trip start), the vehicles driven and trips."""
    days: dict[tuple[str, str, int], int] = Counter()
    for trip in trips:
        if trip.get("driver_card"):
            day, _ = _local_day(trip["start"])
            days[(trip["driver_card"], day, trip["vid"])] += 1
    return [{"driver_card": card, "day": day, "vid": vid, "trips": count}
            for (card, day, vid), count in sorted(days.items())]


def _with_iso_times(value: Any, key: str | None = None) -> Any:
    """Copy of ``value`` with every epoch-seconds time field rendered as ISO-8601 UTC."""
    if isinstance(value, dict):
        if key == "statuses":
            return {k: iso_utc(v) for k, v in value.items()}
        return {k: _with_iso_times(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [_with_iso_times(v) for v in value]
    if key in _TIME_KEYS and isinstance(value, float | int) and not isinstance(value, bool):
        return iso_utc(value)
    return value
