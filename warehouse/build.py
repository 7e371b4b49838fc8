"""``build_warehouse``: load core → build marts → check → publish, in one call.

The same four steps the Airflow DAG runs as tasks; a lock file keeps two builders (a
manual ``trackit build`` and a scheduled run) from working on the same data dir at once.
Under that lock a build first removes what a killed build left behind: temporary copies of
the warehouse in ``DATA/`` and of the publication marker. DuckDB's errors an operator can
act on (a full disk, a damaged builder's database) become one-line ``TrackitError``s.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from lake.errors import TrackitError
from lake.layout import DataLayout
from lake.locks import hold_lock
from lake.storage import remove_stale_temps
from marts import Mart
from warehouse.checks import CheckSummary, check_warehouse
from warehouse.config import WarehouseConfig
from warehouse.database import builder_path
from warehouse.errors import translated
from warehouse.load import LoadSummary, load_core
from warehouse.marts import MartSummary, build_marts
from warehouse.publish import PublishSummary, marker_path, publish_warehouse

log = logging.getLogger(__name__)


@dataclass
class BuildSummary:
    """What a whole build did (printed by ``trackit build``, logged by the DAG)."""

    load: LoadSummary
    marts: MartSummary
    checks: CheckSummary
    publish: PublishSummary
    seconds: float
    data_interval: tuple[str, str] | None = None
    temps_removed: int = 0

    def lines(self) -> list[str]:
        """A human-readable account, one fact per line."""
        out = []
        if self.temps_removed:
            out.append(f"removed {self.temps_removed} temporary file(s) of an unfinished build")
        if self.data_interval:
            out.append(f"data interval: {self.data_interval[0]} → {self.data_interval[1]}")
        if self.load.nothing_new:
            out.append("load: no new core-lake files")
        else:
            out.append(f"load {self.load.load_id}: {self.load.files} files")
            for table, rows in sorted(self.load.rows_read.items()):
                written = self.load.rows_written.get(table, 0)
                out.append(f"  core.{table}: {rows} rows read, {written} new or replaced")
        if self.marts.load_id is None:
            out.append("marts: up to date")
        else:
            out.append(f"marts: {self.marts.vehicles_rebuilt} vehicles rebuilt from "
                       f"{self.marts.records_read} records in {self.marts.seconds:.2f}s")
            for mart, rows in self.marts.rows_written.items():
                out.append(f"  marts.{mart}: {rows} rows (re)built")
        validated = sum(self.checks.rows_validated.values())
        out.append(f"checks: passed ({validated} mart rows validated, "
                   f"{self.checks.reconciliations} reconciliations)")
        if self.publish.repaired:
            out.append(f"the published {self.publish.path} {self.publish.repaired}: "
                       "published again")
        if self.publish.published:
            when = f"{self.publish.published_at:%Y-%m-%d %H:%M:%S}"
            out.append(f"published {self.publish.path} at {when} UTC "
                       f"({self.publish.size_bytes / 1e6:.1f} MB, {self.publish.seconds:.2f}s)")
        else:
            out.append(f"publish: {self.publish.path} already up to date")
        out.append(f"build took {self.seconds:.2f}s")
        return out


@contextmanager
def build_lock(data_dir: Path, *, wait_s: float = 600.0) -> Iterator[int]:
    """Hold the data dir's build lock (waits up to ``wait_s`` for another build).

    Once it holds the lock, it removes the temporary files of a killed build and yields
    how many there were.
    """
    path = builder_path(data_dir).with_name("build.lock")
    path.parent.mkdir(parents=True, exist_ok=True)
    busy = f"another warehouse build holds {path}; try again later"
    with hold_lock(path, wait_s=wait_s, busy_message=busy):
        yield remove_build_leftovers(data_dir)


def remove_build_leftovers(data_dir: Path) -> int:
    """Delete the temporary files a killed build left (call under the build lock)."""
    layout = DataLayout(data_dir)
    removed = remove_stale_temps(layout.root, suffix=layout.warehouse.name)
    removed += remove_stale_temps(marker_path(data_dir).parent, suffix=marker_path(data_dir).name)
    if removed:
        log.warning("build: removed %d temporary file(s) left by an unfinished build", removed)
    return removed


def build_warehouse(
    data_dir: Path,
    *,
    config: WarehouseConfig | None = None,
    data_interval: tuple[str, str] | None = None,
    marts: Mapping[str, Mart] | None = None,
) -> BuildSummary:
    """Load new core data, rebuild the marts around it, check them and publish.

    ``marts``: the mart declarations to build (default: every mart of ``marts/``).
    """
    if not data_dir.is_dir():
        raise TrackitError(f"data directory {data_dir} does not exist")
    config = config or WarehouseConfig()
    started = time.perf_counter()
    with build_lock(data_dir) as removed, translated(builder_path(data_dir)):
        load = load_core(data_dir)
        built = build_marts(data_dir, config, marts)
        checks = check_warehouse(data_dir, config, marts)
        publish = publish_warehouse(data_dir)
    return BuildSummary(load, built, checks, publish, time.perf_counter() - started,
                        data_interval, removed)
