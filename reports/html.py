"""HTML building blocks of the report: escaping, number formats and tables.

Every piece of text from the warehouse goes through ``esc`` (driver cards, statuses and
flags are data, not markup). Number formats are fixed and documented in docs/reports.md
so that a reader, and a test, can tie a figure back to its mart:
distances in km with one decimal, durations as ``H:MM`` rounded to the minute,
latencies in seconds with one decimal, clock times as local ``HH:MM``.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

MISSING = "–"
HEX_COLOR = re.compile(r"#[0-9a-f]{6}")


def esc(value: object) -> str:
    """``value`` as text safe inside HTML elements and attribute values."""
    return html.escape(str(value), quote=True)


def fmt_km(km: float | None) -> str:
    return MISSING if km is None else f"{km:.1f}"


def fmt_duration(seconds: float | None) -> str:
    """``H:MM``, rounded to the nearest minute (``5400`` → ``1:30``)."""
    if seconds is None:
        return MISSING
    minutes = round(seconds / 60)
    return f"{minutes // 60}:{minutes % 60:02d}"


def fmt_seconds(seconds: float | None) -> str:
    return MISSING if seconds is None else f"{seconds:.1f}"


def fmt_speed(kmh: float | None) -> str:
    return MISSING if kmh is None else f"{kmh:.0f}"


def fmt_clock(instant: datetime | None, tz: str, day: date | None = None) -> str:
    """Local ``HH:MM``; an instant on another local day than ``day`` gets its date too."""
    if instant is None:
        return MISSING
    local = instant.astimezone(ZoneInfo(tz))
    return f"{local:%H:%M}" if day is None or local.date() == day else f"{local:%m-%d %H:%M}"


@dataclass(frozen=True)
class Column:
    """A table column: its header, its ``data-col`` name, and whether it is a number."""

    header: str
    key: str
    numeric: bool = False


def table(columns: Sequence[Column], rows: Sequence[Sequence[str]],
          *, row_keys: Sequence[str] | None = None, css_id: str = "",
          swatches: Sequence[str] | None = None) -> str:
    """A ``<table>`` of already formatted cells (escaped here).

    ``row_keys`` become ``data-key`` attributes of the rows and ``Column.key`` the
    ``data-col`` attributes of the cells, so a figure can be found by what it is.
    ``swatches``: one ``#rrggbb`` per row, shown as a colour chip in its first cell (the
    vehicle's colour in the charts). Every table with an ``id`` gets a CSV download link
    from the page's script.
    """
    id_attr = f' id="{esc(css_id)}"' if css_id else ""
    head = "".join(
        f'<th class="{"num" if c.numeric else "txt"}">{esc(c.header)}</th>' for c in columns
    )
    body = []
    for index, row in enumerate(rows):
        key_attr = f' data-key="{esc(row_keys[index])}"' if row_keys else ""
        chip = (f'<span class="swatch" style="background:{esc(swatches[index])}"></span>'
                if swatches and HEX_COLOR.fullmatch(swatches[index]) else "")
        cells = "".join(
            f'<td class="{"num" if c.numeric else "txt"}" data-col="{esc(c.key)}">'
            f"{chip if position == 0 else ''}{esc(value)}</td>"
            for position, (c, value) in enumerate(zip(columns, row, strict=True))
        )
        body.append(f"<tr{key_attr}>{cells}</tr>")
    return (f"<table{id_attr}><thead><tr>{head}</tr></thead>"
            f"<tbody>{''.join(body)}</tbody></table>")


def kpi(key: str, label: str, value: str) -> str:
    """One headline figure (``id="kpi-<key>"``)."""
    return (f'<div class="kpi" id="kpi-{esc(key)}"><div class="value">{esc(value)}</div>'
            f'<div class="label">{esc(label)}</div></div>')


def section(key: str, title: str, *parts: str) -> str:
    """A titled ``<section id="<key>">`` of already safe HTML parts."""
    return f'<section id="{esc(key)}"><h2>{esc(title)}</h2>{"".join(parts)}</section>'


def note(text: str) -> str:
    return f'<p class="note">{esc(text)}</p>'


def warning(key: str, text: str) -> str:
    """A highlighted remark the reader must not miss (``id=<key>``)."""
    return f'<p class="warning" id="{esc(key)}">{esc(text)}</p>'


def fmt_when(instant: datetime | None, tz: str) -> str:
    """Local ``YYYY-MM-DD HH:MM`` (for times not tied to the report's days)."""
    if instant is None:
        return MISSING
    return f"{instant.astimezone(ZoneInfo(tz)):%Y-%m-%d %H:%M}"


def figure(svg: str, caption: str, *, css_id: str = "") -> str:
    """An inline SVG chart (trusted markup from ``reports.charts``) with a caption."""
    id_attr = f' id="{esc(css_id)}"' if css_id else ""
    return f'<figure{id_attr}>{svg}<figcaption>{esc(caption)}</figcaption></figure>'
