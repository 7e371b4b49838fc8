"""The daily report on the hand-made warehouse: known figures, edge cases, errors."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date
from pathlib import Path

import duckdb
import pytest
from report_html_parser import ReportParser, parse
from report_warehouse_fixture import EMPTY_DAY, PREVIOUS_DAY, REPORT_DAY

from lake.errors import TrackitError
from reports.daily import render_daily_report, report_path, write_daily_report
from reports.days import day_window


@pytest.fixture(scope="module")
def html(known_warehouse: Path) -> str:
    return render_daily_report(known_warehouse, REPORT_DAY)


@pytest.fixture(scope="module")
def report(html: str) -> ReportParser:
    return parse(html)


def test_known_day_shows_the_hand_computed_figures(report: ReportParser) -> None:
    assert report.kpis == {
        "vehicles": "3", "vehicles-driving": "2", "trips": "4", "distance-km": "98.2",
        "driving-time": "2:25", "idle-time": "0:35", "max-speed": "110", "messages": "4",
        "io-changes": "7", "messages-sent": "4", "messages-delivered": "3",
        "messages-read": "2", "messages-error": "1",
    }
    assert report.tables["latency-table"]["delivered"] == {
        "measure": "sent → delivered", "median": "5.0", "p90": "10.6"}
    assert report.tables["latency-table"]["read"]["median"] == "182.5"
    assert report.tables["io-table"]["1"]["rises"] == "3"
    assert report.tables["io-table"]["2"]["falls"] == "1"
    assert report.svg_count == 5


def test_trip_that_began_the_evening_before_is_listed_with_its_date(
        report: ReportParser) -> None:
    trips = report.tables["trip-table"]
    assert list(trips) == ["T1", "T2", "T3", "T4"]
    assert trips["T3"]["start_time"] == "03-09 23:30"
    assert trips["T3"]["end_time"] == "00:20"
    assert trips["T4"]["flags"] == "[open]"


def test_route_map_follows_core_records(html: str) -> None:
    assert "lines follow the GPS records" in html


def test_route_map_falls_back_to_start_and_end_points(make_warehouse: Callable[..., Path]
                                                      ) -> None:
    warehouse = make_warehouse()
    con = duckdb.connect(str(warehouse))
    con.execute("DROP TABLE core.records")
    con.close()
    page = render_daily_report(warehouse, REPORT_DAY)
    assert "dotted lines join each trip" in page


def test_empty_day_gives_a_page_saying_so(known_warehouse: Path) -> None:
    page = render_daily_report(known_warehouse, EMPTY_DAY)
    assert 'id="no-activity"' in page
    assert "No activity recorded on 2026-03-20 (UTC)" in page
    assert "<svg" not in page


def test_warehouse_without_rows_gives_the_empty_page(make_warehouse: Callable[..., Path]
                                                     ) -> None:
    page = render_daily_report(make_warehouse(with_rows=False), REPORT_DAY)
    assert 'id="no-activity"' in page


def test_previous_day_shows_only_its_own_rows(known_warehouse: Path) -> None:
    report = parse(render_daily_report(known_warehouse, PREVIOUS_DAY))
    assert report.kpis["trips"] == "2"
    assert report.kpis["distance-km"] == "70.0"
    assert list(report.tables["trip-table"]) == ["T5", "T3"]
    assert report.kpis["messages"] == "1"


def test_text_from_the_warehouse_is_escaped(make_warehouse: Callable[..., Path]) -> None:
    warehouse = make_warehouse()
    con = duckdb.connect(str(warehouse))
    con.execute("UPDATE marts.message_latency SET final_status = "
                "'<img src=x onerror=alert(1)>' WHERE message_id = 'm4'")
    con.close()
    page = render_daily_report(warehouse, REPORT_DAY)
    assert "<img" not in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in page


def test_missing_warehouse_is_a_clear_error(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "warehouse.duckdb"
    with pytest.raises(TrackitError, match=re.escape(str(missing))):
        render_daily_report(missing, REPORT_DAY)


def test_warehouse_without_marts_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "warehouse.duckdb"
    duckdb.connect(str(path)).close()
    with pytest.raises(TrackitError, match="lacks marts trips"):
        render_daily_report(path, REPORT_DAY)


def test_report_opens_beside_an_analysts_read_only_session(known_warehouse: Path) -> None:
    analyst = duckdb.connect(str(known_warehouse), read_only=True)
    try:
        assert 'id="kpi-trips"' in render_daily_report(known_warehouse, REPORT_DAY)
    finally:
        analyst.close()


def test_write_publishes_the_file_and_rewrites_it(known_warehouse: Path,
                                                  tmp_path: Path) -> None:
    out = report_path(tmp_path, REPORT_DAY)
    assert out == tmp_path / "reports" / "2026-03-10.html"
    write_daily_report(known_warehouse, REPORT_DAY, out)
    write_daily_report(known_warehouse, REPORT_DAY, out)
    assert out.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert [p.name for p in out.parent.iterdir()] == ["2026-03-10.html"]


def test_local_day_window_follows_daylight_saving() -> None:
    spring = day_window(date(2026, 3, 29), "Europe/Lisbon")
    assert spring.hours == 23
    assert spring.start.isoformat() == "2026-03-29T00:00:00+00:00"
    autumn = day_window(date(2026, 10, 25), "Europe/Lisbon")
    assert autumn.hours == 25
    assert autumn.start.isoformat() == "2026-10-24T23:00:00+00:00"


def test_day_in_another_zone_selects_trips_by_local_time(known_warehouse: Path) -> None:
    # In Tokyo (UTC+9) 2026-03-10 ends at 15:00 UTC, before T4 (16:00 UTC) begins.
    report = parse(render_daily_report(known_warehouse, REPORT_DAY, tz="Asia/Tokyo"))
    assert list(report.tables["trip-table"]) == ["T1", "T2", "T3"]
    assert report.tables["trip-table"]["T1"]["start_time"] == "16:00"


def test_unknown_time_zone_is_a_clear_error(known_warehouse: Path) -> None:
    with pytest.raises(TrackitError, match="unknown time zone 'Mars/Olympus'"):
        render_daily_report(known_warehouse, REPORT_DAY, tz="Mars/Olympus")
