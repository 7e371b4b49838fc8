"""What really happened in a simulation run, kept so tests and the demo can check the marts.

The fleet model records trips, I/O changes, device events, driver texts, forms, services and
silent periods as it plans them; the command desk records the messages sent to drivers and
their status times; the server counts the frames and the faults it injected. ``snapshot``
returns everything that happened up to a simulated time, as JSON-ready data.
"""

from __future__ import annotations

import os
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

import orjson

from protocol.messages import MessageStatus
from simulator.timefmt import iso_utc

_TIME_KEYS = frozenset({
    "start", "end", "motion_start", "arrival", "tmx", "emitted", "sent_at", "from", "until",
    "started", "detected",
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
            "messages_to_drivers": messages,
            "frames_sent": dict(sorted(self.frames_sent.items())),
            "faults_injected": dict(sorted(self.faults.items())),
            "connections": dict(sorted(self.connections.items())),
        }
        return _with_iso_times(data)

    def write(self, path: Path, now: float) -> None:
        """Write ``snapshot(now)`` to ``path`` atomically (readers never see half a file)."""
        payload = orjson.dumps(self.snapshot(now), option=orjson.OPT_INDENT_2)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(payload)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


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
