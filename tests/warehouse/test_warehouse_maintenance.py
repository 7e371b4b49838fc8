"""Maintenance merges small files and expires old snapshots without changing any row."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pytest
from warehouse_cycles import CORE_COMPARED, MARTS_BUILT, fleet_rows, store_hour, table_contents

from lake.ducklake import open_warehouse
from lake.layout import DataLayout
from warehouse.build import build_warehouse
from warehouse.maintenance import RetentionError, maintain_warehouse, parse_retention

CYCLES = 20


def data_files(data: Path) -> int:
    return len(list(DataLayout(data).warehouse_data.rglob("*.parquet")))


def contents(data: Path) -> dict[str, list[tuple]]:
    with open_warehouse(data, read_only=True) as con:
        tables = [f"core.{t}" for t in CORE_COMPARED] + [f"marts.{m}" for m in MARTS_BUILT]
        return {t: table_contents(con, t) for t in tables}


@pytest.mark.timeout(1200)
def test_maintenance_merges_files_and_expires_old_snapshots_keeping_every_row(
        tmp_path: Path) -> None:
    rows = fleet_rows()
    snapshots: list[int] = []
    cut = datetime.now(UTC)
    for hour in range(CYCLES):
        store_hour(tmp_path, rows, hour)
        snapshots.append(build_warehouse(tmp_path, marts=MARTS_BUILT).snapshot or -1)
        if hour == CYCLES // 2 - 1:
            time.sleep(1.0)
            cut = datetime.now(UTC)
            time.sleep(1.0)
    old, recent = snapshots[2], snapshots[-3]
    with open_warehouse(tmp_path, read_only=True) as con:
        old_trips = con.execute(
            f"select count(*) from marts.trips at (version => {old})").fetchone()[0]
        recent_trips = con.execute(
            f"select count(*) from marts.trips at (version => {recent})").fetchone()[0]
    before = contents(tmp_path)
    files_before = data_files(tmp_path)

    retention = timedelta(seconds=int((datetime.now(UTC) - cut).total_seconds()))
    summary = maintain_warehouse(tmp_path, retention=retention, grace=timedelta(0))
    print(f"{CYCLES} cycles: {summary}")

    assert summary.files_before == files_before
    assert summary.files_after == data_files(tmp_path) < files_before
    assert summary.snapshots_expired >= CYCLES // 2 and summary.files_merged > 0
    assert summary.bytes_freed > 0
    assert contents(tmp_path) == before
    with open_warehouse(tmp_path, read_only=True) as con:
        assert con.execute(f"select count(*) from marts.trips at (version => {recent})"
                           ).fetchone()[0] == recent_trips
        with pytest.raises(duckdb.Error, match=rf"(?i)snapshot.*{old}|{old}.*snapshot"):
            con.execute(f"select count(*) from marts.trips at (version => {old})").fetchone()
    assert old_trips <= recent_trips

    again = maintain_warehouse(tmp_path, retention=retention, grace=timedelta(0))
    assert again.files_merged == 0 and again.files_after <= summary.files_after
    assert contents(tmp_path) == before


def test_retention_durations() -> None:
    assert parse_retention("7d") == timedelta(days=7)
    assert parse_retention("12h") == timedelta(hours=12)
    assert parse_retention(" 30m ") == timedelta(minutes=30)
    assert parse_retention("2w") == timedelta(weeks=2)
    for wrong in ("", "7", "d", "-1d", "1.5h", "7 days"):
        with pytest.raises(RetentionError, match="is not a duration"):
            parse_retention(wrong)


def test_trackit_maintain_reads_the_retention_option_and_env(tmp_path: Path) -> None:
    rows = fleet_rows()
    store_hour(tmp_path, rows, 0)
    build_warehouse(tmp_path, marts=MARTS_BUILT)
    argv = [sys.executable, "-m", "trackit", "maintain", "--data", str(tmp_path)]
    done = subprocess.run([*argv, "--retention", "12h"], capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    assert "snapshots older than 12h expired" in done.stdout
    env_done = subprocess.run(argv, capture_output=True, text=True, timeout=300,
                              env={**os.environ,
                                   "TRACKIT_SNAPSHOT_RETENTION": "3 weeks"})
    assert env_done.returncode == 1
    assert env_done.stderr.strip().splitlines() == [
        "trackit: error: TRACKIT_SNAPSHOT_RETENTION: snapshot retention '3 weeks' is not a "
        "duration: write a whole number and a unit, s, m, h, d or w (e.g. 7d or 12h)"]
