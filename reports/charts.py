"""Charts of the daily report, drawn with matplotlib and returned as inline SVG text.

Figures are built with the object-oriented API (``matplotlib.figure.Figure``), never
``pyplot``: no global state and no GUI backend, so this is safe inside an Airflow worker.
Text stays text in the SVG (``svg.fonttype = none``), which keeps the files small and the
labels searchable; the SVG's XML prolog and metadata are dropped so it can be inlined in
HTML and so the output does not change between two renders of the same data.
"""

from __future__ import annotations

import colorsys
import io
import math
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import timedelta

import matplotlib
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.markers import MarkerStyle
from matplotlib.path import Path
from matplotlib.ticker import MaxNLocator

from reports.days import DayWindow
from reports.queries import IoInput, RoutePoint, Stop, Trip, VehicleDay

MAX_VEHICLES_CHARTED = 40
MAX_LEGEND_VEHICLES = 12
_PALETTE = matplotlib.colormaps["tab10"].colors
_PALETTE_20 = matplotlib.colormaps["tab20"].colors[::2] + matplotlib.colormaps["tab20"].colors[1::2]
HOLE_DASHES = (0, (4, 3))
_SVG_RC = {"svg.fonttype": "none", "svg.hashsalt": "trackit-report", "font.size": 9}
_PROLOG = re.compile(r"\A.*?(?=<svg)", re.DOTALL)
_METADATA = re.compile(r"<metadata>.*?</metadata>\s*", re.DOTALL)


Color = tuple[float, float, float]


def distinct_colors(count: int) -> list[Color]:
    """``count`` colours, no two alike: tab10 up to 10, tab20 up to 20, then hues spread
    evenly around the wheel, neighbours told apart by lightness and saturation."""
    if count <= len(_PALETTE):
        return list(_PALETTE[:count])
    if count <= len(_PALETTE_20):
        return list(_PALETTE_20[:count])
    levels = ((0.42, 0.80), (0.62, 0.70), (0.30, 0.65))
    colors = []
    for i in range(count):
        lightness, saturation = levels[i % len(levels)]
        colors.append(colorsys.hls_to_rgb(i / count, lightness, saturation))
    return colors


class VehicleColors:
    """One colour per vehicle, the same in every chart and table of a report.

    Colours follow the order of the vehicle ids seen in the report (not ``vid % 10``), and
    no two vehicles share one, however many there are.
    """

    def __init__(self, vids: Iterable[int]) -> None:
        ordered = sorted(set(vids))
        self._colors = dict(zip(ordered, distinct_colors(len(ordered)), strict=True))

    def __call__(self, vid: int) -> Color:
        return self._colors.get(vid, (0.5, 0.5, 0.5))

    def hex(self, vid: int) -> str:
        """``#rrggbb`` of the vehicle's colour (for HTML swatches)."""
        return "#" + "".join(f"{round(c * 255):02x}" for c in self(vid))


def to_svg(fig: Figure) -> str:
    """``fig`` as an ``<svg>`` element ready to inline in HTML."""
    buffer = io.StringIO()
    with matplotlib.rc_context(_SVG_RC):
        fig.savefig(buffer, format="svg", metadata={"Date": None})
    svg = _METADATA.sub("", _PROLOG.sub("", buffer.getvalue(), count=1), count=1)
    return svg.strip()


def _figure(width: float, height: float) -> Figure:
    with matplotlib.rc_context(_SVG_RC):
        return Figure(figsize=(width, height), layout="constrained")


def vehicle_bars(vehicles: Sequence[VehicleDay], color: VehicleColors) -> str:
    """Distance and driving time per vehicle, side by side (most distance on top)."""
    shown = sorted(vehicles, key=lambda v: (-v.distance_km, v.vid))[:MAX_VEHICLES_CHARTED]
    shown.reverse()  # barh draws from the bottom up
    rows = list(range(len(shown)))
    colors = [color(v.vid) for v in shown]
    fig = _figure(9, 1.2 + 0.28 * len(shown))
    distance_ax, driving_ax = fig.subplots(1, 2, sharey=True)
    distance_ax.barh(rows, [v.distance_km for v in shown], color=colors)
    distance_ax.set_yticks(rows, [str(v.vid) for v in shown])
    distance_ax.set_xlabel("distance (km)")
    distance_ax.set_ylabel("vehicle")
    driving_ax.barh(rows, [v.driving_s / 3600 for v in shown], color=colors)
    driving_ax.set_xlabel("driving time (h)")
    for ax in (distance_ax, driving_ax):
        ax.grid(axis="x", alpha=0.3)
        ax.set_axisbelow(True)
    return to_svg(fig)


