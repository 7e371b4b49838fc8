"""A deterministic synthetic core lake: vehicles driving days of trips, for tests and bench.

Test and benchmark data, kept out of the installed packages: tests import it from
``tests/`` (pytest's ``pythonpath``), ``bench/build.py`` adds ``tests/`` to ``sys.path``.

It writes core-lake Parquet files exactly as the transforms would (``DATA/core/<table>/
date=YYYY-MM-DD/<stem>.parquet`` with each table's declared Arrow schema), one file per
table and receive hour, so a test can feed the warehouse hour by hour. Vehicles alternate
drives (a record every ``record_every_s``, with traffic-light stops) and stops (sparser
records), park at night, and half of them report ignition (I/O 1). Some uploads arrive late
(``late_share``), as devices do after losing their connection.
"""

from __future__ import annotations

import math
import random
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa

from lake.ducklake import writing_warehouse
from schemas.core_tables import CORE_TABLES
from transforms.core_store import ensure_core, store_batch

Row = dict[str, object]


@dataclass(frozen=True)
class FleetSpec:
    """What to generate."""

    start: datetime
    hours: int
    vehicles: int = 4
    seed: int = 7
    record_every_s: int = 30
    late_share: float = 0.05


def _move(lat: float, lon: float, heading: float, metres: float) -> tuple[float, float]:
    d = metres / 6371008.8
    h = math.radians(heading)
    return (lat + math.degrees(d * math.cos(h)),
            lon + math.degrees(d * math.sin(h) / math.cos(math.radians(lat))))


class _Vehicle:
    def __init__(self, index: int, spec: FleetSpec) -> None:
        self.rng = random.Random(spec.seed * 1000 + index)
        self.vid = 800000 + index
        self.uid = 1000 + index
        self.has_ignition = index % 2 == 0
        self.lat, self.lon = 38.7 + index * 0.01, -9.1 - index * 0.01
        self.odometer = 1_000_000 + index * 12_345
        self.heading = self.rng.uniform(0, 360)
        self.card = f"{index:016d}"
        self.seq = 0
        self.spec = spec

    def _received(self, tmx: datetime) -> datetime:
        if self.rng.random() < self.spec.late_share:
            return tmx + timedelta(minutes=self.rng.uniform(20, 150))
        return tmx + timedelta(seconds=self.rng.uniform(0.5, 4))

    def record(self, tables: dict[str, list[Row]], tmx: datetime, speed: float,
               ignition: int) -> None:
        self.seq += 1
        received = self._received(tmx)
        tables["records"].append({
            "uid": self.uid, "vid": self.vid, "tmx": tmx, "received_at": received,
            "batch_total": 1, "source": "records", "lat": self.lat, "lon": self.lon,
            "speed_kmh": speed, "heading": self.heading, "odometer": int(self.odometer),
            "sat": 12, "rpm": 900 + int(speed * 20) if ignition else 0,
            "driver_card": self.card, "seq": self.seq,
        })
        if self.has_ignition:
            tables["record_io"].append({
                "vid": self.vid, "tmx": tmx, "io": 1, "value": float(ignition),
                "uid": self.uid, "received_at": received, "seq": self.seq,
            })

    def io_event(self, tables: dict[str, list[Row]], tmx: datetime, level: int) -> None:
        if not self.has_ignition:
            return
        self.seq += 1
        tables["io_events"].append({
            "event_id": f"ev-{self.vid}-{int(tmx.timestamp())}", "vid": self.vid,
            "uid": self.uid, "tmx": tmx, "io": 1, "level": float(level),
            "received_at": tmx + timedelta(seconds=2), "seq": self.seq,
        })
        tables["events"].append({
            "event_id": f"ev-{self.vid}-{int(tmx.timestamp())}", "uid": self.uid,
            "vid": self.vid, "sub_type": "io", "eid": 3846, "tmx": tmx,
            "rmx": tmx + timedelta(seconds=1), "received_at": tmx + timedelta(seconds=2),
            "lat": self.lat, "lon": self.lon, "seq": self.seq,
        })

    def drive(self, tables: dict[str, list[Row]], start: datetime, end: datetime) -> None:
        self.io_event(tables, start, 1)
        t = start
        step = self.spec.record_every_s
        while t < end:
            if self.rng.random() < 0.03:  # traffic light: a minute or two at 0 km/h
                for _ in range(self.rng.randint(2, 4)):
                    self.record(tables, t, 0.0, 1)
                    t += timedelta(seconds=step)
            speed = self.rng.uniform(25, 95)
            self.heading = (self.heading + self.rng.uniform(-25, 25)) % 360
            metres = speed / 3.6 * step
            self.lat, self.lon = _move(self.lat, self.lon, self.heading, metres)
            self.odometer += metres
            self.record(tables, t, speed, 1)
            t += timedelta(seconds=step)
        self.record(tables, t, 0.0, 0)  # arrival
        self.io_event(tables, t, 0)

    def park(self, tables: dict[str, list[Row]], start: datetime, end: datetime,
             every_s: int) -> None:
        t = start + timedelta(seconds=every_s)
        while t < end:
            self.record(tables, t, 0.0, 0)
            t += timedelta(seconds=every_s)


