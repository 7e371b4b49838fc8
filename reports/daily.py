"""The fleet report: one self-contained HTML page about one local day or a range of days.

``render_daily_report`` reads the window from the warehouse marts (``reports.queries``),
draws the charts (``reports.charts``) and fills the page (``reports.template``);
``write_daily_report`` publishes it atomically, so a reader (or a web server) never sees a
half-written file. Used by ``trackit report`` and the ``trackit_daily_report`` DAG.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime
from pathlib import Path

from lake.layout import DataLayout
from lake.storage import publishing
from reports import charts
from reports.days import range_window
from reports.html import (
    MISSING,
    Column,
    esc,
    figure,
    fmt_clock,
    fmt_duration,
    fmt_km,
    fmt_seconds,
    fmt_speed,
    fmt_when,
    kpi,
    note,
    section,
    table,
    warning,
)
from reports.queries import (
    SIMULATED_CLOCK_S,
    DayData,
    VehicleFilter,
    load_day,
    open_warehouse,
)
from reports.template import CSV_SCRIPT, PAGE, STYLE

__all__ = ["render_daily_report", "report_path", "write_daily_report"]

MAX_TRIPS_LISTED = 300
MAX_ROWS_LISTED = 300
REPORTS_DIR = "reports"
SHOWN_SETTINGS = ("timezone", "sparse_gap_s", "max_gap_s", "min_stop_s", "min_trip_m",
                  "min_speed_kmh", "silent_after_s", "ignition_io")
"""Build settings named in the page's header (all of them are in its last section)."""


def report_path(data_dir: Path, day: date, last_day: date | None = None,
                vehicles: Iterable[int] | None = None) -> Path:
    """Where a report lives under a data directory: ``reports/<day>.html``, or
    ``reports/<day>_<last_day>.html`` for a range, with ``_vehicles-<vid>-…`` when it is
    about some vehicles only."""
    stem = day.isoformat()
    if last_day is not None and last_day != day:
        stem += f"_{last_day.isoformat()}"
    if vehicles is not None:
        stem += "_vehicles-" + "-".join(str(v) for v in sorted(set(vehicles)))
    return data_dir / REPORTS_DIR / f"{stem}.html"


def render_daily_report(data_dir: Path | DataLayout, day: date, tz: str = "UTC", *,
                        last_day: date | None = None,
                        vehicles: Iterable[int] | None = None) -> str:
    """The HTML report of the local days ``day`` to ``last_day`` (default: ``day``) in
    ``tz``, for ``vehicles`` (default: the whole fleet), from the warehouse of ``data_dir``.

    Raises ``TrackitError`` when the warehouse is missing, cannot be opened, or lacks the
    required marts. A window without any activity gives a short page that says so.
    """
    window = range_window(day, last_day or day, tz)
    selection: VehicleFilter = None if vehicles is None else frozenset(vehicles)
    con = open_warehouse(data_dir)
    try:
        data = load_day(con, window, selection)
    finally:
        con.close()
    return render_page(data, source=DataLayout(data_dir).warehouse)


def write_daily_report(data_dir: Path | DataLayout, day: date, out: Path, tz: str = "UTC", *,
                       last_day: date | None = None,
                       vehicles: Iterable[int] | None = None) -> Path:
    """Render the report and publish it atomically at ``out``; returns ``out``."""
    page = render_daily_report(data_dir, day, tz, last_day=last_day, vehicles=vehicles)
    with publishing(out) as tmp:
        tmp.write_text(page, encoding="utf-8")
    return out


