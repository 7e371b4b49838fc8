"""`trackit places import FILE`: the named places (depots, customers, zones) of the fleet.

    trackit places import FILE [--data DIR]

FILE is a CSV ``name,lat,lon,radius_m`` (circles) or a GeoJSON FeatureCollection (Polygon
and MultiPolygon zones, Point circles with a ``radius_m`` property). The file becomes the
whole set of places (``DATA/reference/places.parquet``, published atomically); the next
``trackit build`` loads it and recomputes the marts that name places.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from trackit.options import add_data_option, writable_data_location


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "places",
        help="import the named places (depots, customers, zones) used by marts.place_visits",
        description="Manage the fleet's named places.",
    )
    actions = parser.add_subparsers(dest="places_command", required=True, metavar="ACTION")
    imported = actions.add_parser(
        "import",
        help="replace the set of named places by the places of FILE",
        description=(
            "Read FILE, a CSV with the header name,lat,lon,radius_m (one circle per row) or "
            "a GeoJSON FeatureCollection (Polygon/MultiPolygon zones, Point circles with a "
            "radius_m property, default 100 m; the name in properties.name), check every "
            "place and make it the whole set of places of the data directory (places not in "
            "FILE are dropped). The next trackit build recomputes place_visits, deliveries "
            "and form_submissions for all history."
        ),
    )
    imported.add_argument("file", type=Path, metavar="FILE", help="CSV or GeoJSON file")
    add_data_option(imported)
    imported.set_defaults(handler=run_import)


def run_import(args: argparse.Namespace) -> int:
    from warehouse.places import import_places

    data = writable_data_location(args, create=False)
    summary = import_places(data, args.file)
    print(summary.line(args.file))
    return 0
