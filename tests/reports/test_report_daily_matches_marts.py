"""The daily report says what the marts say, draws its charts inline, needs no network.

Every expected figure is queried from the warehouse's marts here, independently of
``reports.queries``, and compared with what the HTML shows. These tests run against the
known fixture warehouse, or a real one (``TRACKIT_REPORT_TEST_DATA``, see conftest.py).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import duckdb
import pytest
from report_html_parser import ReportParser, minutes_of, parse

from lake.ducklake import open_warehouse
from reports.daily import MAX_TRIPS_LISTED, render_daily_report
from reports.days import DayWindow, day_window


@pytest.fixture(scope="module")
def html(data_dir_under_test: Path, day_under_test: date) -> str:
    return render_daily_report(data_dir_under_test, day_under_test)


@pytest.fixture(scope="module")
def report(html: str) -> ReportParser:
    return parse(html)


@pytest.fixture(scope="module")
def window(day_under_test: date) -> DayWindow:
    return day_window(day_under_test)


@pytest.fixture(scope="module")
def marts(data_dir_under_test: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    con = open_warehouse(data_dir_under_test, read_only=True)  # times in UTC
    yield con
    con.close()


def near(text: str, value: float | None, decimals: int) -> bool:
    """``text`` shows ``value`` rounded to ``decimals`` (half a unit of slack for sums)."""
    if value is None:
        return text == "–"
    return abs(float(text) - value) <= 0.5 * 10**-decimals + 1e-9


def near_duration(text: str, seconds: float) -> bool:
    return abs(minutes_of(text) - seconds / 60) <= 0.5 + 1e-9


def test_fleet_totals_equal_vehicle_daily(report: ReportParser, day_under_test: date,
                                          marts: duckdb.DuckDBPyConnection) -> None:
    vehicles, driving_vehicles, trips, km, driving, idle, vmax = marts.execute(
        "SELECT count(*), count(*) FILTER (WHERE trips > 0), sum(trips), sum(distance_km), "
        "sum(driving_s), sum(idle_s), max(max_speed_kmh) "
        "FROM marts.vehicle_daily WHERE day = ?", [day_under_test]).fetchone()
    assert report.kpis["vehicles"] == str(vehicles)
    assert report.kpis["vehicles-driving"] == str(driving_vehicles)
    assert report.kpis["trips"] == str(trips)
    assert near(report.kpis["distance-km"], km, 1)
    assert near_duration(report.kpis["driving-time"], driving)
    assert near_duration(report.kpis["idle-time"], idle) if idle is not None \
        else report.kpis["idle-time"] == "–"
    assert near(report.kpis["max-speed"], vmax, 0)


def test_vehicle_table_rows_equal_vehicle_daily(report: ReportParser, day_under_test: date,
                                                marts: duckdb.DuckDBPyConnection) -> None:
    rows = marts.execute(
        "SELECT vid, trips, distance_km, driving_s, idle_s, max_speed_kmh "
        "FROM marts.vehicle_daily WHERE day = ?", [day_under_test]).fetchall()
    table = report.tables["vehicle-table"]
    assert set(table) == {str(r[0]) for r in rows}
    for vid, trips, km, driving, idle, vmax in rows:
        cells = table[str(vid)]
        assert cells["trips"] == str(trips)
        assert near(cells["distance_km"], km, 1)
        assert near_duration(cells["driving_s"], driving)
        assert near_duration(cells["idle_s"], idle) if idle is not None \
            else cells["idle_s"] == "–"
        assert near(cells["max_speed_kmh"], vmax, 0)


def test_trip_list_holds_the_trips_starting_on_the_day(
        report: ReportParser, window: DayWindow, marts: duckdb.DuckDBPyConnection) -> None:
    rows = marts.execute(
        "SELECT trip_id, distance_km, duration_s FROM marts.trips "
        "WHERE start_time >= ? AND start_time < ? "
        "ORDER BY vid, start_time", [window.start, window.end]).fetchall()
    listed = rows[:MAX_TRIPS_LISTED]
    table = report.tables.get("trip-table", {})
    assert list(table) == [str(r[0]) for r in listed]
    assert report.kpis["trips"] == str(len(rows))
    earlier = marts.execute(
        "SELECT trip_id FROM marts.trips WHERE start_time < ? "
        "AND coalesce(end_time, start_time) >= ? ORDER BY vid, start_time",
        [window.start, window.start]).fetchall()
    assert list(report.tables.get("earlier-trip-table", {})) == [
        str(r[0]) for r in earlier][:MAX_TRIPS_LISTED]
    for trip_id, km, duration in listed:
        assert near(table[str(trip_id)]["distance_km"], km, 1)
        if duration is not None:
            assert near_duration(table[str(trip_id)]["duration_s"], duration)


def test_message_figures_equal_message_latency_mart(
        report: ReportParser, window: DayWindow, marts: duckdb.DuckDBPyConnection) -> None:
    sent, delivered, read, errors, med_d, p90_d, med_r, p90_r = marts.execute(
        "SELECT count(*), count(delivered_at), count(read_at), count(error_at), "
        "median(seconds_to_delivered), quantile_cont(seconds_to_delivered, 0.9), "
        "median(seconds_to_read), quantile_cont(seconds_to_read, 0.9) "
        "FROM marts.message_latency WHERE sent_at >= ? AND sent_at < ?",
        [window.start, window.end]).fetchone()
    assert report.kpis["messages"] == str(sent)
    if not sent:
        return
    assert report.kpis["messages-sent"] == str(sent)
    assert report.kpis["messages-delivered"] == str(delivered)
    assert report.kpis["messages-read"] == str(read)
    assert report.kpis["messages-error"] == str(errors)
    latency = report.tables["latency-table"]
    assert near(latency["delivered"]["median"], med_d, 1)
    assert near(latency["delivered"]["p90"], p90_d, 1)
    assert near(latency["read"]["median"], med_r, 1)
    assert near(latency["read"]["p90"], p90_r, 1)
    statuses = dict(marts.execute(
        "SELECT coalesce(final_status, 'unknown'), count(*) FROM marts.message_latency "
        "WHERE sent_at >= ? AND sent_at < ? GROUP BY ALL", [window.start, window.end]
    ).fetchall())
    shown = {k: int(v["messages"]) for k, v in report.tables["status-table"].items()}
    assert shown == statuses


def test_io_table_equals_io_changes_mart(report: ReportParser, window: DayWindow,
                                        marts: duckdb.DuckDBPyConnection) -> None:
    rows = marts.execute(
        "SELECT io, count(*), count(DISTINCT vid), "
        "count(*) FILTER (WHERE to_value > from_value), "
        "count(*) FILTER (WHERE to_value < from_value) FROM marts.io_changes "
        "WHERE changed_at >= ? AND changed_at < ? AND from_value IS NOT NULL GROUP BY io",
        [window.start, window.end]).fetchall()
    assert report.kpis["io-changes"] == str(sum(r[1] for r in rows))
    if not rows:
        return
    table = report.tables["io-table"]
    assert set(table) == {str(r[0]) for r in rows}
    for io, changes, vehicles, rises, falls in rows:
        assert table[str(io)]["changes"] == str(changes)
        assert table[str(io)]["vehicles"] == str(vehicles)
        assert table[str(io)]["rises"] == str(rises)
        assert table[str(io)]["falls"] == str(falls)


def test_event_latency_table_equals_mart(report: ReportParser, window: DayWindow,
                                         marts: duckdb.DuckDBPyConnection) -> None:
    rows = marts.execute(
        "SELECT coalesce(kind, 'unknown'), count(*), median(device_to_server_s), "
        "median(server_to_pipeline_s) FROM marts.event_latency "
        "WHERE tmx >= ? AND tmx < ? GROUP BY ALL", [window.start, window.end]).fetchall()
    if not rows:
        return
    table = report.tables["event-latency-table"]
    assert set(table) == {r[0] for r in rows}
    for kind, n, to_server, to_pipeline in rows:
        assert table[kind]["events"] == str(n)
        assert near(table[kind]["device_to_server_s"], to_server, 1)
        assert near(table[kind]["server_to_pipeline_s"], to_pipeline, 1)


def test_report_draws_a_chart_per_section_with_data(report: ReportParser, html: str) -> None:
    expected = sum((
        bool(report.tables.get("vehicle-table")),
        bool(report.tables.get("trip-table") or report.tables.get("earlier-trip-table")),
        'id="route-map"' in html,
        "seconds from sending a message" in html.lower(),
        bool(report.tables.get("io-table")),
    ))
    assert expected >= 1
    assert report.svg_count == expected
    for section in ("totals", "vehicles", "timeline", "routes", "messages", "io"):
        assert f'<section id="{section}">' in html


def test_report_refers_to_nothing_outside_itself(html: str) -> None:
    scripts = re.findall(r"<script[^>]*>(.*?)</script>", html, flags=re.DOTALL)
    assert len(scripts) == 1 and html.count("<script") == 1
    assert "<script>" in html  # inline: no src
    for reach_out in ("fetch(", "XMLHttpRequest", "import(", "WebSocket", "http:", "https:"):
        assert reach_out not in scripts[0]
    assert "<link" not in html
    assert "@import" not in html
    assert "<img" not in html
    assert not re.search(r"""(?:src|href)\s*=\s*["']?\s*(?:https?:)?//""", html)
    assert not re.search(r"""url\(\s*["']?\s*(?:https?:)?//""", html)
