"""The daily fleet report: one self-contained HTML page about one local day.

``render_daily_report`` reads the day from the warehouse marts (``reports.queries``),
draws the charts (``reports.charts``) and fills the page (``reports.template``);
``write_daily_report`` publishes it atomically, so a reader (or a web server) never sees a
half-written file. Used by ``trackit report`` and the ``trackit_daily_report`` DAG.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

from lake.storage import publishing
from reports import charts
from reports.days import day_window
from reports.html import (
    Column,
    esc,
    figure,
    fmt_clock,
    fmt_duration,
    fmt_km,
    fmt_seconds,
    fmt_speed,
    kpi,
    note,
    section,
    table,
)
from reports.queries import DayData, load_day, open_warehouse
from reports.template import PAGE, STYLE

__all__ = ["render_daily_report", "report_path", "write_daily_report"]

MAX_TRIPS_LISTED = 300
REPORTS_DIR = "reports"


def report_path(data_dir: Path, day: date) -> Path:
    """Where the report of ``day`` lives under a data directory: ``reports/<day>.html``."""
    return data_dir / REPORTS_DIR / f"{day.isoformat()}.html"


def render_daily_report(warehouse: Path, day: date, tz: str = "UTC") -> str:
    """The HTML report of the local ``day`` in ``tz``, from the warehouse at ``warehouse``.

    Raises ``TrackitError`` when the warehouse is missing, cannot be opened, or lacks the
    marts. A day without any activity gives a short page that says so.
    """
    window = day_window(day, tz)
    con = open_warehouse(warehouse)
    try:
        data = load_day(con, window)
    finally:
        con.close()
    return render_page(data, source=warehouse)


def write_daily_report(warehouse: Path, day: date, out: Path, tz: str = "UTC") -> Path:
    """Render the report of ``day`` and publish it atomically at ``out``; returns ``out``."""
    page = render_daily_report(warehouse, day, tz)
    with publishing(out) as tmp:
        tmp.write_text(page, encoding="utf-8")
    return out


def render_page(data: DayData, source: Path) -> str:
    """The whole page for already loaded ``data``."""
    window = data.window
    title = f"TRACKiT fleet report — {window.day.isoformat()}"
    meta = (f"Local day {window.day.isoformat()} in {window.tz} "
            f"({window.start:%Y-%m-%d %H:%M} to {window.end:%Y-%m-%d %H:%M} UTC)")
    if data.is_empty:
        body = (f'<div class="empty" id="no-activity">No activity recorded on '
                f"{esc(window.day.isoformat())} ({esc(window.tz)}).</div>")
    else:
        body = "\n".join((
            totals_section(data),
            vehicles_section(data),
            timeline_section(data),
            map_section(data),
            messages_section(data),
            io_section(data),
            event_latency_section(data),
        ))
    footer = (f"Generated {datetime.now(UTC):%Y-%m-%d %H:%M:%S} UTC from {source} "
              "(read-only). Distances in km, durations as H:MM, latencies in seconds.")
    return PAGE.substitute(title=esc(title), meta=esc(meta), body=body, style=STYLE,
                           footer=esc(footer))


def colors_of(data: DayData) -> charts.VehicleColors:
    """The vehicles' colours, shared by every chart of the page."""
    return charts.VehicleColors([v.vid for v in data.vehicles] + [t.vid for t in data.trips])


