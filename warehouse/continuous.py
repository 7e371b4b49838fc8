"""``run_continuously``: transform and build every few seconds, until told to stop.

One cycle is what the Airflow DAG does in one run, in one process that stays up:

1. ``transform_lake``: raw files not in the ledger → core tables (one snapshot a batch);
2. ``compact_raw_lake``: the small raw files of closed, transformed hours merged;
3. ``build_warehouse``: the marts around the new rows, checked, one snapshot;
4. every ``maintenance_every`` cycles, ``maintain_warehouse``: small data files merged,
   old snapshots expired and their files deleted, so the file count stays bounded.

Cycles start every ``interval_s`` seconds (at once when one took longer). A cycle that
fails is logged in one line and the next one starts after a backoff that doubles with
every failure in a row (``interval_s`` × 2, × 4, ... at most ``MAX_BACKOFF_S``); a failure
that cannot heal by waiting (the data directory gone, a damaged warehouse, a missing
DuckDB extension, permission denied) ends the loop by raising it. ``stop`` (set by
SIGTERM/SIGINT in ``trackit run``) ends the loop after the cycle under way.
"""

from __future__ import annotations

import errno
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb

from lake.ducklake import MissingExtensionError, open_warehouse
from lake.errors import TrackitError
from lake.layout import DataLayout, data_layout
from transforms.pipeline import transform_lake
from transforms.raw_compaction import DEFAULT_GRACE_S, compact_raw_lake
from warehouse.build import build_warehouse
from warehouse.config import WarehouseConfig
from warehouse.errors import WarehouseDamagedError, first_line
from warehouse.maintenance import DEFAULT_RETENTION, maintain_warehouse

DEFAULT_INTERVAL_S = 10.0
DEFAULT_MAINTENANCE_EVERY = 30
MAX_BACKOFF_S = 300.0

log = logging.getLogger(__name__)


class StopRunning(TrackitError):
    """A failure that waiting cannot heal: the loop ends, the command exits non-zero."""


@dataclass
class CycleResult:
    """What one cycle did (logged as one line)."""

    number: int
    files: int
    frames: int
    transform_s: float
    raw_files_compacted: int
    build_s: float
    snapshot: int | None
    lag_s: float | None
    maintenance: str | None = None
    seconds: float = 0.0

    def line(self) -> str:
        lag = f"{self.lag_s:.1f}s" if self.lag_s is not None else "n/a"
        parts = [
            f"cycle {self.number}: {self.frames} frames from {self.files} raw files "
            f"transformed in {self.transform_s:.1f}s",
            f"build {self.build_s:.1f}s"
            + (f" (snapshot {self.snapshot})" if self.snapshot is not None else " (no change)"),
            f"lag {lag}",
        ]
        if self.raw_files_compacted:
            parts.append(f"{self.raw_files_compacted} raw files compacted")
        if self.maintenance:
            parts.append(f"maintenance: {self.maintenance}")
        return ", ".join(parts)


class LagProbe:
    """Seconds from the newest record the marts show (``marts.vehicle_status``'s
    ``last_received_at``) to now, through one read-only connection kept open."""

    def __init__(self, data_dir: Path | DataLayout) -> None:
        self.data_dir = data_dir
        self._con: duckdb.DuckDBPyConnection | None = None

    def __call__(self, now: datetime | None = None) -> float | None:
        """The lag; ``None`` before the first build with records."""
        try:
            if self._con is None:
                self._con = open_warehouse(self.data_dir, read_only=True)
            newest = self._con.execute(
                "select max(last_received_at) from marts.vehicle_status").fetchone()[0]
        except (TrackitError, duckdb.CatalogException):  # no warehouse or no marts yet
            return None
        if newest is None:
            return None
        return ((now or datetime.now(UTC)) - newest).total_seconds()

    def close(self) -> None:
        if self._con is not None:
            self._con.close()
            self._con = None


def run_cycle(data_dir: Path | DataLayout, number: int, *, config: WarehouseConfig,
              maintain: bool = False, retention: timedelta = DEFAULT_RETENTION,
              grace_s: float = DEFAULT_GRACE_S, lag: LagProbe | None = None) -> CycleResult:
    """One cycle (see the module); raises what failed."""
    started = time.perf_counter()
    layout = data_layout(data_dir)
    data_dir = layout.root
    if not data_dir.is_dir():
        raise StopRunning(f"data directory {data_dir} does not exist (was it moved or "
                          "unmounted?): restore it and start `trackit run` again")
    transformed = transform_lake(layout)
    compacted = compact_raw_lake(layout, grace_s=grace_s)
    build_started = time.perf_counter()
    built = build_warehouse(layout, config=config)
    build_s = time.perf_counter() - build_started
    maintenance = str(maintain_warehouse(layout, retention=retention)) if maintain else None
    return CycleResult(
        number=number, files=transformed.files_processed, frames=transformed.frames,
        transform_s=transformed.seconds, raw_files_compacted=compacted.files_merged,
        build_s=build_s, snapshot=built.snapshot,
        lag_s=(lag or LagProbe(layout))(),
        maintenance=maintenance, seconds=time.perf_counter() - started)


def cannot_heal(exc: BaseException) -> bool:
    """Whether waiting and retrying cannot make ``exc`` go away."""
    if isinstance(exc, StopRunning | WarehouseDamagedError | MissingExtensionError):
        return True
    return isinstance(exc, OSError) and exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS)


def backoff_s(interval_s: float, failures: int) -> float:
    """The wait after the ``failures``-th failed cycle in a row."""
    return min(MAX_BACKOFF_S, max(interval_s, 1.0) * 2 ** min(failures, 20))


def run_continuously(
    data_dir: Path | DataLayout,
    *,
    interval_s: float = DEFAULT_INTERVAL_S,
    once: bool = False,
    config: WarehouseConfig | None = None,
    stop: threading.Event | None = None,
    maintenance_every: int = DEFAULT_MAINTENANCE_EVERY,
    retention: timedelta = DEFAULT_RETENTION,
    grace_s: float = DEFAULT_GRACE_S,
    on_cycle: Callable[[CycleResult], None] | None = None,
) -> int:
    """Run cycles until ``stop`` is set (or one, with ``once``); the cycles that succeeded.

    Raises what cannot heal (see :func:`cannot_heal`), and with ``once`` any failure.
    """
    config = config or WarehouseConfig()
    stop = stop or threading.Event()
    number = succeeded = failures = 0
    lag = LagProbe(data_layout(data_dir))
    try:
        while not stop.is_set():
            number += 1
            started = time.monotonic()
            maintain = maintenance_every > 0 and succeeded % maintenance_every == \
                maintenance_every - 1
            try:
                result = run_cycle(data_dir, number, config=config, maintain=maintain,
                                   retention=retention, grace_s=grace_s, lag=lag)
            except Exception as exc:
                if once or cannot_heal(exc):
                    raise
                failures += 1
                wait = backoff_s(interval_s, failures)
                log.warning("cycle %d failed (%d in a row): %s: %s; next try in %.0fs",
                            number, failures, type(exc).__name__, first_line(exc), wait)
                log.debug("cycle %d failed", number, exc_info=True)
                lag.close()
            else:
                succeeded += 1
                failures = 0
                log.info("%s", result.line())
                if on_cycle is not None:
                    on_cycle(result)
                wait = max(0.0, interval_s - (time.monotonic() - started))
            if once:
                break
            stop.wait(wait)
    finally:
        lag.close()
    return succeeded