def render_page(data: DayData, source: Path) -> str:
    """The whole page for already loaded ``data``."""
    window = data.window
    which = (f" — vehicles {', '.join(str(v) for v in data.vehicle_filter)}"
             if data.vehicle_filter else "")
    title = f"TRACKiT fleet report — {window.label}{which}"
    days = "Local day" if window.is_one_day else "Local days"
    meta = (f"{days} {window.label} in {window.tz} "
            f"({window.start:%Y-%m-%d %H:%M} to {window.end:%Y-%m-%d %H:%M} UTC). "
            + build_summary(data))
    notices = zone_notice(data)
    if data.is_empty:
        body = notices + (f'<div class="empty" id="no-activity">No activity recorded on '
                          f"{esc(window.label)} ({esc(window.tz)}).</div>")
    else:
        body = notices + "\n".join((
            totals_section(data),
            vehicles_section(data),
            timeline_section(data),
            map_section(data),
            overspeed_section(data),
            drivers_section(data),
            status_section(data),
            places_section(data),
            deliveries_section(data),
            messages_section(data),
            io_section(data),
            event_latency_section(data),
            settings_section(data),
        ))
    footer = (f"Generated {datetime.now(UTC):%Y-%m-%d %H:%M:%S} UTC from {source} "
              "(read-only). Distances in km, durations as H:MM, latencies in seconds. "
              "Every table has a CSV link.")
    name = f"trackit-{window.label.replace(' to ', '_')}"
    return PAGE.substitute(title=esc(title), meta=esc(meta), body=body, style=STYLE,
                           footer=esc(footer), script=CSV_SCRIPT, name=esc(name))


def build_summary(data: DayData) -> str:
    """One sentence: the build's time zone and main thresholds."""
    if not data.settings:
        return "The warehouse does not record its build settings (meta.build_settings)."
    shown = ", ".join(f"{k} {data.settings[k]}" for k in SHOWN_SETTINGS[1:]
                      if k in data.settings)
    return (f"Warehouse built with days in {data.build_tz or 'an unrecorded time zone'}"
            + (f"; thresholds: {shown}." if shown else "."))


def zone_notice(data: DayData) -> str:
    """Says where the day figures come from when the build's days are not the report's."""
    if data.vehicles_from_mart:
        return ""
    tz = data.window.tz
    if data.build_tz is None:
        why = "The warehouse does not record the time zone of its days (meta.build_settings)"
    else:
        why = (f"This report's days are in {tz}, the warehouse's days "
               f"(marts.vehicle_daily) in {data.build_tz}")
    return warning("tz-notice", f"{why}: the day figures are computed from the trips and "
                                f"stops that start in the {tz} window, not from "
                                "marts.vehicle_daily.")


def colors_of(data: DayData) -> charts.VehicleColors:
    """The vehicles' colours, shared by every chart and table of the page."""
    vids = ([v.vid for v in data.vehicles] + [t.vid for t in data.trips]
            + [s.vid for s in data.stops])
    return charts.VehicleColors(vids)


def clock(data: DayData, instant: datetime | None) -> str:
    """Local ``HH:MM`` (with ``MM-DD`` on another day, always for a range of days)."""
    window = data.window
    if window.is_one_day:
        return fmt_clock(instant, window.tz, window.day)
    return fmt_clock(instant, window.tz, date.min)


def absent(key: str, title: str, mart: str) -> str:
    return section(key, title, note(f"marts.{mart} is not in this warehouse (a build with "
                                    "a newer trackit adds it)."),)


