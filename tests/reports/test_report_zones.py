"""A warehouse built in UTC, reported in other zones: totals and lists describe the same
trips, and the page says which zone the warehouse's days are in.

The warehouse is a real build (``tests/sample_fleet.py`` → core lake → ``build_warehouse``
with ``timezone="UTC"``), so ``marts.vehicle_daily`` holds UTC days.
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest
from report_html_parser import parse
from sample_fleet import DEFAULT_START, FleetSpec, generate, store_core_rows

from reports.daily import render_daily_report
from warehouse.build import build_warehouse
from warehouse.config import WarehouseConfig

DAY = (DEFAULT_START + timedelta(days=1)).date()


@pytest.fixture(scope="module")
def utc_warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data = tmp_path_factory.mktemp("utc-build")
    store_core_rows(data, generate(FleetSpec(start=DEFAULT_START, hours=72, vehicles=3)))
    build_warehouse(data, config=WarehouseConfig(timezone="UTC"))
    return data


@pytest.mark.parametrize("tz", ["Asia/Tokyo", "America/Los_Angeles", "UTC"])
def test_totals_equal_the_trip_list_in_any_zone(utc_warehouse: Path, tz: str) -> None:
    report = parse(render_daily_report(utc_warehouse, DAY, tz=tz))
    listed = report.tables["trip-table"]
    assert 0 < len(listed) < 300
    assert report.kpis["trips"] == str(len(listed))
    per_vehicle = report.tables["vehicle-table"]
    assert sum(int(v["trips"]) for v in per_vehicle.values()) == len(listed)
    for vid, cells in per_vehicle.items():
        assert int(cells["trips"]) == sum(t["vid"] == vid for t in listed.values())
    km = sum(float(t["distance_km"]) for t in listed.values())
    assert abs(float(report.kpis["distance-km"]) - km) <= 0.05 * len(listed) + 0.05
    drivers = report.tables["driver-table"]
    assert sum(int(d["trips"]) for d in drivers.values()) == len(listed)


def test_a_report_in_another_zone_says_the_warehouse_days_are_utc(utc_warehouse: Path) -> None:
    page = render_daily_report(utc_warehouse, DAY, tz="Asia/Tokyo")
    assert 'id="tz-notice"' in page
    assert ("This report&#x27;s days are in Asia/Tokyo, the warehouse&#x27;s days "
            "(marts.vehicle_daily) in UTC") in page
    assert "Warehouse built with days in UTC; thresholds: sparse_gap_s 300.0" in page
    settings = parse(page).tables["settings-table"]
    assert settings["timezone"]["value"] == "UTC"
    assert settings["sparse_gap_s"]["value"] == "300.0"


def test_a_report_in_the_build_zone_reads_vehicle_daily(utc_warehouse: Path) -> None:
    page = render_daily_report(utc_warehouse, DAY, tz="UTC")
    assert 'id="tz-notice"' not in page
    assert "come from marts.vehicle_daily for these days" in page


def test_a_range_of_days_counts_each_trip_once(utc_warehouse: Path) -> None:
    first, last = DAY - timedelta(days=1), DAY + timedelta(days=1)
    report = parse(render_daily_report(utc_warehouse, first, tz="Asia/Tokyo", last_day=last))
    days = [parse(render_daily_report(utc_warehouse, first + timedelta(days=i),
                                      tz="Asia/Tokyo")) for i in range(3)]
    assert report.kpis["trips"] == str(len(report.tables["trip-table"]))
    assert int(report.kpis["trips"]) == sum(int(d.kpis["trips"]) for d in days)
    assert isinstance(first, date)