def trip_timeline(trips: Sequence[Trip], window: DayWindow, color: VehicleColors) -> str:
    """A Gantt-like chart: one row per vehicle, one bar per trip, local clock on x."""
    vids = sorted({t.vid for t in trips})[:MAX_VEHICLES_CHARTED]
    rows = {vid: i for i, vid in enumerate(reversed(vids))}
    fig = _figure(9, 1.2 + 0.32 * len(vids))
    ax = fig.subplots()
    # One collection per vehicle and kind (closed / open) keeps a big fleet's chart fast.
    bars: dict[tuple[int, bool], list[tuple[float, float]]] = defaultdict(list)
    for trip in trips:
        if trip.vid not in rows:
            continue
        start_h = max(window.hours_since_start(trip.start_time), 0.0)
        end_h = min(window.hours_since_start(trip.end_time or window.end), window.hours)
        bars[trip.vid, trip.is_open].append((start_h, max(end_h - start_h, 0.02)))
    for (vid, is_open), spans in bars.items():
        ax.broken_barh(spans, (rows[vid] - 0.35, 0.7), facecolors=color(vid),
                       edgecolors="black" if is_open else "none",
                       hatch="//" if is_open else None)
    ax.set_yticks(list(rows.values()), [str(vid) for vid in rows])
    ax.set_ylim(-0.7, len(rows) - 0.3)
    ax.set_ylabel("vehicle")
    step = 2 if window.hours <= 25 else 6 * max(1, math.ceil(window.hours / 72))
    clock = "%H:%M" if window.is_one_day else "%m-%d %H:%M"
    ticks = list(range(0, math.floor(window.hours) + 1, step))
    ax.set_xticks(ticks, [f"{window.local(window.start + timedelta(hours=h)):{clock}}"
                          for h in ticks])
    if not window.is_one_day:
        ax.tick_params(axis="x", labelrotation=30)
    ax.set_xlim(0, window.hours)
    ax.set_xlabel(f"local time ({window.tz})")
    ax.grid(axis="x", alpha=0.3)
    ax.set_axisbelow(True)
    return to_svg(fig)


def _pin() -> MarkerStyle:
    """A map pin: a round head above a point, the point on the location."""
    head = Path.circle(center=(0.0, 1.6), radius=0.75)
    tip = Path([(0.0, 0.0), (-0.62, 1.2), (0.62, 1.2), (0.0, 0.0)],
               [Path.MOVETO, Path.LINETO, Path.LINETO, Path.CLOSEPOLY])
    return MarkerStyle(Path.make_compound_path(tip, head))


PIN = _pin()
PIN_AREA = (30.0, 260.0)
"""Marker areas (pt²) of the shortest and the longest stop drawn on a map."""


def pin_sizes(dwell_s: Sequence[float]) -> list[float]:
    """Marker areas growing with dwell time (by its square root, so a night's stop does
    not swallow the map; the longest stop of the map gets the largest pin)."""
    longest = max((max(d, 0.0) for d in dwell_s), default=0.0)
    low, high = PIN_AREA
    if longest <= 0:
        return [low for _ in dwell_s]
    return [low + (high - low) * math.sqrt(max(d, 0.0) / longest) for d in dwell_s]


def split_at_holes(points: Sequence[RoutePoint]
                   ) -> tuple[list[list[tuple[float, float]]], list[list[tuple[float, float]]]]:
    """A trip's line as (solid runs, dashed hole segments), in lon/lat."""
    solid: list[list[tuple[float, float]]] = []
    holes: list[list[tuple[float, float]]] = []
    run: list[tuple[float, float]] = []
    for point in points:
        xy = (point.lon, point.lat)
        if point.hole_before and run:
            holes.append([run[-1], xy])
            if len(run) >= 2:
                solid.append(run)
            run = []
        run.append(xy)
    if len(run) >= 2:
        solid.append(run)
    return solid, holes