def totals_section(data: DayData) -> str:
    vehicles = data.vehicles
    speeds = [v.max_speed_kmh for v in vehicles if v.max_speed_kmh is not None]
    idles = [v.idle_s for v in vehicles if v.idle_s is not None]
    figures = [
        kpi("vehicles", "vehicles active", str(len(vehicles))),
        kpi("vehicles-driving", "vehicles that drove", str(sum(v.trips > 0 for v in vehicles))),
        kpi("trips", "trips", str(sum(v.trips for v in vehicles))),
        kpi("distance-km", "distance (km)", fmt_km(sum(v.distance_km for v in vehicles))),
        kpi("driving-time", "driving time (H:MM)",
            fmt_duration(sum(v.driving_s for v in vehicles))),
        kpi("idle-time", "idle time (H:MM)", fmt_duration(sum(idles)) if idles else MISSING),
        kpi("max-speed", "top speed (km/h)", fmt_speed(max(speeds) if speeds else None)),
        kpi("overspeed", "overspeed episodes",
            MISSING if data.overspeed is None else str(len(data.overspeed))),
        kpi("silent", "silent vehicles now",
            MISSING if data.status is None else str(len(data.status.silent))),
        kpi("place-visits", "place visits",
            MISSING if data.place_visits is None else str(len(data.place_visits))),
        kpi("deliveries", "deliveries",
            MISSING if data.deliveries is None else str(len(data.deliveries))),
        kpi("messages", "messages to drivers", str(data.messages.sent)),
        kpi("io-changes", "I/O changes", str(sum(i.changes for i in data.io_inputs))),
    ]
    source = ("marts.vehicle_daily for these days" if data.vehicles_from_mart
              else f"the trips and stops starting in the {data.window.tz} window")
    unknown = len(vehicles) - len(idles)
    parts = [f"Vehicles, trips, distance, driving and idle time come from {source}; a trip "
             "counts on the day it starts. Idle: ignition on at ≤ the build's min_speed_kmh, "
             "in trips and stops."]
    if unknown:
        parts.append(f"Idle time is unknown for {unknown} vehicle(s) that never reported "
                     "their ignition (shown as –, not counted as 0).")
    return section("totals", "Fleet totals", f'<div class="kpis">{"".join(figures)}</div>',
                   note(" ".join(parts)))


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
    title = "Distance and driving time per vehicle"
    if not data.vehicles:
        return section("vehicles", title, note("No vehicle has figures for these days."))
    color = colors_of(data)
    rows = [
        (str(v.vid), str(v.trips), fmt_km(v.distance_km), fmt_duration(v.driving_s),
         fmt_duration(v.idle_s), fmt_speed(v.max_speed_kmh),
         clock(data, v.first_seen), clock(data, v.last_seen))
        for v in data.vehicles
    ]
    chart = figure(charts.vehicle_bars(data.vehicles, color),
                   f"Distance and driving time per vehicle (at most "
                   f"{charts.MAX_VEHICLES_CHARTED} vehicles, most distance first).")
    return section("vehicles", title, chart,
                   table(VEHICLE_COLUMNS, rows, row_keys=[str(v.vid) for v in data.vehicles],
                         css_id="vehicle-table",
                         swatches=[color.hex(v.vid) for v in data.vehicles]))


TRIP_COLUMNS = (
    Column("vehicle", "vid"),
    Column("start", "start_time"),
    Column("end", "end_time"),
    Column("duration (H:MM)", "duration_s", numeric=True),
    Column("distance (km)", "distance_km", numeric=True),
    Column("distance from", "distance_source"),
    Column("top speed (km/h)", "max_speed_kmh", numeric=True),
    Column("idle (H:MM)", "idle_s", numeric=True),
    Column("records", "n_records", numeric=True),
    Column("longest gap (s)", "longest_gap_s", numeric=True),
    Column("driver card", "driver_card"),
    Column("detected by", "detection"),
    Column("flags", "flags"),
)


def _trip_table(data: DayData, trips: list, css_id: str) -> str:
    color = colors_of(data)
    rows = [
        (str(t.vid), clock(data, t.start_time),
         clock(data, t.end_time) if t.end_time else "open",
         fmt_duration(t.duration_s), fmt_km(t.distance_km), t.distance_source or "",
         fmt_speed(t.max_speed_kmh), fmt_duration(t.idle_s),
         MISSING if t.n_records is None else str(t.n_records),
         fmt_speed(t.longest_gap_s), t.driver_card or "", t.detection or "", t.flags)
        for t in trips
    ]
    return table(TRIP_COLUMNS, rows, row_keys=[t.trip_id for t in trips], css_id=css_id,
                 swatches=[color.hex(t.vid) for t in trips])


