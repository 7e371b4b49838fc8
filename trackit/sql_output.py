"""Rows of a query as text: an aligned table, RFC 4180 CSV, or a JSON list of objects.

Values keep their type in JSON: numbers (decimals too, digit for digit) stay numbers,
times are ISO-8601 strings with their offset (``2022-04-02T09:50:03.574+00:00``), dates
ISO (``2022-04-02``), intervals ISO-8601 durations (``PT1H30M``), NULL is ``null``. The
table and CSV show the same values as text (times with a space before the clock), a NULL
as ``NULL`` in a table and as an empty field in CSV.
"""

from __future__ import annotations

import csv
import itertools
import json
import math
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any, TextIO

FORMATS = ("table", "csv", "json")
"""The ``--format`` choices."""

Row = Sequence[object]


def _timespec(moment: datetime | time) -> str:
    """The shortest ISO precision that loses nothing."""
    if moment.microsecond == 0:
        return "seconds"
    return "milliseconds" if moment.microsecond % 1000 == 0 else "microseconds"


def iso_duration(span: timedelta) -> str:
    """``timedelta(hours=1, minutes=30)`` as ``PT1H30M``; negative spans start with ``-``."""
    micros = abs(span) // timedelta(microseconds=1)
    days, micros = divmod(micros, 86_400_000_000)
    hours, micros = divmod(micros, 3_600_000_000)
    minutes, micros = divmod(micros, 60_000_000)
    seconds = Decimal(micros) / 1_000_000
    clock = "".join(f"{n}{unit}" for n, unit in ((hours, "H"), (minutes, "M")) if n)
    if seconds or not (days or clock):
        clock += f"{seconds.normalize():f}S"
    text = "P" + (f"{days}D" if days else "") + (f"T{clock}" if clock else "")
    return ("-" if span < timedelta(0) else "") + text


def blob_text(data: bytes) -> str:
    """Bytes as DuckDB writes a BLOB: printable ASCII as is, the rest as ``\\xNN``."""
    return "".join(chr(b) if 32 <= b < 127 and b != 92 else f"\\x{b:02X}" for b in data)


def json_value(value: object) -> str:
    """``value`` as a JSON text (a number stays a number, a time an ISO-8601 string)."""
    exact = _JSON_OF_TYPE.get(type(value))
    if exact is not None:
        return exact(value)
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isfinite(value):
            return repr(value)
        return '"NaN"' if math.isnan(value) else ('"Infinity"' if value > 0 else '"-Infinity"')
    if isinstance(value, Decimal):
        return f"{value:f}"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{json.dumps(str(k), ensure_ascii=False)}: {json_value(v)}"
                               for k, v in value.items()) + "}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(json_value(v) for v in value) + "]"
    if isinstance(value, datetime):
        return _datetime_json(value)
    return json.dumps(text_value(value), ensure_ascii=False)


def _datetime_json(value: datetime) -> str:
    return f'"{value.isoformat(timespec=_timespec(value))}"'


def _string_json(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)


# The types DuckDB returns most, looked up before the isinstance chain (a row at a time).
_JSON_OF_TYPE: dict[type, Callable[[Any], str]] = {
    int: str,
    str: _string_json,
    datetime: _datetime_json,
    type(None): lambda v: "null",
}


