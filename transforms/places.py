"""Read a places file (named depots, customers, zones) into validated ``Place`` values.

Pure: bytes in, places out, no I/O but what the caller hands over. Two formats:

* CSV with a header row ``name,lat,lon,radius_m``: one circle per row;
* GeoJSON (``.geojson`` / ``.json``): a FeatureCollection whose features are ``Polygon`` or
  ``MultiPolygon`` zones, or ``Point`` circles with a ``radius_m`` property (default
  ``DEFAULT_POINT_RADIUS_M``); the name is ``properties.name``.

Every problem is a ``PlacesFileError`` naming the file and the line (CSV) or feature
(GeoJSON): missing fields, a latitude or longitude out of range, a radius that is not
positive or larger than ``MAX_RADIUS_M``, a ring of fewer than three points, a duplicate
name. A polygon is kept as its rings (outer rings and holes alike); a point lies inside it
when a ray from it crosses its edges an odd number of times (even-odd rule), which is
what the warehouse's ``in_polygon`` macro computes.
"""

from __future__ import annotations

import csv
import io
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lake.errors import TrackitError

CSV_HEADER = ("name", "lat", "lon", "radius_m")
DEFAULT_POINT_RADIUS_M = 100.0
MAX_RADIUS_M = 50_000.0
"""A circle wider than a city is a typo (metres taken for kilometres, a swapped column)."""
EARTH_RADIUS_M = 6371008.8

Ring = tuple[tuple[float, float], ...]
"""A closed ring of (lat, lon) vertices, the first one not repeated at the end."""


class PlacesFileError(TrackitError):
    """A places file that cannot be imported; the message names the file and the line."""


@dataclass(frozen=True)
class Place:
    """A named circle (``radius_m``) or polygon zone (``rings``)."""

    name: str
    shape: str
    """``circle`` or ``polygon``."""
    lat: float
    """The circle's centre, or the mean of a polygon's vertices (a label position)."""
    lon: float
    radius_m: float | None
    rings: tuple[Ring, ...] = ()
    area_m2: float = 0.0

    def edges(self) -> list[dict[str, float]]:
        """Every edge of every ring, as the ``in_polygon`` macro reads them."""
        return [
            {"lat1": a[0], "lon1": a[1], "lat2": b[0], "lon2": b[1]}
            for ring in self.rings for a, b in zip(ring, ring[1:] + ring[:1], strict=True)
        ]

    def bbox(self) -> tuple[float, float, float, float]:
        """(min_lat, min_lon, max_lat, max_lon), a cheap filter before the exact test."""
        if self.shape == "circle":
            assert self.radius_m is not None
            dlat = math.degrees(self.radius_m / EARTH_RADIUS_M)
            dlon = dlat / max(math.cos(math.radians(self.lat)), 0.01)
            return self.lat - dlat, self.lon - dlon, self.lat + dlat, self.lon + dlon
        lats = [p[0] for ring in self.rings for p in ring]
        lons = [p[1] for ring in self.rings for p in ring]
        return min(lats), min(lons), max(lats), max(lons)