def timeline_section(data: DayData) -> str:
    if not data.trips:
        return section("timeline", "Trips", note("No trips on these days."))
    window = data.window
    day_trips, earlier = data.day_trips, data.earlier_trips
    listed = day_trips[:MAX_TRIPS_LISTED]
    more = (note(f"Listing the first {MAX_TRIPS_LISTED} of {len(day_trips)} trips.")
            if len(day_trips) > MAX_TRIPS_LISTED else "")
    chart = figure(charts.trip_timeline(data.trips, window, colors_of(data)),
                   "Trips per vehicle; hatched bars are trips still open. Trips that began "
                   "before the first day or end after the last are cut at midnight.")
    parts = [chart, _trip_table(data, listed, "trip-table") if listed
             else note("No trip starts on these days."), more]
    if earlier:
        parts += [f"<h3>Running at {esc(clock(data, window.start))}: {len(earlier)} trip(s) "
                  "that began earlier</h3>",
                  note("Drawn on the timeline and the map, counted on the day they began."),
                  _trip_table(data, earlier[:MAX_TRIPS_LISTED], "earlier-trip-table")]
    return section("timeline", f"Trips ({len(day_trips)})", *parts)


def map_section(data: DayData) -> str:
    if not data.trips and not data.stops:
        return section("routes", "Routes and stops", note("No trips on these days."))
    how = ("lines follow the GPS records of each trip (core.records); a step between two "
           f"records longer than {data.sparse_gap_s:g} s (the build's sparse_gap_s) is a "
           "data hole, drawn dashed" if data.routes_from_records
           else "dotted lines join each trip's start and end (no GPS records available)")
    chart = charts.route_map(data.trips, data.routes, colors_of(data), data.stops)
    return section("routes", "Routes and stops", figure(
        chart, f"Routes of the trips: {how}; ● start, ■ end; pins are stops, sized by their "
               "dwell time (marts.stops); one colour per vehicle.", css_id="route-map"))


def overspeed_section(data: DayData) -> str:
    title = "Overspeed episodes"
    if data.overspeed is None:
        return absent("overspeed", title, "overspeed")
    if not data.overspeed:
        return section("overspeed", title, note("No overspeed episode on these days."))
    color = colors_of(data)
    listed = data.overspeed[:MAX_ROWS_LISTED]
    columns = (Column("vehicle", "vid"), Column("driver card", "driver_card"),
               Column("start", "start_time"), Column("duration (s)", "duration_s", True),
               Column("top speed (km/h)", "max_speed_kmh", True),
               Column("limit (km/h)", "limit_kmh", True),
               Column("distance (km)", "distance_km", True))
    rows = [(str(o.vid), o.driver_card or "", clock(data, o.start_time),
             fmt_speed(o.duration_s), fmt_speed(o.max_speed_kmh), fmt_speed(o.limit_kmh),
             fmt_km(o.distance_km)) for o in listed]
    keys = [f"{o.vid}-{o.start_time.isoformat()}" for o in listed]
    more = (note(f"Listing the first {MAX_ROWS_LISTED} of {len(data.overspeed)} episodes.")
            if len(data.overspeed) > MAX_ROWS_LISTED else "")
    return section("overspeed", f"{title} ({len(data.overspeed)})",
                   table(columns, rows, row_keys=keys, css_id="overspeed-table",
                         swatches=[color.hex(o.vid) for o in listed]), more)


