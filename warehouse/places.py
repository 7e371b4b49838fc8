"""The named places under DATA, and their reference tables in the warehouse.

``trackit places import FILE`` parses a CSV or GeoJSON places file
(``transforms.places``) and publishes the whole set, atomically, as
``DATA/reference/places.parquet``: one file is the truth, and importing another replaces
the set (places missing from the new file are gone). The file is durable data, not
derived: rebuilding the warehouse keeps it.

Each build compares the published set with the warehouse's (a fingerprint of its rows)
and, when they differ, replaces ``core.places`` and adds a row to ``core.place_imports``,
as a load of its own; that row's ``_load_id`` is how the marts that name places
(``place_visits``, ``discovered_places``, ``deliveries``, ``form_submissions``) know to
recompute all their history.
"""

from __future__ import annotations

import hashlib
import io
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from lake.ducklake import WarehouseData, layout_of
from lake.errors import TrackitError
from lake.object_store import object_store
from lake.storage import publish_parquet
from transforms.places import Place, parse_places

REFERENCE_TABLES = ("places", "place_imports")
"""Tables of the warehouse's ``core`` schema that come from ``DATA/reference``, not from
the raw lake."""

EDGE = pa.struct([("lat1", pa.float64()), ("lon1", pa.float64()),
                  ("lat2", pa.float64()), ("lon2", pa.float64())])
PLACES_SCHEMA = pa.schema([
    pa.field("name", pa.string(), nullable=False),
    pa.field("shape", pa.string(), nullable=False),
    pa.field("lat", pa.float64(), nullable=False),
    pa.field("lon", pa.float64(), nullable=False),
    pa.field("radius_m", pa.float64()),
    pa.field("area_m2", pa.float64(), nullable=False),
    pa.field("min_lat", pa.float64(), nullable=False),
    pa.field("min_lon", pa.float64(), nullable=False),
    pa.field("max_lat", pa.float64(), nullable=False),
    pa.field("max_lon", pa.float64(), nullable=False),
    pa.field("edges", pa.list_(EDGE)),
    pa.field("source_file", pa.string(), nullable=False),
])

PLACES_DDL = """
create table if not exists core.places (
    name varchar not null,
    shape varchar not null,         -- circle or polygon
    lat double not null,            -- the circle's centre, or a polygon's mean vertex
    lon double not null,
    radius_m double,                -- circles only
    area_m2 double not null,        -- the smallest containing place wins an overlap
    min_lat double not null,        -- bounding box: a cheap filter before the exact test
    min_lon double not null,
    max_lat double not null,
    max_lon double not null,
    edges struct(lat1 double, lon1 double, lat2 double, lon2 double)[],  -- polygons only
    source_file varchar not null,   -- the file it was imported from
    _load_id bigint not null
);
create table if not exists core.place_imports (
    _load_id bigint not null,       -- the load that brought this set of places in
    fingerprint varchar not null,   -- md5 of the set's rows
    places bigint not null,
    loaded_at timestamptz not null
);
"""


@dataclass(frozen=True)
class ImportSummary:
    """What ``import_places`` did."""

    path: str
    places: int
    circles: int
    polygons: int
    replaced: int | None
    """How many places the replaced set had (None: none was imported before)."""

    def line(self, source: Path) -> str:
        before = "" if self.replaced is None else f", replacing {self.replaced}"
        return (f"imported {self.places} places ({self.circles} circles, {self.polygons} "
                f"polygons) from {source} into {self.path}{before}; the next trackit build "
                "recomputes place_visits, deliveries and form_submissions")


PLACES_FILE = "reference/places.parquet"
"""The imported places, relative to DATA (or to the lake's ``s3://`` location)."""


def places_path(data_dir: Path) -> Path:
    """Where the imported places of a local lake live: ``DATA/reference/places.parquet``."""
    return data_dir / PLACES_FILE


def places_location(data_dir: WarehouseData) -> str:
    """Where the imported places live: the local file, or its s3:// URL for a lake on
    object storage (so that every machine that builds reads the same set)."""
    layout = layout_of(data_dir)
    if layout.remote is not None:
        return layout.remote.url(PLACES_FILE)
    return str(places_path(layout.root))


