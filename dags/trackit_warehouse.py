"""Airflow DAG ``trackit_warehouse``: raw lake → core lake → DuckDB marts → checked → published.

Every 15 minutes: ``transform`` (raw → core lake + quarantine) → ``load_core`` (new core
files → DuckDB ``core``) → ``build_marts`` (marts recomputed around the new data) →
``check`` (pandera models + reconciliations; a failure fails the run and nothing is
published) → ``publish`` (atomic swap of ``DATA/warehouse.duckdb``).

Every step is incremental and idempotent: it processes whatever the lake holds that was
not processed yet, so a rerun, a retry or a late run does the right thing. The run's data
interval is logged and returned by each task (it says which schedule slot a run belongs
to; the data itself is chosen by the ledgers, which is what makes late data work).

The data directory is the ``data_dir`` param, else ``$TRACKIT_DATA``, else ``./data``; the
local day of ``marts.vehicle_daily`` is ``$TRACKIT_TZ`` (default UTC). Nothing heavy is
imported when Airflow parses this file: every import of the pipeline is inside a task.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from airflow.sdk import CronDataIntervalTimetable, Param, dag, task

log = logging.getLogger(__name__)

TaskResult = dict[str, Any]


def _data_dir(params: dict[str, Any] | None) -> Any:
    from pathlib import Path

    from lake.layout import default_data_dir

    chosen = (params or {}).get("data_dir")
    return (Path(chosen) if chosen else default_data_dir()).resolve()


def _config() -> Any:
    import os

    from warehouse.config import WarehouseConfig

    return WarehouseConfig(timezone=os.environ.get("TRACKIT_TZ") or "UTC")


def _interval(start: datetime | None, end: datetime | None) -> list[str]:
    return [start.isoformat() if start else "", end.isoformat() if end else ""]


@dag(
    dag_id="trackit_warehouse",
    description="TRACKiT core lake → DuckDB marts, checked and published atomically",
    # a data-interval timetable: each run covers the quarter hour before it
    schedule=CronDataIntervalTimetable("*/15 * * * *", timezone="UTC"),
    start_date=datetime(2026, 1, 1, tzinfo=UTC),
    catchup=False,
    max_active_runs=1,
    default_args={"retries": 2, "retry_delay": timedelta(minutes=1)},
    params={"data_dir": Param(None, type=["null", "string"],
                              description="data directory (default: $TRACKIT_DATA or ./data)")},
    tags=["trackit", "warehouse"],
)
def trackit_warehouse() -> None:
    @task
    def transform(params: dict[str, Any] | None = None,
                  data_interval_start: datetime | None = None,
                  data_interval_end: datetime | None = None) -> TaskResult:
        """Raw lake → core lake and quarantine (only raw files not transformed yet)."""
        from transforms.pipeline import transform_lake

        data_dir = _data_dir(params)
        interval = _interval(data_interval_start, data_interval_end)
        log.info("transform %s for data interval %s → %s", data_dir, *interval)
        summary = transform_lake(data_dir)
        log.info("transform: %s", summary)
        return {"data_dir": str(data_dir), "data_interval": interval,
                "files": summary.files_processed, "frames": summary.frames}

    @task
    def load_core(previous: TaskResult) -> TaskResult:
        """New core-lake files → the warehouse's core schema (deduplicated on each key)."""
        from pathlib import Path

        from warehouse.build import build_lock
        from warehouse.load import load_core as load

        data_dir = Path(previous["data_dir"])
        with build_lock(data_dir):
            summary = load(data_dir)
        log.info("load_core (data interval %s → %s): %s", *previous["data_interval"], summary)
        return {**previous, "load_id": summary.load_id, "rows": dict(summary.rows_read)}

    @task
    def build_marts(previous: TaskResult) -> TaskResult:
        """Recompute the marts around the newly loaded rows."""
        from pathlib import Path

        from warehouse.build import build_lock
        from warehouse.marts import build_marts as build

        data_dir = Path(previous["data_dir"])
        with build_lock(data_dir):
            summary = build(data_dir, _config())
        log.info("build_marts (data interval %s → %s): %s", *previous["data_interval"], summary)
        return {**previous, "mart_rows": dict(summary.rows_written)}

    @task(retries=0)  # a failed check is a finding, not a transient error
    def check(previous: TaskResult) -> TaskResult:
        """Pandera models and reconciliations; raising here fails the run before publish."""
        from pathlib import Path

        from warehouse.build import build_lock
        from warehouse.checks import check_warehouse

        data_dir = Path(previous["data_dir"])
        with build_lock(data_dir):
            summary = check_warehouse(data_dir, _config())
        log.info("check (data interval %s → %s): %s", *previous["data_interval"], summary)
        return {**previous, "rows_validated": sum(summary.rows_validated.values())}

    @task
    def publish(previous: TaskResult) -> TaskResult:
        """Swap the checked build in as DATA/warehouse.duckdb."""
        from pathlib import Path

        from warehouse.build import build_lock
        from warehouse.publish import publish_warehouse

        data_dir = Path(previous["data_dir"])
        with build_lock(data_dir):
            summary = publish_warehouse(data_dir)
        log.info("publish (data interval %s → %s): %s", *previous["data_interval"], summary)
        published_at = summary.published_at.isoformat() if summary.published_at else None
        return {**previous, "published": summary.published, "published_at": published_at}

    publish(check(build_marts(load_core(transform()))))


trackit_warehouse()