def drivers_section(data: DayData) -> str:
    title = "Trips per driver"
    if not data.drivers:
        return section("drivers", title, note("No trips on these days."))
    columns = (Column("driver card", "driver_card"), Column("vehicles", "vehicles", True),
               Column("trips", "trips", True), Column("distance (km)", "distance_km", True),
               Column("driving (H:MM)", "driving_s", True),
               Column("idle (H:MM)", "idle_s", True),
               Column("overspeed episodes", "overspeed_episodes", True))
    rows = [(d.driver_card or "(no card)", str(d.vehicles), str(d.trips),
             fmt_km(d.distance_km), fmt_duration(d.driving_s), fmt_duration(d.idle_s),
             MISSING if d.overspeed_episodes is None else str(d.overspeed_episodes))
            for d in data.drivers]
    return section("drivers", title, table(
        columns, rows, row_keys=[d.driver_card or "(no card)" for d in data.drivers],
        css_id="driver-table"),
        note("From the trips starting on these days (marts.trips.driver_card) and "
             "marts.overspeed."))


def status_section(data: DayData) -> str:
    title = "Silent vehicles"
    status = data.status
    if status is None:
        return absent("status", title, "vehicle_status")
    tz = data.window.tz
    figures = "".join(kpi(f"state-{s}", s, str(status.count(s)))
                      for s in ("moving", "idle", "stopped", "silent"))
    about = note(f"Status as of {fmt_when(status.as_of, tz)} ({tz}), the warehouse's latest "
                 "device time (marts.vehicle_status): the fleet now, not on the report's "
                 "days.")
    silent = status.silent
    if not silent:
        return section("status", title, f'<div class="kpis">{figures}</div>', about,
                       note("No vehicle is silent."))
    color = colors_of(data)
    columns = (Column("vehicle", "vid"), Column("last seen", "last_seen"),
               Column("silent for (H:MM)", "silent_s", True),
               Column("last position", "position"), Column("driver card", "driver_card"))
    rows = [(str(s.vid), fmt_when(s.last_seen, tz), fmt_duration(s.silent_s),
             MISSING if s.lat is None or s.lon is None else f"{s.lat:.5f}, {s.lon:.5f}",
             s.driver_card or "") for s in silent]
    return section("status", f"{title} ({len(silent)})", f'<div class="kpis">{figures}</div>',
                   about, table(columns, rows, row_keys=[str(s.vid) for s in silent],
                                css_id="silent-table",
                                swatches=[color.hex(s.vid) for s in silent]))


def places_section(data: DayData) -> str:
    title = "Place visits"
    visits = data.place_visits
    if visits is None:
        return absent("places", title, "place_visits")
    if not visits:
        return section("places", title, note("No place visited on these days."))
    per_place: dict[str, list] = {}
    for v in visits:
        per_place.setdefault(v.place, []).append(v)
    summary = table(
        (Column("place", "place"), Column("kind", "kind"), Column("visits", "visits", True),
         Column("vehicles", "vehicles", True), Column("dwell (H:MM)", "dwell_s", True)),
        [(place, vs[0].kind or "", str(len(vs)), str(len({v.vid for v in vs})),
          fmt_duration(sum(v.dwell_s or 0 for v in vs))) for place, vs in per_place.items()],
        row_keys=list(per_place), css_id="place-table")
    color = colors_of(data)
    listed = visits[:MAX_ROWS_LISTED]
    detail = table(
        (Column("vehicle", "vid"), Column("place", "place"), Column("arrived", "arrived_at"),
         Column("left", "left_at"), Column("dwell (H:MM)", "dwell_s", True)),
        [(str(v.vid), v.place, clock(data, v.arrived_at),
          clock(data, v.left_at) if v.left_at else "still there",
          fmt_duration(v.dwell_s)) for v in listed],
        row_keys=[f"{v.vid}-{v.arrived_at.isoformat()}" for v in listed],
        css_id="place-visit-table", swatches=[color.hex(v.vid) for v in listed])
    return section("places", f"{title} ({len(visits)})", summary, detail,
                   note("Visits that began on these days (marts.place_visits)."))


