"""The fleet's named places: its depots and customer sites, each a circle on the map.

Vehicles park only at these places (breaks at a depot, services at a customer), so every
stop is a visit to a named place. ``places_csv`` writes them as ``name,lat,lon,radius_m``,
the file ``trackit places import`` reads.
"""

from __future__ import annotations

import csv
import io
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from simulator import catalog
from simulator.roads import RoadNetwork

PLACES_FILE = "places.csv"
"""The places file's name, next to the ground-truth file."""


@dataclass(frozen=True, slots=True)
class Place:
    """A named circle around a road-network intersection where vehicles park."""

    name: str
    kind: str
    node: int
    lat: float
    lon: float
    radius_m: float


def fleet_places(roads: RoadNetwork) -> tuple[Place, ...]:
    """The depots, then the customer sites, of ``roads``; names are unique."""
    places = [
        Place(catalog.DEPOT_NAMES[number % len(catalog.DEPOT_NAMES)]
              + ("" if number < len(catalog.DEPOT_NAMES) else f" {number + 1}"),
              "depot", node, roads.lats[node], roads.lons[node], catalog.DEPOT_RADIUS_M)
        for number, node in enumerate(roads.depots)
    ]
    kinds, names = catalog.CUSTOMER_KINDS, catalog.CUSTOMER_NAMES
    for number, node in enumerate(roads.customers):
        name = f"{kinds[number % len(kinds)]} {names[number // len(kinds) % len(names)]}"
        if number >= len(kinds) * len(names):
            name += f" {number // (len(kinds) * len(names)) + 1}"
        places.append(Place(name, "customer", node, roads.lats[node], roads.lons[node],
                            catalog.CUSTOMER_RADIUS_M))
    return tuple(places)


def places_csv(places: tuple[Place, ...]) -> str:
    """The places as CSV text: a ``name,lat,lon,radius_m`` header, then one row each."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(("name", "lat", "lon", "radius_m"))
    for place in places:
        writer.writerow((place.name, f"{place.lat:.7f}", f"{place.lon:.7f}",
                         f"{place.radius_m:g}"))
    return out.getvalue()


def write_places_csv(path: Path, places: tuple[Place, ...]) -> None:
    """Write ``places_csv(places)`` to ``path`` atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            handle.write(places_csv(places))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
