"""Violated models or reconciliations fail the build: it rolls back, readers keep the last
good snapshot of the marts, and the failed verdict is recorded in ``meta.checks``."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from warehouse_handmade import (
    assert_checks_passed,
    at,
    drive,
    latest_check,
    mart_rows,
    parked,
    query,
    tamper,
    write,
)

from warehouse.build import build_warehouse
from warehouse.checks import WarehouseCheckError


def a_trip(vid: int, start_s: float = 0) -> list[dict]:
    return drive(vid, start_s, 600, odometer0=0) + parked(vid, start_s + 630, 900, at_m=6000,
                                                          odometer=6000)


def two_trips(vid: int) -> list[dict]:
    second = drive(vid, 1530, 600, start_m=6000, odometer0=6000)
    return a_trip(vid) + second + parked(vid, 2160, 900, at_m=12000, odometer=12000)


def marts_load_id(data_dir: Path) -> int:
    return query(data_dir, "select value from meta.state where name = 'marts_load_id'")[0][
        "value"]


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
def test_a_violated_check_fails_the_build_and_rolls_it_back(
    tmp_path: Path, bug: str, message: str
) -> None:
    status = {"uid": 1, "message_id": "M1", "txs": 1, "status": "buffered",
              "received_at": at(5), "seq": 0}
    write(tmp_path, records=two_trips(1), message_status=[status])
    build_warehouse(tmp_path)
    good = assert_checks_passed(tmp_path)
    tamper(tmp_path, bug)
    before, built_up_to = mart_rows(tmp_path), marts_load_id(tmp_path)

    write(tmp_path, records=a_trip(2, start_s=3600),
          message_status=[{**status, "message_id": "M2", "received_at": at(1)}])
    with pytest.raises(WarehouseCheckError, match=message):
        build_warehouse(tmp_path)
    # readers still see the marts as they were: nothing of the failed build is committed
    assert mart_rows(tmp_path) == before
    assert marts_load_id(tmp_path) == built_up_to
    assert query(tmp_path, "select count(*) as n from marts.trips where vid = 2") == [{"n": 0}]
    # but the verdict is, for the operator and the next build's summary
    verdict = latest_check(tmp_path)
    assert not verdict["passed"] and verdict["checked_at"] > good["checked_at"]
    assert any(message in failure for failure in verdict["failures"]), verdict
    # and the next build tries again (and fails again: the bad rows are still there)
    with pytest.raises(WarehouseCheckError, match=message):
        build_warehouse(tmp_path)
    assert mart_rows(tmp_path) == before


def test_a_build_with_nothing_new_commits_nothing_and_checks_nothing(tmp_path: Path) -> None:
    write(tmp_path, records=a_trip(1))
    first = build_warehouse(tmp_path)
    assert first.snapshot is not None and first.checks is not None
    snapshots = query(tmp_path, "select count(*) as n from ducklake_snapshots('warehouse')")
    again = build_warehouse(tmp_path)
    assert again.snapshot is None and again.checks is None and again.marts.load_id is None
    assert query(tmp_path, "select count(*) as n from ducklake_snapshots('warehouse')") \
        == snapshots
    assert query(tmp_path, "select count(*) as n from meta.checks") == [{"n": 1}]


def test_trackit_build_prints_what_it_did_and_fails_in_one_line(tmp_path: Path) -> None:
    write(tmp_path, records=a_trip(1))
    ok = subprocess.run([sys.executable, "-m", "trackit", "build", "--data", str(tmp_path)],
                        capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    assert "marts: built up to load 1: 1 vehicles rebuilt from 37 records" in ok.stdout
    assert "marts.trips: 1 rows" in ok.stdout
    assert "checks: passed" in ok.stdout and "committed snapshot" in ok.stdout

    again = subprocess.run([sys.executable, "-m", "trackit", "build", "--data", str(tmp_path)],
                           capture_output=True, text=True)
    assert again.returncode == 0 and "marts: up to date" in again.stdout
    assert "committed snapshot" not in again.stdout

    tamper(tmp_path, "update marts.trips set distance_km = -1")
    write(tmp_path, records=a_trip(2, start_s=3600))
    bad = subprocess.run([sys.executable, "-m", "trackit", "--log-level", "ERROR", "build",
                          "--data", str(tmp_path)], capture_output=True, text=True)
    assert bad.returncode == 1
    assert "Traceback" not in bad.stderr
    line = bad.stderr.strip().splitlines()[-1]
    assert line.startswith("trackit: error: ") and "the build was rolled back" in line
    assert "readers keep the previous snapshot" in line

    missing = subprocess.run([sys.executable, "-m", "trackit", "build", "--data",
                              str(tmp_path / "nope")], capture_output=True, text=True)
    assert missing.returncode == 1 and "does not exist" in missing.stderr
