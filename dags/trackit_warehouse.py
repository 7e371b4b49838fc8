"""Airflow DAG ``trackit_warehouse``: raw lake → the DuckLake warehouse, checked, kept tidy.

Every 15 minutes: ``transform`` (raw frames not transformed yet → core tables and the
quarantine, one DuckLake transaction per batch) → ``build`` (the marts recomputed around
the new data and checked, committed as one snapshot with the checks' verdict; a failed
check fails the run and commits nothing else) → ``maintain`` (merge small data files,
expire snapshots older than the retention, delete files no snapshot needs).

Every step is incremental and idempotent: it processes whatever the lake holds that was
not processed yet, so a rerun, a retry or a late run does the right thing. The run's data
interval is logged and returned by each task (it says which schedule slot a run belongs
to; the data itself is chosen by the ledgers, which is what makes late data work). For
marts fresh within a minute, run `trackit run` beside it (docs/warehouse.md).

The data directory is the ``data_dir`` param, else ``$TRACKIT_DATA``, else ``./data``
(``s3://bucket/prefix``: the raw lake and the warehouse's data files on object storage, the
local part under ``$TRACKIT_LOCAL``; the catalog ``$TRACKIT_CATALOG``, if set); the
local day of ``marts.vehicle_daily`` is ``$TRACKIT_TZ`` (default UTC); the snapshot
retention is ``$TRACKIT_SNAPSHOT_RETENTION`` (default 7d). Nothing heavy is imported when
Airflow parses this file: every import of the pipeline is inside a task.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from airflow.sdk import CronDataIntervalTimetable, Param, dag, task

log = logging.getLogger(__name__)

TaskResult = dict[str, Any]


def _data_dir(params: dict[str, Any] | None) -> Any:
    """The ``DataLayout`` of the ``data_dir`` param (a directory or ``s3://bucket/prefix``),
    else of ``TRACKIT_DATA`` / ``./data`` (``lake.layout.data_layout``)."""
    from lake.layout import data_layout

    return data_layout((params or {}).get("data_dir") or None).resolve()


def _layout_of(previous: TaskResult) -> Any:
    """The layout the transform task worked on: its local directory and its ``s3://``
    prefix, if any (the warehouse's data files go there too)."""
    from pathlib import Path

    from lake.layout import DataLayout, data_layout

    return DataLayout(Path(previous["data_dir"]), data_layout(previous["data"]).remote)


def _config() -> Any:
    import os

    from warehouse.config import WarehouseConfig

    return WarehouseConfig(timezone=os.environ.get("TRACKIT_TZ") or "UTC")


def _interval(start: datetime | None, end: datetime | None) -> list[str]:
    return [start.isoformat() if start else "", end.isoformat() if end else ""]


@dag(
    dag_id="trackit_warehouse",
    description="TRACKiT raw lake → DuckLake core tables and marts, one checked snapshot a run",
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
        """Raw lake → core tables and quarantine (only raw files not transformed yet)."""
        from transforms.pipeline import transform_lake

        layout = _data_dir(params)
        interval = _interval(data_interval_start, data_interval_end)
        log.info("transform %s for data interval %s → %s", layout, *interval)
        summary = transform_lake(layout)
        log.info("transform: %s", summary)
        return {"data_dir": str(layout.root), "data": layout.location, "data_interval": interval,
                "files": summary.files_processed, "frames": summary.frames,
                "loads": summary.loads}

    @task(retries=0)  # a failed check is a finding, not a transient error
    def build(previous: TaskResult) -> TaskResult:
        """Marts recomputed around the new rows and checked: one snapshot, or none."""
        from warehouse.build import build_warehouse

        summary = build_warehouse(_layout_of(previous), config=_config(),
                                  data_interval=tuple(previous["data_interval"]))
        for line in summary.lines():
            log.info("build: %s", line)
        return {**previous, "mart_rows": dict(summary.marts.rows_written),
                "snapshot": summary.snapshot}

    @task
    def maintain(previous: TaskResult) -> TaskResult:
        """Merge small data files, expire old snapshots, delete unneeded files."""
        from warehouse.maintenance import maintain_warehouse, retention_from_env

        summary = maintain_warehouse(_layout_of(previous),
                                     retention=retention_from_env())
        log.info("maintain: %s", summary)
        return {**previous, "maintenance": str(summary)}

    maintain(build(transform()))


trackit_warehouse()
