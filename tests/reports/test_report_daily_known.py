"""The daily report on the hand-made warehouse: known figures, edge cases, errors."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date
from pathlib import Path

import pytest
from matplotlib.collections import LineCollection, PathCollection
from report_html_parser import ReportParser, parse
from report_warehouse_fixture import EMPTY_DAY, PREVIOUS_DAY, REPORT_DAY

from lake import ducklake
from lake.ducklake import writing_warehouse
from lake.errors import TrackitError
from reports import charts
from reports.daily import render_daily_report, report_path, write_daily_report
from reports.days import day_window
from reports.queries import load_day, open_warehouse
from transforms.core_store import ensure_core


@pytest.fixture(scope="module")
def html(known_data_dir: Path) -> str:
    return render_daily_report(known_data_dir, REPORT_DAY)


@pytest.fixture(scope="module")
def report(html: str) -> ReportParser:
    return parse(html)


def test_known_day_shows_the_hand_computed_figures(report: ReportParser) -> None:
    assert report.kpis == {
        "vehicles": "3", "vehicles-driving": "2", "trips": "3", "distance-km": "67.7",
        "driving-time": "2:05", "idle-time": "0:30", "max-speed": "95", "overspeed": "2",
        "silent": "1", "place-visits": "2", "deliveries": "2", "messages": "4",
        "io-changes": "6", "state-moving": "1", "state-idle": "0", "state-stopped": "1",
        "state-silent": "1", "deliveries-delivered": "1", "deliveries-failed": "1",
        "messages-sent": "4", "messages-delivered": "3", "messages-read": "2",
        "messages-error": "1",
    }
    assert report.tables["latency-table"]["delivered"] == {
        "measure": "sent → delivered", "median": "5.0", "p90": "10.6"}
    assert report.tables["latency-table"]["read"]["median"] == "182.5"
    assert report.tables["io-table"]["1"]["rises"] == "3"
    assert report.tables["io-table"]["2"]["falls"] == "1"
    assert report.svg_count == 5


def test_trip_that_began_the_evening_before_is_listed_apart_with_its_date(
        report: ReportParser) -> None:
    trips = report.tables["trip-table"]
    assert list(trips) == ["T1", "T2", "T4"]
    assert report.kpis["trips"] == str(len(trips))
    assert trips["T4"]["flags"] == "[open]"
    assert trips["T2"]["longest_gap_s"] == "600"
    assert trips["T1"]["driver_card"] == "0012345"
    earlier = report.tables["earlier-trip-table"]
    assert list(earlier) == ["T3"]
    assert earlier["T3"]["start_time"] == "03-09 23:30"
    assert earlier["T3"]["end_time"] == "00:20"


def test_idle_time_unknown_is_shown_as_unknown_not_zero(report: ReportParser,
                                                        html: str) -> None:
    vehicles = report.tables["vehicle-table"]
    assert vehicles["101"]["idle_s"] == "0:10"
    assert vehicles["102"]["idle_s"] == "–"
    assert vehicles["103"]["idle_s"] == "0:20"
    assert report.tables["trip-table"]["T1"]["idle_s"] == "0:05"
    assert report.tables["trip-table"]["T4"]["idle_s"] == "–"
    assert "Idle time is unknown for 1 vehicle(s)" in html


def test_first_value_of_an_input_is_not_counted_as_a_change(report: ReportParser) -> None:
    # I/O 2 of vehicle 103 was first seen at 09:00 (marts.io_state) and changed at 10:00
    assert report.kpis["io-changes"] == "6"
    assert report.tables["io-table"]["2"]["changes"] == "1"
    assert report.tables["io-table"]["2"]["vehicles"] == "1"
    assert report.tables["io-table"]["1"]["changes"] == "5"


def test_overspeed_drivers_silent_vehicles_places_and_deliveries(report: ReportParser
                                                                 ) -> None:
    overspeed = report.tables["overspeed-table"]
    assert [(r["vid"], r["start_time"], r["max_speed_kmh"], r["limit_kmh"])
            for r in overspeed.values()] == [("101", "07:20", "92", "80"),
                                             ("102", "16:30", "95", "90")]
    drivers = report.tables["driver-table"]
    assert drivers["0012345"] == {
        "driver_card": "0012345", "vehicles": "1", "trips": "2", "distance_km": "42.7",
        "driving_s": "1:15", "idle_s": "0:05", "overspeed_episodes": "1"}
    assert drivers["(no card)"]["trips"] == "1"
    assert drivers["(no card)"]["overspeed_episodes"] == "1"
    silent = report.tables["silent-table"]
    assert list(silent) == ["103"]
    assert silent["103"]["last_seen"] == "2026-03-10 10:00"
    assert silent["103"]["silent_s"] == "8:00"
    places = report.tables["place-table"]
    assert places["Depot Lisboa"]["visits"] == "1"
    assert places["Aveiro"]["kind"] == "discovered"
    assert places["Aveiro"]["dwell_s"] == "15:40"
    deliveries = report.tables["delivery-table"]
    assert [(d["service_id"], d["delivered"]) for d in deliveries.values()] == [
        ("S1", "yes"), ("S2", "no")]
    assert deliveries["101-S2-2026-03-10T12:40:00+00:00"]["message"] == "<b>closed</b>"


def test_page_shows_the_build_time_zone_and_thresholds(report: ReportParser,
                                                       html: str) -> None:
    assert "Warehouse built with days in UTC; thresholds: sparse_gap_s 300.0" in html
    assert report.tables["settings-table"]["timezone"]["value"] == "UTC"
    assert report.tables["settings-table"]["max_gap_s"]["value"] == "3600.0"
    assert 'id="tz-notice"' not in html


def test_latency_of_a_simulated_clock_is_labelled(make_data_dir: Callable[..., Path],
                                                   html: str) -> None:
    assert 'id="simulated-clock"' not in html
    data = make_data_dir()
    with writing_warehouse(data) as con:
        con.execute("UPDATE marts.event_latency SET server_to_pipeline_s = "
                    "server_to_pipeline_s + 14000, received_at = received_at + "
                    "INTERVAL 14000 SECOND")
    page = render_daily_report(data, REPORT_DAY)
    assert 'id="simulated-clock"' in page
    events = parse(page).tables["event-latency-table"]
    assert events["event"]["server_to_pipeline_s"] == "14000.6"
    assert events["event"]["server_to_pipeline_note"] == "simulated clock: not a real latency"


def test_missing_newer_marts_are_named_not_fatal(make_data_dir: Callable[..., Path]
                                                 ) -> None:
    page = render_daily_report(make_data_dir(with_optional_marts=False), REPORT_DAY)
    for mart in ("overspeed", "vehicle_status", "place_visits", "deliveries"):
        assert f"marts.{mart} is not in this warehouse" in page
    report = parse(page)
    assert report.kpis["overspeed"] == report.kpis["silent"] == "–"
    assert report.kpis["trips"] == "3"
    assert report.tables["driver-table"]["0012345"]["overspeed_episodes"] == "–"


def test_a_range_of_days_and_a_vehicle_selection(known_data_dir: Path) -> None:
    both = parse(render_daily_report(known_data_dir, PREVIOUS_DAY, last_day=REPORT_DAY))
    assert sorted(both.tables["trip-table"]) == ["T1", "T2", "T3", "T4", "T5"]
    assert both.kpis["trips"] == "5"
    assert "earlier-trip-table" not in both.tables
    assert both.tables["trip-table"]["T3"]["start_time"] == "03-09 23:30"
    one = parse(render_daily_report(known_data_dir, REPORT_DAY, vehicles=[101]))
    assert list(one.tables["trip-table"]) == ["T1", "T2"]
    assert one.kpis["trips"] == "2"
    assert list(one.tables["vehicle-table"]) == ["101"]
    assert list(one.tables["overspeed-table"]) == ["101-2026-03-10T07:20:00+00:00"]
    assert one.kpis["messages"] == "4"  # every message went to unit 501, vehicle 101
    assert one.kpis["io-changes"] == "4"
    none = parse(render_daily_report(known_data_dir, REPORT_DAY, vehicles=[103]))
    assert none.kpis["messages"] == "0"
    assert none.kpis["trips"] == "0"


def test_route_map_follows_core_records(html: str) -> None:
    assert "lines follow the GPS records" in html


def test_route_map_falls_back_to_start_and_end_points(make_data_dir: Callable[..., Path]
                                                      ) -> None:
    data = make_data_dir()
    with writing_warehouse(data) as con:
        con.execute("DROP TABLE core.records")
    page = render_daily_report(data, REPORT_DAY)
    assert "dotted lines join each trip" in page


def test_empty_day_gives_a_page_saying_so(known_data_dir: Path) -> None:
    page = render_daily_report(known_data_dir, EMPTY_DAY)
    assert 'id="no-activity"' in page
    assert "No activity recorded on 2026-03-20 (UTC)" in page
    assert "<svg" not in page


def test_warehouse_without_rows_gives_the_empty_page(make_data_dir: Callable[..., Path]
                                                     ) -> None:
    page = render_daily_report(make_data_dir(with_rows=False), REPORT_DAY)
    assert 'id="no-activity"' in page


def test_previous_day_shows_only_its_own_rows(known_data_dir: Path) -> None:
    report = parse(render_daily_report(known_data_dir, PREVIOUS_DAY))
    assert report.kpis["trips"] == "2"
    assert report.kpis["distance-km"] == "90.0"
    assert list(report.tables["trip-table"]) == ["T5", "T3"]
    assert report.kpis["messages"] == "1"


def test_text_from_the_warehouse_is_escaped(make_data_dir: Callable[..., Path]) -> None:
    data = make_data_dir()
    with writing_warehouse(data) as con:
        con.execute("UPDATE marts.message_latency SET final_status = "
                    "'<img src=x onerror=alert(1)>' WHERE message_id = 'm4'")
    page = render_daily_report(data, REPORT_DAY)
    assert "<img" not in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in page


def test_missing_warehouse_is_a_clear_error(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere"
    catalog = missing / "warehouse" / "catalog.sqlite"
    with pytest.raises(TrackitError, match=re.escape(f"no warehouse at {catalog.absolute()}")):
        render_daily_report(missing, REPORT_DAY)
    assert not missing.exists()


def test_warehouse_without_marts_is_a_clear_error(tmp_path: Path) -> None:
    with writing_warehouse(tmp_path) as con:
        ensure_core(con)  # what a transform leaves before the first build
    catalog = tmp_path / "warehouse" / "catalog.sqlite"
    with pytest.raises(TrackitError, match=re.escape(
            f"warehouse sqlite:{catalog.absolute()} lacks marts trips")):
        render_daily_report(tmp_path, REPORT_DAY)


def test_report_opens_beside_an_analysts_read_only_session(known_data_dir: Path) -> None:
    analyst = ducklake.open_warehouse(known_data_dir, read_only=True)
    try:
        assert analyst.execute("select count(*) from marts.trips").fetchone() == (5,)
        assert 'id="kpi-trips"' in render_daily_report(known_data_dir, REPORT_DAY)
    finally:
        analyst.close()


def test_write_publishes_the_file_and_rewrites_it(known_data_dir: Path,
                                                  tmp_path: Path) -> None:
    out = report_path(tmp_path, REPORT_DAY)
    assert out == tmp_path / "reports" / "2026-03-10.html"
    write_daily_report(known_data_dir, REPORT_DAY, out)
    write_daily_report(known_data_dir, REPORT_DAY, out)
    assert out.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert [p.name for p in out.parent.iterdir()] == ["2026-03-10.html"]


def test_local_day_window_follows_daylight_saving() -> None:
    spring = day_window(date(2026, 3, 29), "Europe/Lisbon")
    assert spring.hours == 23
    assert spring.start.isoformat() == "2026-03-29T00:00:00+00:00"
    autumn = day_window(date(2026, 10, 25), "Europe/Lisbon")
    assert autumn.hours == 25
    assert autumn.start.isoformat() == "2026-10-24T23:00:00+00:00"


def test_day_in_another_zone_selects_trips_by_local_time(known_data_dir: Path) -> None:
    # In Tokyo (UTC+9) 2026-03-10 ends at 15:00 UTC, before T4 (16:00 UTC) begins.
    page = render_daily_report(known_data_dir, REPORT_DAY, tz="Asia/Tokyo")
    report = parse(page)
    assert list(report.tables["trip-table"]) == ["T1", "T2", "T3"]
    assert report.tables["trip-table"]["T1"]["start_time"] == "16:00"
    # The warehouse's days are UTC days: the figures come from the trips, and agree.
    assert 'id="tz-notice"' in page
    assert report.kpis["trips"] == "3"
    assert report.kpis["distance-km"] == "82.7"


def test_unknown_time_zone_is_a_clear_error(known_data_dir: Path) -> None:
    with pytest.raises(TrackitError, match="unknown time zone 'Mars/Olympus'"):
        render_daily_report(known_data_dir, REPORT_DAY, tz="Mars/Olympus")


def test_map_draws_data_holes_dashed_and_stops_as_pins_sized_by_dwell(
        known_data_dir: Path) -> None:
    con = open_warehouse(known_data_dir)
    try:
        data = load_day(con, day_window(REPORT_DAY))
    finally:
        con.close()
    holes = {trip_id: [p for p in points if p.hole_before]
             for trip_id, points in data.routes.items()}
    assert {k: len(v) for k, v in holes.items()} == {"T1": 0, "T2": 1, "T3": 0, "T4": 0}
    fig = charts.route_map_figure(data.trips, data.routes, charts.VehicleColors([101, 102,
                                                                                 103]),
                                  data.stops)
    ax = fig.axes[0]
    lines = [c for c in ax.collections if isinstance(c, LineCollection)]
    dashed = [c for c in lines if c.get_linestyle()[0][1] is not None]
    assert len(dashed) == 1 and len(dashed[0].get_segments()) == 1
    start, end = dashed[0].get_segments()[0]
    assert start[0] != end[0]  # the hole joins two different records of T2
    assert [c.get_gid() for c in dashed] == ["route-hole"]
    pins = [c for c in ax.collections if isinstance(c, PathCollection)
            and c.get_gid() == "stop-pins"]
    assert len(pins) == 1
    by_dwell = sorted(zip((s.duration_s for s in data.stops), pins[0].get_sizes(),
                          strict=True))
    sizes = [size for _, size in by_dwell]
    assert sizes == sorted(sizes) and sizes[0] < sizes[-1]
    assert sizes[-1] == charts.PIN_AREA[1]


def test_colours_stay_distinct_for_any_number_of_vehicles() -> None:
    for count in (1, 3, 10, 11, 20, 21, 50, 120, 400):
        colors = charts.VehicleColors(range(1000, 1000 + count))
        hexes = {colors.hex(vid) for vid in range(1000, 1000 + count)}
        assert len(hexes) == count, count
    many = charts.VehicleColors(range(60))
    # Neighbours in the id order differ clearly (not just by a rounding step).
    for vid in range(59):
        a, b = many(vid), many(vid + 1)
        assert max(abs(x - y) for x, y in zip(a, b, strict=True)) > 0.08