def totals_section(data: DayData) -> str:
    vehicles = data.vehicles
    speeds = [v.max_speed_kmh for v in vehicles if v.max_speed_kmh is not None]
    figures = [
        kpi("vehicles", "vehicles active", str(len(vehicles))),
        kpi("vehicles-driving", "vehicles that drove", str(sum(v.trips > 0 for v in vehicles))),
        kpi("trips", "trips", str(sum(v.trips for v in vehicles))),
        kpi("distance-km", "distance (km)", fmt_km(sum(v.distance_km for v in vehicles))),
        kpi("driving-time", "driving time (H:MM)",
            fmt_duration(sum(v.driving_s for v in vehicles))),
        kpi("idle-time", "idle time (H:MM)", fmt_duration(sum(v.idle_s for v in vehicles))),
        kpi("max-speed", "top speed (km/h)", fmt_speed(max(speeds) if speeds else None)),
        kpi("messages", "messages to drivers", str(data.messages.sent)),
        kpi("io-changes", "I/O changes", str(sum(i.changes for i in data.io_inputs))),
    ]
    return section("totals", "Fleet totals", f'<div class="kpis">{"".join(figures)}</div>',
                   note("Vehicles, trips, distance, driving and idle time come from "
                        "marts.vehicle_daily for this day."))


VEHICLE_COLUMNS = (
    Column("vehicle", "vid"),
    Column("trips", "trips", numeric=True),
    Column("distance (km)", "distance_km", numeric=True),
    Column("driving (H:MM)", "driving_s", numeric=True),
    Column("idle (H:MM)", "idle_s", numeric=True),
    Column("top speed (km/h)", "max_speed_kmh", numeric=True),
    Column("first seen", "first_seen"),
    Column("last seen", "last_seen"),
)


def vehicles_section(data: DayData) -> str:
    if not data.vehicles:
        return section("vehicles", "Distance and driving time per vehicle",
                       note("No vehicle has figures in marts.vehicle_daily for this day."))
    tz, day = data.window.tz, data.window.day
    rows = [
        (str(v.vid), str(v.trips), fmt_km(v.distance_km), fmt_duration(v.driving_s),
         fmt_duration(v.idle_s), fmt_speed(v.max_speed_kmh),
         fmt_clock(v.first_seen, tz, day), fmt_clock(v.last_seen, tz, day))
        for v in data.vehicles
    ]
    chart = figure(charts.vehicle_bars(data.vehicles, colors_of(data)),
                   f"Distance and driving time per vehicle (at most "
                   f"{charts.MAX_VEHICLES_CHARTED} vehicles, most distance first).")
    return section("vehicles", "Distance and driving time per vehicle", chart,
                   table(VEHICLE_COLUMNS, rows, row_keys=[str(v.vid) for v in data.vehicles],
                         css_id="vehicle-table"))


TRIP_COLUMNS = (
    Column("vehicle", "vid"),
    Column("start", "start_time"),
    Column("end", "end_time"),
    Column("duration (H:MM)", "duration_s", numeric=True),
    Column("distance (km)", "distance_km", numeric=True),
    Column("distance from", "distance_source"),
    Column("top speed (km/h)", "max_speed_kmh", numeric=True),
    Column("detected by", "detection"),
    Column("flags", "flags"),
)


def timeline_section(data: DayData) -> str:
    if not data.trips:
        return section("timeline", "Trips", note("No trips on this day."))
    window = data.window
    listed = data.trips[:MAX_TRIPS_LISTED]
    rows = [
        (str(t.vid), fmt_clock(t.start_time, window.tz, window.day),
         fmt_clock(t.end_time, window.tz, window.day) if t.end_time else "open",
         fmt_duration(t.duration_s), fmt_km(t.distance_km), t.distance_source or "",
         fmt_speed(t.max_speed_kmh), t.detection or "", t.flags)
        for t in listed
    ]
    more = (note(f"Listing the first {MAX_TRIPS_LISTED} of {len(data.trips)} trips.")
            if len(data.trips) > MAX_TRIPS_LISTED else "")
    chart = figure(charts.trip_timeline(data.trips, window, colors_of(data)),
                   "Trips per vehicle over the day; hatched bars are trips still open. "
                   "Trips that began the day before or end the day after are cut at "
                   "midnight.")
    return section("timeline", f"Trips ({len(data.trips)})", chart,
                   table(TRIP_COLUMNS, rows, row_keys=[t.trip_id for t in listed],
                         css_id="trip-table"), more)