def route_map_figure(trips: Sequence[Trip], routes: dict[str, list[RoutePoint]],
                     color: VehicleColors, stops: Sequence[Stop] = ()) -> Figure:
    """Routes as lat/lon lines (or dotted start→end segments), data holes dashed, start ●
    and end ■ marked, and the stops as pins sized by their dwell time."""
    fig = _figure(9, 6.5)
    ax = fig.subplots()
    # Collections (one artist per line style, one per marker kind) keep a big fleet fast.
    lines: dict[str, tuple[list[list[tuple[float, float]]], list[Color]]] = {
        "solid": ([], []), "hole": ([], []), "guess": ([], [])}
    starts: list[tuple[float, float, Color]] = []
    ends: list[tuple[float, float, Color]] = []
    for trip in trips:
        trip_color = color(trip.vid)
        if trip.start_lat is not None and trip.start_lon is not None:
            starts.append((trip.start_lon, trip.start_lat, trip_color))
        if trip.end_lat is not None and trip.end_lon is not None:
            ends.append((trip.end_lon, trip.end_lat, trip_color))
        points = routes.get(trip.trip_id, [])
        if len(points) >= 2:
            solid, holes = split_at_holes(points)
            for kind, parts in (("solid", solid), ("hole", holes)):
                lines[kind][0].extend(parts)
                lines[kind][1].extend([trip_color] * len(parts))
        elif None not in (trip.start_lat, trip.start_lon, trip.end_lat, trip.end_lon):
            lines["guess"][0].append([(trip.start_lon, trip.start_lat),
                                      (trip.end_lon, trip.end_lat)])
            lines["guess"][1].append(trip_color)
    styles = {"solid": "solid", "hole": HOLE_DASHES, "guess": "dotted"}
    for kind, (segments, colors) in lines.items():
        if segments:
            ax.add_collection(LineCollection(segments, colors=colors, linestyles=styles[kind],
                                             linewidths=1.2, alpha=0.85,
                                             gid=f"route-{kind}"))
    if stops:
        ax.scatter([s.lon for s in stops], [s.lat for s in stops],
                   s=pin_sizes([s.duration_s for s in stops]), marker=PIN,
                   c=[color(s.vid) for s in stops], edgecolors="black", linewidths=0.6,
                   alpha=0.8, zorder=4, gid="stop-pins")
    for points, marker, edge in ((starts, "o", "face"), (ends, "s", "black")):
        if points:
            xs, ys, colors = zip(*points, strict=True)
            ax.scatter(xs, ys, c=list(colors), marker=marker, s=22, edgecolors=edge,
                       linewidths=0.5, zorder=3)
    lats = ([lat for segments, _ in lines.values() for line in segments for _, lat in line]
            + [p[1] for p in starts + ends] + [s.lat for s in stops])
    ax.autoscale_view()
    if lats:
        # Equirectangular view: a degree of longitude is cos(lat) of a degree of latitude.
        mean_lat = sum(lats) / len(lats)
        ax.set_aspect(1 / max(math.cos(math.radians(mean_lat)), 0.1), adjustable="datalim")
    vids = sorted({t.vid for t in trips} | {s.vid for s in stops})
    handles = []
    if 0 < len(vids) <= MAX_LEGEND_VEHICLES:
        handles = [Line2D([], [], color=color(v), label=str(v)) for v in vids]
    if lines["hole"][0]:
        handles.append(Line2D([], [], color="grey", linestyle=HOLE_DASHES, label="data hole"))
    if stops:
        handles.append(Line2D([], [], color="grey", marker=PIN, markersize=9, linestyle="none",
                              markeredgecolor="black", label="stop (size: dwell)"))
    if handles:
        ax.legend(handles=handles, title="vehicle" if len(vids) <= MAX_LEGEND_VEHICLES
                  else None, fontsize="small")
    ax.set_xlabel("longitude")
    ax.set_ylabel("latitude")
    ax.grid(alpha=0.3)
    return fig


def route_map(trips: Sequence[Trip], routes: dict[str, list[RoutePoint]],
              color: VehicleColors, stops: Sequence[Stop] = ()) -> str:
    """``route_map_figure`` as inline SVG."""
    return to_svg(route_map_figure(trips, routes, color, stops))


def latency_histogram(to_delivered: Sequence[float], to_read: Sequence[float]) -> str:
    """Distribution of seconds from sending a message to its delivery and to its reading."""
    fig = _figure(9, 3.2)
    ax = fig.subplots()
    values = [*to_delivered, *to_read]
    top = max(values) if values else 1.0
    bins = _bins(0.0, max(top, 1.0), 30)
    if to_delivered:
        ax.hist(to_delivered, bins=bins, alpha=0.6, label="to delivered", color=_PALETTE[0])
    if to_read:
        ax.hist(to_read, bins=bins, alpha=0.6, label="to read", color=_PALETTE[1])
    ax.set_xlabel("seconds after sending")
    ax.set_ylabel("messages")
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    if values:
        ax.legend()
    ax.grid(alpha=0.3)
    ax.set_axisbelow(True)
    return to_svg(fig)


def _bins(low: float, high: float, count: int) -> list[float]:
    step = (high - low) / count
    return [low + i * step for i in range(count + 1)]


def io_changes_bars(inputs: Sequence[IoInput]) -> str:
    """Changes per input, split into rises (value up) and falls (value down)."""
    fig = _figure(9, 3)
    ax = fig.subplots()
    labels = [f"I/O {i.io}" for i in inputs]
    rises = [i.rises for i in inputs]
    falls = [i.falls for i in inputs]
    other = [i.changes - i.rises - i.falls for i in inputs]
    ax.bar(labels, rises, width=0.5, label="rises", color=_PALETTE[2])
    ax.bar(labels, falls, width=0.5, bottom=rises, label="falls", color=_PALETTE[3])
    ax.bar(labels, other, width=0.5, bottom=[r + f for r, f in zip(rises, falls, strict=True)],
           label="other", color=_PALETTE[7])
    ax.set_ylabel("changes")
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.legend()
    ax.grid(axis="y", alpha=0.3)
    ax.set_axisbelow(True)
    return to_svg(fig)
