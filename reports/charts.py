"""Charts of the daily report, drawn with matplotlib and returned as inline SVG text.

Figures are built with the object-oriented API (``matplotlib.figure.Figure``), never
``pyplot``: no global state and no GUI backend, so this is safe inside an Airflow worker.
Text stays text in the SVG (``svg.fonttype = none``), which keeps the files small and the
labels searchable; the SVG's XML prolog and metadata are dropped so it can be inlined in
HTML and so the output does not change between two renders of the same data.
"""

from __future__ import annotations

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
from matplotlib.ticker import MaxNLocator

from reports.days import DayWindow
from reports.queries import IoInput, Trip, VehicleDay

MAX_VEHICLES_CHARTED = 40
MAX_LEGEND_VEHICLES = 12
_PALETTE = matplotlib.colormaps["tab10"].colors
_SVG_RC = {"svg.fonttype": "none", "svg.hashsalt": "trackit-report", "font.size": 9}
_PROLOG = re.compile(r"\A.*?(?=<svg)", re.DOTALL)
_METADATA = re.compile(r"<metadata>.*?</metadata>\s*", re.DOTALL)


Color = tuple[float, float, float]


class VehicleColors:
    """One colour per vehicle, the same in every chart of a report.

    Colours follow the order of the vehicle ids seen in the report (not ``vid % 10``), so
    ten vehicles always get ten different colours whatever their ids are.
    """

    def __init__(self, vids: Iterable[int]) -> None:
        self._index = {vid: i for i, vid in enumerate(sorted(set(vids)))}

    def __call__(self, vid: int) -> Color:
        return _PALETTE[self._index.get(vid, vid) % len(_PALETTE)]


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
    ticks = list(range(0, math.floor(window.hours) + 1, 2))
    ax.set_xticks(ticks, [f"{window.local(window.start + timedelta(hours=h)):%H:%M}"
                          for h in ticks])
    ax.set_xlim(0, window.hours)
    ax.set_xlabel(f"local time ({window.tz})")
    ax.grid(axis="x", alpha=0.3)
    ax.set_axisbelow(True)
    return to_svg(fig)


def route_map(trips: Sequence[Trip], routes: dict[str, list[tuple[float, float]]],
              color: VehicleColors) -> str:
    """Routes as lat/lon lines (or start→end segments), start ● and end ■ marked."""
    fig = _figure(9, 6.5)
    ax = fig.subplots()
    # Collections (one artist for all lines, one per marker kind) keep a big fleet fast.
    lines: list[list[tuple[float, float]]] = []
    line_colors: list[Color] = []
    line_styles: list[str] = []
    starts: list[tuple[float, float, Color]] = []
    ends: list[tuple[float, float, Color]] = []
    for trip in trips:
        trip_color = color(trip.vid)
        if trip.start_lat is not None and trip.start_lon is not None:
            starts.append((trip.start_lon, trip.start_lat, trip_color))
        if trip.end_lat is not None and trip.end_lon is not None:
            ends.append((trip.end_lon, trip.end_lat, trip_color))
        line = [(lon, lat) for lat, lon in routes.get(trip.trip_id, [])]
        if not line and trip.start_lat is not None and trip.end_lat is not None:
            line = [(trip.start_lon, trip.start_lat), (trip.end_lon, trip.end_lat)]
        if len(line) >= 2:
            lines.append(line)
            line_colors.append(trip_color)
            line_styles.append("solid" if trip.trip_id in routes else "dotted")
    ax.add_collection(LineCollection(lines, colors=line_colors, linestyles=line_styles,
                                     linewidths=1.2, alpha=0.85))
    for points, marker, edge in ((starts, "o", "face"), (ends, "s", "black")):
        if points:
            xs, ys, colors = zip(*points, strict=True)
            ax.scatter(xs, ys, c=list(colors), marker=marker, s=22, edgecolors=edge,
                       linewidths=0.5, zorder=3)
    lats = [lat for line in lines for _, lat in line] + [p[1] for p in starts + ends]
    ax.autoscale_view()
    if lats:
        # Equirectangular view: a degree of longitude is cos(lat) of a degree of latitude.
        mean_lat = sum(lats) / len(lats)
        ax.set_aspect(1 / max(math.cos(math.radians(mean_lat)), 0.1), adjustable="datalim")
    vids = sorted({t.vid for t in trips})
    if 0 < len(vids) <= MAX_LEGEND_VEHICLES:
        ax.legend(handles=[Line2D([], [], color=color(v), label=str(v)) for v in vids],
                  title="vehicle", fontsize="small")
    ax.set_xlabel("longitude")
    ax.set_ylabel("latitude")
    ax.grid(alpha=0.3)
    return to_svg(fig)


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
           label="first value / other", color=_PALETTE[7])
    ax.set_ylabel("changes")
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.legend()
    ax.grid(axis="y", alpha=0.3)
    ax.set_axisbelow(True)
    return to_svg(fig)