def map_section(data: DayData) -> str:
    if not data.trips:
        return section("routes", "Routes", note("No trips on this day."))
    how = ("lines follow the GPS records of each trip (core.records)"
           if data.routes_from_records
           else "dotted lines join each trip's start and end (no GPS records available)")
    chart = figure(charts.route_map(data.trips, data.routes, colors_of(data)),
                   f"Routes of the day's trips: {how}; ● start, ■ end, one colour per vehicle.")
    return section("routes", "Routes", chart)


def messages_section(data: DayData) -> str:
    m = data.messages
    if not m.sent:
        return section("messages", "Messages to drivers", note("No messages sent this day."))
    figures = "".join((
        kpi("messages-sent", "sent", str(m.sent)),
        kpi("messages-delivered", "delivered", str(m.delivered)),
        kpi("messages-read", "read", str(m.read)),
        kpi("messages-error", "errors", str(m.errors)),
    ))
    latency = table(
        (Column("", "measure"), Column("median (s)", "median", numeric=True),
         Column("90th percentile (s)", "p90", numeric=True)),
        [("sent → delivered", fmt_seconds(m.median_to_delivered_s),
          fmt_seconds(m.p90_to_delivered_s)),
         ("sent → read", fmt_seconds(m.median_to_read_s), fmt_seconds(m.p90_to_read_s))],
        row_keys=["delivered", "read"], css_id="latency-table",
    )
    statuses = table((Column("final status", "final_status"),
                      Column("messages", "messages", numeric=True)),
                     [(s, str(n)) for s, n in m.final_status_counts],
                     row_keys=[s for s, _ in m.final_status_counts], css_id="status-table")
    parts = [f'<div class="kpis">{figures}</div>', latency]
    if m.seconds_to_delivered or m.seconds_to_read:
        parts.append(figure(charts.latency_histogram(m.seconds_to_delivered, m.seconds_to_read),
                            "Seconds from sending a message to its delivery and to its "
                            "reading by the driver (marts.message_latency)."))
    parts.append(statuses)
    return section("messages", "Messages to drivers", *parts)


IO_COLUMNS = (
    Column("input", "io"),
    Column("changes", "changes", numeric=True),
    Column("vehicles", "vehicles", numeric=True),
    Column("rises", "rises", numeric=True),
    Column("falls", "falls", numeric=True),
    Column("median time in previous state (H:MM)", "median_previous", numeric=True),
)


def io_section(data: DayData) -> str:
    if not data.io_inputs:
        return section("io", "I/O changes per input", note("No I/O changes this day."))
    rows = [
        (str(i.io), str(i.changes), str(i.vehicles), str(i.rises), str(i.falls),
         fmt_duration(i.median_seconds_in_previous_state))
        for i in data.io_inputs
    ]
    chart = figure(charts.io_changes_bars(data.io_inputs),
                   "Changes of each input's value (marts.io_changes); I/O 1 is usually the "
                   "ignition.")
    return section("io", "I/O changes per input", chart,
                   table(IO_COLUMNS, rows, row_keys=[str(i.io) for i in data.io_inputs],
                         css_id="io-table"))


def event_latency_section(data: DayData) -> str:
    if not data.event_latency:
        return section("event-latency", "Event latency", note("No inbound events this day."))
    rows = [
        (k.kind, str(k.events), fmt_seconds(k.median_device_to_server_s),
         fmt_seconds(k.median_server_to_pipeline_s))
        for k in data.event_latency
    ]
    columns = (Column("kind", "kind"), Column("events", "events", numeric=True),
               Column("median device → server (s)", "device_to_server_s", numeric=True),
               Column("median server → pipeline (s)", "server_to_pipeline_s", numeric=True))
    return section("event-latency", "Event latency", table(
        columns, rows, row_keys=[k.kind for k in data.event_latency],
        css_id="event-latency-table"))