def generate(spec: FleetSpec) -> dict[str, list[Row]]:
    """Rows of every core table for the whole fleet and period."""
    tables: dict[str, list[Row]] = defaultdict(list)
    end = spec.start + timedelta(hours=spec.hours)
    for index in range(spec.vehicles):
        vehicle = _Vehicle(index, spec)
        t = spec.start
        while t < end:
            night = not 6 <= t.hour < 21
            if night:
                resume = t + timedelta(hours=1)
                vehicle.park(tables, t, min(resume, end), 1800)
                t = resume
                continue
            drive_end = min(t + timedelta(minutes=vehicle.rng.uniform(10, 50)), end)
            vehicle.drive(tables, t, drive_end)
            t = drive_end + timedelta(seconds=spec.record_every_s)
            stop_end = min(t + timedelta(minutes=vehicle.rng.uniform(6, 60)), end)
            vehicle.park(tables, t, stop_end, 300)
            t = stop_end
    return tables


def store_core_rows(data_dir: Path, tables: dict[str, list[Row]]) -> list[int]:
    """Store the rows in the warehouse's core tables as the transform would: one load
    (one DuckLake transaction) per receive hour. Returns the load ids."""
    by_hour: dict[datetime, dict[str, pa.Table]] = defaultdict(dict)
    for name, rows in tables.items():
        schema = CORE_TABLES[name].arrow_schema
        hours: dict[datetime, list[Row]] = defaultdict(list)
        for row in rows:
            received = row.get("received_at") or row.get("sent_at")
            assert isinstance(received, datetime)
            hours[received.replace(minute=0, second=0, microsecond=0)].append(row)
        for hour, hour_rows in hours.items():
            columns = {f.name: [r.get(f.name) for r in hour_rows] for f in schema}
            by_hour[hour][name] = pa.Table.from_pydict(columns, schema=schema)
    with writing_warehouse(data_dir) as con:
        ensure_core(con)
        return [store_batch(con, batch, {}).load_id for _, batch in sorted(by_hour.items())]


def rows_received_before(tables: dict[str, list[Row]], until: datetime,
                         since: datetime | None = None) -> dict[str, list[Row]]:
    """The rows received in [since, until): what a lake would hold after that hour."""
    out: dict[str, list[Row]] = {}
    for name, rows in tables.items():
        kept = [
            r for r in rows
            if (r.get("received_at") or r.get("sent_at")) < until  # type: ignore[operator]
            and (since is None or (r.get("received_at") or r.get("sent_at")) >= since)  # type: ignore[operator]
        ]
        if kept:
            out[name] = kept
    return out


DEFAULT_START = datetime(2026, 3, 2, tzinfo=UTC)


COPIED_IDS = ("event_id", "record_id", "message_id", "guid", "command_id", "form_id",
              "service_event_id", "connection_id")
"""Id columns a copied day suffixes (``-d<k>``), so its ids are new and still join."""


def _copy_select(table: str, columns: list[tuple[str, str]], days_back: int, load_id: int,
                 base_load_id: int) -> str:
    """The stored rows of ``table`` (loads up to ``base_load_id``) as they would be
    ``days_back`` days earlier, in load ``load_id`` (constants, not parameters: DuckLake
    then skips the files of other loads)."""
    shifted = []
    for name, type_ in columns:
        if type_.upper().startswith("TIMESTAMP"):
            shifted.append(f"{name} - interval {days_back} day as {name}")
        elif name in COPIED_IDS:
            shifted.append(f"{name} || '-d{days_back}' as {name}")
        elif table == "records" and name == "odometer":
            shifted.append(f"odometer - {days_back} * o.daily_m as odometer")
        else:
            shifted.append(name)
    source = f"core.{table}"
    if table == "records":
        source += " left join daily_distance as o using (vid)"
    return (f"select {', '.join(shifted)}, {load_id}::bigint as _load_id from {source} "
            f"where _load_id <= {base_load_id}")


def repeat_history_back(data_dir: Path, days: int) -> list[int]:
    """Add ``days`` days of history before the stored core rows, fast: the stored rows
    (say one day that the transform stored) copied 1 to ``days`` days earlier, with their
    ids suffixed (they stay unique and still join) and odometers lowered by each vehicle's
    daily distance (they keep increasing). One load, one DuckLake transaction, per copied
    day, oldest first, as ``store_batch`` would commit it. Returns the load ids."""
    loads = []
    with writing_warehouse(data_dir) as con:
        ensure_core(con)
        base = int(con.execute("select coalesce(max(load_id), 0) from meta.loads")
                   .fetchone()[0])
        span = con.execute("select max(received_at) - min(received_at) from core.records"
                           ).fetchone()[0]
        if span is None or span > timedelta(days=1):
            raise ValueError(f"the stored records of {data_dir} span {span}: "
                             "repeat_history_back copies one day at most")
        con.execute("create temp table daily_distance as select vid, "
                    "coalesce(max(odometer) - min(odometer), 0) as daily_m "
                    "from core.records group by vid")
        tables = {}
        for name in CORE_TABLES:
            if name == "quarantine":
                continue
            tables[name] = [(row[0], row[1]) for row in con.execute(
                "select column_name, data_type from information_schema.columns "
                "where table_catalog = current_database() and table_schema = 'core' "
                "and table_name = ? and column_name <> '_load_id' "
                "order by ordinal_position", [name]).fetchall()]
        for days_back in range(days, 0, -1):
            load_id = base + days - days_back + 1
            con.execute("begin transaction")
            rows = 0
            for name, columns in tables.items():
                select = _copy_select(name, columns, days_back, load_id, base)
                inserted = con.execute(f"insert into core.{name} by name {select}").fetchone()
                rows += int(inserted[0]) if inserted else 0
            con.execute("insert into meta.loads values (?, now(), 0, ?)", [load_id, rows])
            con.execute("commit")
            loads.append(load_id)
    return loads
