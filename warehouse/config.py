"""Every tunable of the warehouse in one place (trip rules, limits, the day's time zone).

The mart SQL receives these as named parameters (``$min_stop_s`` ...), so changing a
threshold never means editing SQL.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from zoneinfo import ZoneInfo

from lake.errors import TrackitError

SPEED_LIMIT_ENV = "TRACKIT_SPEED_LIMIT_KMH"
VEHICLE_SPEED_LIMITS_ENV = "TRACKIT_VEHICLE_SPEED_LIMITS"


class WarehouseConfigError(TrackitError):
    """A setting of the warehouse (from the environment or the caller) is not valid."""


def _speed_limit_from_env() -> float:
    text = os.environ.get(SPEED_LIMIT_ENV) or "120"
    try:
        return float(text)
    except ValueError:
        raise WarehouseConfigError(
            f"${SPEED_LIMIT_ENV} is {text!r}, not a speed in km/h: set it to a number "
            f"such as 120, or unset it") from None


def parse_vehicle_speed_limits(text: str) -> dict[int, float]:
    """``"17=90,23=100"`` → ``{17: 90.0, 23: 100.0}``; raises ``WarehouseConfigError``."""
    limits: dict[int, float] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        vid, sep, limit = item.partition("=")
        try:
            if not sep:
                raise ValueError(item)
            limits[int(vid)] = float(limit)
        except ValueError:
            raise WarehouseConfigError(
                f"vehicle speed limits {text!r}: {item!r} is not vid=km/h (write them as "
                f"'17=90,23=100', e.g. in ${VEHICLE_SPEED_LIMITS_ENV})") from None
    return limits


@dataclass(frozen=True)
class WarehouseConfig:
    """Thresholds of the trip rules and other knobs of the marts (defaults: docs/warehouse.md)."""

    ignition_io: int = 1
    """I/O number of the ignition; when its value is known (read at most ``max_gap_s``
    before a record), it decides motion."""
    min_speed_kmh: float = 5.0
    """Without ignition, a record faster than this is moving; with the ignition on, one at
    or below it is idle."""
    min_move_m: float = 200.0
    """Without ignition, a move of at least this from the previous record is moving."""
    min_stop_s: float = 300.0
    """A stop shorter than this does not split a trip (traffic lights)."""
    min_trip_m: float = 200.0
    """A trip shorter than this is dropped."""
    max_gap_s: float = 3600.0
    """A data gap longer than this ends the trip ..."""
    gap_min_odometer_m: float = 200.0
    """... unless the odometer grew at least this much across it ..."""
    gap_min_speed_kmh: float = 4.0
    """... at an average speed of at least this (then the trip continues: gap_inferred)."""
    max_odometer_speed_kmh: float = 300.0
    """An odometer step implying more than this is not sane: the trip uses GPS distance."""
    sparse_gap_s: float = 300.0
    """A trip with a step between records longer than this is flagged ``sparse``."""
    silent_after_s: float = 3600.0
    """A vehicle whose last record is this much older than the latest device time in the
    warehouse is silent: its unfinished trip is closed, flagged ``signal_lost``."""
    odometer_tolerance_m: float = 1.0
    """Reconciliation tolerance between a trip's distance and its odometer delta."""
    timezone: str = "UTC"
    """IANA zone of the local day of vehicle_daily."""
    speed_limit_kmh: float = field(default_factory=_speed_limit_from_env)
    """A record faster than this is above the limit (marts.overspeed); default
    ``$TRACKIT_SPEED_LIMIT_KMH`` or 120."""
    vehicle_speed_limits: str = field(
        default_factory=lambda: os.environ.get(VEHICLE_SPEED_LIMITS_ENV, ""))
    """Per-vehicle limits overriding ``speed_limit_kmh``: ``"vid=km/h,..."`` (``"17=90"``);
    default ``$TRACKIT_VEHICLE_SPEED_LIMITS`` or none."""
    place_cell_m: float = 150.0
    """Discovered places: closed stops outside every named place are grouped by grid cells
    of about this many metres a side ..."""
    place_min_vehicles: int = 2
    """... and a cell where at least this many vehicles stopped ..."""
    place_min_visits: int = 3
    """... at least this many times is a discovered place."""

    def __post_init__(self) -> None:
        ZoneInfo(self.timezone)  # raises ZoneInfoNotFoundError for an unknown zone
        parse_vehicle_speed_limits(self.vehicle_speed_limits)
        if not self.speed_limit_kmh > 0:
            raise WarehouseConfigError(
                f"speed limit {self.speed_limit_kmh!r} km/h: it must be above 0")

    def speed_limit_for(self, vid: int) -> float:
        """The speed limit of vehicle ``vid`` (its own, else ``speed_limit_kmh``)."""
        return parse_vehicle_speed_limits(self.vehicle_speed_limits).get(
            vid, self.speed_limit_kmh)

    def sql_parameters(self, names: set[str]) -> dict[str, object]:
        """The subset of this config a SQL statement refers to (DuckDB rejects extras)."""
        values = asdict(self)
        return {name: values[name] for name in names if name in values}
