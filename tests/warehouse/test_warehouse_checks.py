"""Violated models or reconciliations fail the build, and nothing unchecked is published."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
from warehouse_handmade import at, drive, parked, write

from lake.layout import DataLayout
from warehouse.build import build_warehouse
from warehouse.checks import WarehouseCheckError
from warehouse.database import builder_path
from warehouse.publish import UncheckedBuildError, publish_warehouse


def a_trip(vid: int, start_s: float = 0) -> list[dict]:
    return drive(vid, start_s, 600, odometer0=0) + parked(vid, start_s + 630, 900, at_m=6000,
                                                          odometer=6000)


def two_trips(vid: int) -> list[dict]:
    second = drive(vid, 1530, 600, start_m=6000, odometer0=6000)
    return a_trip(vid) + second + parked(vid, 2160, 900, at_m=12000, odometer=12000)


def tamper(data_dir: Path, sql: str) -> None:
    """Simulate a bug in a mart: change the builder's rows behind its back."""
    con = duckdb.connect(str(builder_path(data_dir)))
    try:
        con.execute(sql)
    finally:
        con.close()


def published_trips(data_dir: Path) -> int:
    con = duckdb.connect(str(DataLayout(data_dir).warehouse), read_only=True)
    try:
        return con.execute("select count(*) from marts.trips").fetchone()[0]
    finally:
        con.close()


@pytest.mark.parametrize(
    ("bug", "message"),
    [
        ("update marts.trips set distance_km = distance_km + 1", "odometer delta"),
        ("update marts.trips set detection = 'telepathy'", "marts.trips model: detection"),
        ("delete from marts.message_latency", "every message status in core"),
        ("update marts.vehicle_daily set distance_km = 99", "vehicle_daily distance"),
        ("update marts.stops set idle_s = duration_s + 60", "idle_within_stop"),
    ],
)
def test_a_violated_check_fails_the_build_and_blocks_publish(
    tmp_path: Path, bug: str, message: str
) -> None:
    status = {"uid": 1, "message_id": "M1", "txs": 1, "status": "buffered",
              "received_at": at(5), "seq": 0}
    write(tmp_path, records=two_trips(1), message_status=[status])
    build_warehouse(tmp_path)
    assert published_trips(tmp_path) == 2
    tamper(tmp_path, bug)

    write(tmp_path, records=a_trip(2, start_s=3600),
          message_status=[{**status, "message_id": "M2", "received_at": at(1)}])
    with pytest.raises(WarehouseCheckError, match=message):
        build_warehouse(tmp_path)
    with pytest.raises(UncheckedBuildError):
        publish_warehouse(tmp_path)
    assert published_trips(tmp_path) == 2  # readers still see the last good build


def test_trackit_build_prints_what_it_did_and_fails_in_one_line(tmp_path: Path) -> None:
    write(tmp_path, records=a_trip(1))
    ok = subprocess.run([sys.executable, "-m", "trackit", "build", "--data", str(tmp_path)],
                        capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    assert "core.records: 37 rows read" in ok.stdout
    assert "marts.trips: 1 rows" in ok.stdout
    assert "checks: passed" in ok.stdout and "published" in ok.stdout

    tamper(tmp_path, "update marts.trips set distance_km = -1")
    write(tmp_path, records=a_trip(2, start_s=3600))
    bad = subprocess.run([sys.executable, "-m", "trackit", "--log-level", "ERROR", "build",
                          "--data", str(tmp_path)], capture_output=True, text=True)
    assert bad.returncode == 1
    line = bad.stderr.strip().splitlines()[-1]
    assert line.startswith("trackit: error: ") and "not publishing" in line

    missing = subprocess.run([sys.executable, "-m", "trackit", "build", "--data",
                              str(tmp_path / "nope")], capture_output=True, text=True)
    assert missing.returncode == 1 and "does not exist" in missing.stderr