def text_value(value: object) -> str:
    """``value`` as the text a table cell or a CSV field shows (``None``: ``NULL``)."""
    exact = _TEXT_OF_TYPE.get(type(value))
    if exact is not None:
        return exact(value)
    if value is None:
        return "NULL"
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return _datetime_text(value)
    if isinstance(value, time):
        return value.isoformat(timespec=_timespec(value))
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, timedelta):
        return iso_duration(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return blob_text(bytes(value))
    if isinstance(value, int | float | Decimal | dict | list | tuple):
        return json_value(value)
    return str(value)


def _datetime_text(value: datetime) -> str:
    return value.isoformat(sep=" ", timespec=_timespec(value))


# The types DuckDB returns most, looked up before the isinstance chain (a row at a time).
_TEXT_OF_TYPE: dict[type, Callable[[Any], str]] = {
    str: lambda v: v,
    int: str,
    float: json_value,
    Decimal: json_value,
    datetime: _datetime_text,
    date: date.isoformat,
    bool: lambda v: "true" if v else "false",
    type(None): lambda v: "NULL",
}


def _width(text: str) -> int:
    """Terminal columns of ``text`` (East Asian wide characters take two)."""
    if text.isascii():
        return len(text)
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def _is_number(value: object) -> bool:
    return isinstance(value, int | float | Decimal) and not isinstance(value, bool)


TABLE_ALIGN_ROWS = 10_000
"""A table's columns are as wide as their widest value among this many first rows."""


def _cells(row: Row) -> list[list[str]]:
    """Each value of ``row`` as its lines of text."""
    return [text_value(v).rstrip("\n").split("\n") for v in row]


def write_table(columns: Sequence[str], rows: Iterable[Row], out: TextIO) -> None:
    """An aligned table: the header, a rule, one line per row (numbers to the right), then
    ``(N rows)``. A value of several lines takes several lines of its row.

    Widths come from the first ``TABLE_ALIGN_ROWS`` rows, so a long result streams in
    bounded memory; a wider value further down pushes the rest of its line right.
    """
    rest = iter(rows)
    first = list(itertools.islice(rest, TABLE_ALIGN_ROWS))
    first_cells = [_cells(row) for row in first]
    widths = [max([_width(name), *(_width(line) for row in first_cells for line in row[i])])
              for i, name in enumerate(columns)]
    right = [any(_is_number(r[i]) for r in first)
             and all(v is None or _is_number(v) for v in (r[i] for r in first))
             for i in range(len(columns))]

    def line(texts: Sequence[str]) -> str:
        padded = [(" " * (w - _width(t)) + t) if r else (t + " " * (w - _width(t)))
                  for t, w, r in zip(texts, widths, right, strict=True)]
        return "  ".join(padded).rstrip()

    out.write(line(columns) + "\n")
    out.write("  ".join("-" * w for w in widths) + "\n")
    count = 0
    for cells in itertools.chain(first_cells, (_cells(row) for row in rest)):
        count += 1
        for depth in range(max((len(c) for c in cells), default=1)):
            out.write(line([c[depth] if depth < len(c) else "" for c in cells]) + "\n")
    out.write(f"({count} row{'' if count == 1 else 's'})\n")


def write_csv(columns: Sequence[str], rows: Iterable[Row], out: TextIO) -> None:
    """RFC 4180: a header line, CRLF line ends, fields quoted when they need it, NULL empty."""
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow(["" if v is None else text_value(v) for v in row])


def json_keys(columns: Sequence[str]) -> list[str]:
    """Column names as object keys, a repeated name numbered (``vid``, ``vid_1``)."""
    keys: list[str] = []
    for name in columns:
        key, n = name, 0
        while key in keys:
            n += 1
            key = f"{name}_{n}"
        keys.append(key)
    return keys


def write_json(columns: Sequence[str], rows: Iterable[Row], out: TextIO) -> None:
    """A JSON list of objects, one per row and one row per line."""
    keys = [json.dumps(k, ensure_ascii=False) for k in json_keys(columns)]
    out.write("[")
    separator = "\n"
    for row in rows:
        fields = ", ".join(f"{k}: {json_value(v)}"
                           for k, v in zip(keys, row, strict=True))
        out.write(separator + "{" + fields + "}")
        separator = ",\n"
    out.write("\n]\n" if separator != "\n" else "]\n")


WRITERS = {"table": write_table, "csv": write_csv, "json": write_json}


def write_rows(fmt: str, columns: Sequence[str], rows: Iterable[Row], out: TextIO) -> None:
    """Write ``rows`` under ``columns`` to ``out`` in ``fmt`` (one of ``FORMATS``)."""
    WRITERS[fmt](columns, rows, out)