def deliveries_section(data: DayData) -> str:
    title = "Deliveries"
    deliveries = data.deliveries
    if deliveries is None:
        return absent("deliveries", title, "deliveries")
    if not deliveries:
        return section("deliveries", title, note("No deliveries on these days."))
    done = sum(d.delivered is True for d in deliveries)
    failed = sum(d.delivered is False for d in deliveries)
    figures = "".join((kpi("deliveries-delivered", "delivered", str(done)),
                       kpi("deliveries-failed", "not delivered", str(failed))))
    color = colors_of(data)
    listed = deliveries[:MAX_ROWS_LISTED]
    rows = [(str(d.vid), d.service_id, clock(data, d.tmx),
             MISSING if d.delivered is None else ("yes" if d.delivered else "no"),
             d.place or "", d.message or "") for d in listed]
    columns = (Column("vehicle", "vid"), Column("service", "service_id"),
               Column("time", "tmx"), Column("delivered", "delivered"),
               Column("place", "place"), Column("message", "message"))
    return section("deliveries", f"{title} ({len(deliveries)})",
                   f'<div class="kpis">{figures}</div>',
                   table(columns, rows,
                         row_keys=[f"{d.vid}-{d.service_id}-{d.tmx.isoformat()}"
                                   for d in listed],
                         css_id="delivery-table", swatches=[color.hex(d.vid) for d in listed]))


def messages_section(data: DayData) -> str:
    m = data.messages
    if not m.sent:
        return section("messages", "Messages to drivers", note("No messages sent these days."))
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
        return section("io", "I/O changes per input", note("No I/O changes these days."))
    rows = [
        (str(i.io), str(i.changes), str(i.vehicles), str(i.rises), str(i.falls),
         fmt_duration(i.median_seconds_in_previous_state))
        for i in data.io_inputs
    ]
    chart = figure(charts.io_changes_bars(data.io_inputs),
                   "Changes of each input's value (marts.io_changes; an input's first value "
                   "ever seen is not a change); I/O 1 is usually the ignition.")
    return section("io", "I/O changes per input", chart,
                   table(IO_COLUMNS, rows, row_keys=[str(i.io) for i in data.io_inputs],
                         css_id="io-table"))


SIMULATED = "simulated clock: not a real latency"


def event_latency_section(data: DayData) -> str:
    if not data.event_latency:
        return section("event-latency", "Event latency", note("No inbound events these days."))
    rows = [
        (k.kind, str(k.events), fmt_seconds(k.median_device_to_server_s),
         fmt_seconds(k.median_server_to_pipeline_s), SIMULATED if k.simulated_clock else "")
        for k in data.event_latency
    ]
    columns = (Column("kind", "kind"), Column("events", "events", numeric=True),
               Column("median device → server (s)", "device_to_server_s", numeric=True),
               Column("median server → pipeline (s)", "server_to_pipeline_s", numeric=True),
               Column("server → pipeline is", "server_to_pipeline_note"))
    parts = []
    if any(k.simulated_clock for k in data.event_latency):
        parts.append(warning(
            "simulated-clock",
            f"Server → pipeline: {SIMULATED}. The server's times are more than "
            f"{SIMULATED_CLOCK_S / 3600:g} hours away from the pipeline's receive times for "
            "nearly every event, as with the simulator's clock (replays, speed-ups): the "
            "figure is the clocks' offset."))
    parts.append(table(columns, rows, row_keys=[k.kind for k in data.event_latency],
                       css_id="event-latency-table"))
    return section("event-latency", "Event latency", *parts)


def settings_section(data: DayData) -> str:
    title = "Build settings"
    if not data.settings:
        return section("settings", title, note(
            "The warehouse does not record its build settings (meta.build_settings); "
            "rebuild it with `trackit build` to see its time zone and thresholds."))
    keys = sorted(data.settings, key=lambda k: (k not in SHOWN_SETTINGS, k))
    return section("settings", title, table(
        (Column("setting", "key"), Column("value", "value")),
        [(k, data.settings[k]) for k in keys], row_keys=keys, css_id="settings-table"),
        note("The latest build's settings (meta.build_settings): the time zone of its days "
             "and the thresholds of its trip rules."))

