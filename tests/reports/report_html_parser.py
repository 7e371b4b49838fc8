"""Reads the figures of a rendered daily report back out of its HTML (for tests).

The report marks its figures: ``id="kpi-<name>"`` on headline figures, ``id`` on tables,
``data-key`` on rows and ``data-col`` on cells; this parser collects them by those names.
"""

from __future__ import annotations

from html.parser import HTMLParser


class ReportParser(HTMLParser):
    """Collects the text of ``id="kpi-*"`` figures and of table cells, by row and column."""

    def __init__(self) -> None:
        super().__init__()
        self.kpis: dict[str, str] = {}
        self.tables: dict[str, dict[str, dict[str, str]]] = {}
        self.svg_count = 0
        self._kpi: str | None = None
        self._in_value = False
        self._table: str | None = None
        self._row: str | None = None
        self._col: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "svg":
            self.svg_count += 1
        elif tag == "div" and (a.get("id") or "").startswith("kpi-"):
            self._kpi = (a["id"] or "").removeprefix("kpi-")
        elif tag == "div" and a.get("class") == "value" and self._kpi:
            self._in_value = True
        elif tag == "table" and a.get("id"):
            self._table = a["id"]
            self.tables[self._table] = {}
        elif tag == "tr" and self._table and a.get("data-key") is not None:
            self._row = a["data-key"]
            self.tables[self._table][self._row] = {}
        elif tag == "td" and self._row is not None:
            self._col = a.get("data-col")

    def handle_endtag(self, tag: str) -> None:
        if tag == "div" and self._in_value:
            self._in_value = False
            self._kpi = None
        elif tag == "td":
            self._col = None
        elif tag == "tr":
            self._row = None
        elif tag == "table":
            self._table = None

    def handle_data(self, data: str) -> None:
        if self._in_value and self._kpi:
            self.kpis[self._kpi] = self.kpis.get(self._kpi, "") + data
        elif self._table and self._row is not None and self._col:
            row = self.tables[self._table][self._row]
            row[self._col] = row.get(self._col, "") + data


def parse(html: str) -> ReportParser:
    parser = ReportParser()
    parser.feed(html)
    return parser


def minutes_of(text: str) -> int:
    """``"H:MM"`` → minutes."""
    hours, minutes = text.split(":")
    return int(hours) * 60 + int(minutes)