def parse_places(data: bytes, source: Path) -> list[Place]:
    """The places of a CSV or GeoJSON file (by suffix; content starting with ``{`` is
    GeoJSON too), in file order. Raises ``PlacesFileError``."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise PlacesFileError(f"{source}: not UTF-8 text ({exc.reason} at byte "
                              f"{exc.start})") from None
    is_json = source.suffix.lower() in (".geojson", ".json") or text.lstrip().startswith("{")
    places = _parse_geojson(text, source) if is_json else _parse_csv(text, source)
    if not places:
        raise PlacesFileError(f"{source}: no places in the file")
    return places


def _parse_csv(text: str, source: Path) -> list[Place]:
    rows = csv.reader(io.StringIO(text))
    header = next(rows, None)
    if header is None or tuple(h.strip().lower() for h in header) != CSV_HEADER:
        raise PlacesFileError(f"{source}:1: the header must be {','.join(CSV_HEADER)}, "
                              f"got {','.join(header or [])!r}")
    places: list[Place] = []
    seen: dict[str, str] = {}
    for row in rows:
        where = f"{source}:{rows.line_num}"
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(CSV_HEADER) or not all(cell.strip() for cell in row):
            raise PlacesFileError(f"{where}: expected 4 fields name,lat,lon,radius_m, "
                                  f"got {','.join(row)!r}")
        name = row[0].strip()
        lat = _coordinate(row[1], "lat", 90, where)
        lon = _coordinate(row[2], "lon", 180, where)
        radius = _radius(row[3], where)
        _unique(name, where, seen)
        places.append(Place(name, "circle", lat, lon, radius,
                            area_m2=round(math.pi * radius * radius, 3)))
    return places


def _parse_geojson(text: str, source: Path) -> list[Place]:
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise PlacesFileError(f"{source}:{exc.lineno}: not valid JSON ({exc.msg})") from None
    if not isinstance(document, dict) or document.get("type") != "FeatureCollection" \
            or not isinstance(document.get("features"), list):
        raise PlacesFileError(f"{source}: a GeoJSON places file must be a FeatureCollection")
    places: list[Place] = []
    seen: dict[str, str] = {}
    for number, feature in enumerate(document["features"], start=1):
        where = f"{source}: feature {number}"
        if not isinstance(feature, dict):
            raise PlacesFileError(f"{where}: not an object")
        properties = feature.get("properties") or {}
        name = properties.get("name") if isinstance(properties, dict) else None
        if not isinstance(name, str) or not name.strip():
            raise PlacesFileError(f"{where}: properties.name is missing")
        name = name.strip()
        where = f"{where} ({name})"
        places.append(_feature_place(name, feature.get("geometry"), properties, where))
        _unique(name, where, seen)
    return places


def _feature_place(name: str, geometry: Any, properties: dict[str, Any], where: str) -> Place:
    if not isinstance(geometry, dict):
        raise PlacesFileError(f"{where}: geometry is missing")
    kind, coordinates = geometry.get("type"), geometry.get("coordinates")
    if kind == "Point":
        lon, lat = _position(coordinates, where)
        radius = _radius(properties.get("radius_m", DEFAULT_POINT_RADIUS_M), where)
        return Place(name, "circle", lat, lon, radius,
                     area_m2=round(math.pi * radius * radius, 3))
    if kind == "Polygon":
        polygons = [coordinates]
    elif kind == "MultiPolygon" and isinstance(coordinates, list):
        polygons = coordinates
    else:
        raise PlacesFileError(f"{where}: geometry type {kind!r} is not Point, Polygon or "
                              "MultiPolygon")
    rings: list[Ring] = []
    area = 0.0
    for polygon in polygons:
        if not isinstance(polygon, list) or not polygon:
            raise PlacesFileError(f"{where}: a polygon needs at least one ring")
        for index, ring_coordinates in enumerate(polygon):
            ring = _ring(ring_coordinates, where)
            rings.append(ring)
            area += _ring_area_m2(ring) * (1 if index == 0 else -1)  # holes subtract
    vertices = [p for ring in rings for p in ring]
    lat = round(sum(p[0] for p in vertices) / len(vertices), 7)
    lon = round(sum(p[1] for p in vertices) / len(vertices), 7)
    return Place(name, "polygon", lat, lon, None, tuple(rings), round(abs(area), 3))


def _ring(coordinates: Any, where: str) -> Ring:
    if not isinstance(coordinates, list):
        raise PlacesFileError(f"{where}: a ring must be a list of positions")
    points = [_position(p, where) for p in coordinates]
    if len(points) > 1 and points[0] == points[-1]:
        points.pop()
    if len(set(points)) < 3:
        raise PlacesFileError(f"{where}: a ring needs at least 3 distinct points")
    return tuple((lat, lon) for lon, lat in points)


def _position(value: Any, where: str) -> tuple[float, float]:
    """A GeoJSON position ``[lon, lat]`` (any altitude ignored), checked."""
    if not isinstance(value, list) or len(value) < 2:
        raise PlacesFileError(f"{where}: a position must be [lon, lat], got {value!r}")
    return _coordinate(value[0], "lon", 180, where), _coordinate(value[1], "lat", 90, where)


def _coordinate(value: Any, what: str, limit: float, where: str) -> float:
    number = _number(value, what, where)
    if not -limit <= number <= limit:
        raise PlacesFileError(f"{where}: {what} {number:g} is out of range "
                              f"(-{limit:g}..{limit:g})")
    return number


def _radius(value: Any, where: str) -> float:
    radius = _number(value, "radius_m", where)
    if not 0 < radius <= MAX_RADIUS_M:
        raise PlacesFileError(f"{where}: radius_m {radius:g} must be above 0 and at most "
                              f"{MAX_RADIUS_M:g} (metres)")
    return radius


def _number(value: Any, what: str, where: str) -> float:
    if isinstance(value, bool):
        raise PlacesFileError(f"{where}: {what} must be a number, got {value!r}")
    try:
        number = float(value.strip() if isinstance(value, str) else value)
    except (TypeError, ValueError):
        raise PlacesFileError(f"{where}: {what} must be a number, got {value!r}") from None
    if not math.isfinite(number):
        raise PlacesFileError(f"{where}: {what} must be a finite number, got {value!r}")
    return number


def _unique(name: str, where: str, seen: dict[str, str]) -> None:
    if name in seen:
        raise PlacesFileError(f"{where}: duplicate name {name!r} (first at {seen[name]})")
    seen[name] = where


def _ring_area_m2(ring: Ring) -> float:
    """Signed area by the shoelace formula on a local equirectangular projection."""
    lat0 = math.radians(sum(p[0] for p in ring) / len(ring))
    xy = [(math.radians(lon) * math.cos(lat0) * EARTH_RADIUS_M,
           math.radians(lat) * EARTH_RADIUS_M) for lat, lon in ring]
    return sum(x1 * y2 - x2 * y1
               for (x1, y1), (x2, y2) in zip(xy, xy[1:] + xy[:1], strict=True)) / 2