def places_table(places: list[Place], source: str) -> pa.Table:
    """The places as rows of ``PLACES_SCHEMA``."""
    rows = []
    for place in places:
        min_lat, min_lon, max_lat, max_lon = place.bbox()
        rows.append({
            "name": place.name, "shape": place.shape, "lat": place.lat, "lon": place.lon,
            "radius_m": place.radius_m, "area_m2": place.area_m2,
            "min_lat": min_lat, "min_lon": min_lon, "max_lat": max_lat, "max_lon": max_lon,
            "edges": place.edges() if place.shape == "polygon" else None,
            "source_file": source,
        })
    return pa.Table.from_pylist(rows, schema=PLACES_SCHEMA)


def import_places(data_dir: WarehouseData, source: Path) -> ImportSummary:
    """Parse ``source`` and publish it as the set of places of ``data_dir``."""
    try:
        data = source.read_bytes()
    except FileNotFoundError:
        raise TrackitError(f"places file {source} does not exist") from None
    except IsADirectoryError:
        raise TrackitError(f"places file {source} is a directory, not a file") from None
    except OSError as exc:
        raise TrackitError(f"cannot read places file {source}: {exc.strerror or exc}") \
            from None
    places = parse_places(data, source)
    try:
        replaced = len(rows) if (rows := _published_places(data_dir)) is not None else None
    except TrackitError:
        replaced = None  # a damaged set is what this import repairs
    publish_parquet(places_table(places, source.name), layout_of(data_dir), PLACES_FILE,
                    replace=True)
    circles = sum(p.shape == "circle" for p in places)
    return ImportSummary(places_location(data_dir), len(places), circles, len(places) - circles,
                         replaced)


def read_places(data_dir: WarehouseData) -> list[dict[str, object]]:
    """The published places (none when nothing was imported), sorted by name."""
    return _published_places(data_dir) or []


def _published_places(data_dir: WarehouseData) -> list[dict[str, object]] | None:
    layout = layout_of(data_dir)
    path = places_location(layout)
    try:
        if layout.remote is not None:
            body = object_store(layout.remote).read_if_exists(PLACES_FILE)
            if body is None:
                return None
            table = pq.read_table(io.BytesIO(body), schema=PLACES_SCHEMA)
        else:
            if not Path(path).exists():
                return None
            table = pq.read_table(path, schema=PLACES_SCHEMA)
    except (OSError, pa.ArrowException) as exc:
        raise TrackitError(
            f"places file {path} is unreadable ({str(exc).splitlines()[0]}): import the "
            "places again with `trackit places import FILE`"
        ) from None
    return sorted(table.to_pylist(), key=lambda row: str(row["name"]))


def fingerprint(rows: list[dict[str, object]]) -> str:
    """md5 of the rows (the set's identity: the same places give the same fingerprint)."""
    text = json.dumps(rows, sort_keys=True, default=str)
    return hashlib.md5(text.encode()).hexdigest()


def staged_places(con: duckdb.DuckDBPyConnection, data_dir: WarehouseData
                  ) -> list[dict[str, object]] | None:
    """The published places when they differ from the builder's set, else None."""
    rows = read_places(data_dir)
    current = con.execute(
        "select fingerprint from core.place_imports order by _load_id desc limit 1"
    ).fetchone()
    known = current[0] if current else fingerprint([])
    return None if fingerprint(rows) == known else rows


def replace_places(con: duckdb.DuckDBPyConnection, rows: list[dict[str, object]],
                   load_id: int) -> int:
    """Replace ``core.places`` by ``rows`` and record the import (inside the load's
    transaction); returns the number of places."""
    con.execute("delete from core.places")
    if rows:
        table = pa.Table.from_pylist(rows, schema=PLACES_SCHEMA)
        con.register("staged_places", table)
        try:
            con.execute("insert into core.places by name "
                        "select *, cast($load_id as bigint) as _load_id from staged_places",
                        {"load_id": load_id})
        finally:
            con.unregister("staged_places")
    con.execute("insert into core.place_imports values (?, ?, ?, ?)",
                [load_id, fingerprint(rows), len(rows), datetime.now(UTC)])
    return len(rows)
