"""Named places, place visits, discovered places, deliveries and forms on hand-made rows.

Positions lie on the parallel of ``warehouse_handmade`` (``east(metres)``); ``north``
moves off it, so a zone can be drawn in metres around the origin.
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

import pytest
from warehouse_handmade import (
    LAT,
    assert_checks_passed,
    at,
    build,
    build_in_slices,
    east,
    mart_rows,
    parked,
    query,
    record,
    trips,
    write,
)

from warehouse.places import import_places

# builds on the DuckLake take minutes on a loaded 2-core machine
pytestmark = pytest.mark.timeout(1200)

METRES_PER_DEGREE_LAT = 111_195.0


def north(metres: float) -> float:
    return LAT + metres / METRES_PER_DEGREE_LAT


def tour(vid: int, points_m: list[float], *, start_s: float = 0,
         park_s: float = 900) -> list[dict[str, Any]]:
    """A vehicle parked at ``points_m[0]`` that drives (36 km/h) to each next point in
    turn and parks ``park_s`` there: a closed stop at each point but the last."""
    rows = parked(vid, start_s, 600, at_m=points_m[0], odometer=0)
    t, odometer = start_s + 630, 0.0
    for a, b in itertools.pairwise(points_m):
        steps = max(int(abs(b - a) // 300), 1)
        rows += [record(vid, t + 30 * i, a + (b - a) * i / steps, 36,
                        odometer=odometer + abs(b - a) * i / steps) for i in range(steps + 1)]
        odometer += abs(b - a)
        t += 30 * steps + 30
        rows += parked(vid, t, park_s, at_m=b, odometer=odometer)
        t += park_s + 30
    return rows


def at_point(vid: int, lat: float, lon: float) -> list[dict[str, Any]]:
    """A vehicle parked for 10 minutes at (lat, lon): its first and current stop."""
    rows = parked(vid, 0, 600, at_m=0, odometer=0)
    for row in rows:
        row["lat"], row["lon"] = lat, lon
    return rows


def places_csv(path: Path, *places: tuple[str, float, float, float]) -> Path:
    lines = ["name,lat,lon,radius_m"] + [f"{n},{lat},{lon},{r}" for n, lat, lon, r in places]
    path.write_text("\n".join(lines) + "\n")
    return path


def visits(data_dir: Path) -> list[dict[str, Any]]:
    return query(data_dir, "select * from marts.place_visits order by vid, arrived_at")


def service(event_id: str, vid: int, seconds: float, lat: float | None, lon: float | None,
            delivered: bool, message: str | None = None) -> dict[str, Any]:
    return {"service_event_id": event_id, "uid": vid + 1000, "vid": vid, "tmx": at(seconds),
            "lat": lat, "lon": lon, "speed_kmh": 0.0, "heading": 0.0, "odometer": None,
            "service_id": f"S-{event_id}", "delivered": delivered, "message": message,
            "service_tmx": at(seconds), "received_at": at(seconds + 5), "seq": 0}


def form(form_id: str, uid: int, seconds: float, lat: float, lon: float,
         name: str = "Delivery proof") -> dict[str, Any]:
    return {"form_id": form_id, "uid": uid, "form_name": name, "eid": 33, "tmx": at(seconds),
            "rmx": at(seconds + 3), "received_at": at(seconds + 5), "lat": lat, "lon": lon,
            "seq": 0}


def form_field(form_id: str, uid: int, seconds: float, field: str, value: str
               ) -> dict[str, Any]:
    return {"form_id": form_id, "field": field, "value": value, "uid": uid,
            "tmx": at(seconds), "received_at": at(seconds + 5), "seq": 0}


def test_a_stop_inside_a_circle_is_a_visit_with_the_trips_in_and_out(tmp_path: Path) -> None:
    places_csv(tmp_path / "places.csv", ("Depot", LAT, east(0), 150),
               ("Client A", LAT, east(6000), 100), ("Client B", LAT, east(12_040), 50))
    import_places(tmp_path, tmp_path / "places.csv")
    write(tmp_path, records=tour(1, [0, 6000, 12_000]) + tour(2, [0, 6150]))
    build(tmp_path)
    got = visits(tmp_path)
    trip_ids = {(t["vid"], t["start_time"]): t["trip_id"] for t in trips(tmp_path)}
    [first_trip, second_trip] = sorted(k for k in trip_ids if k[0] == 1)
    # vehicle 1: at the depot before its first trip, at A between its trips, at B now
    # (40 m from B's centre: inside its 50 m); vehicle 2 stops 150 m from A: outside
    assert [(v["vid"], v["place"], v["kind"], v["flags"]) for v in got] == [
        (1, "Depot", "named", ["first"]), (1, "Client A", "named", []),
        (1, "Client B", "named", ["open"]), (2, "Depot", "named", ["first"]),
    ]
    depot, client_a, client_b = got[:3]
    assert depot["trip_id_in"] is None and depot["trip_id_out"] == trip_ids[first_trip]
    assert client_a["trip_id_in"] == trip_ids[first_trip]
    assert client_a["trip_id_out"] == trip_ids[second_trip]
    assert client_a["left_at"] == second_trip[1]
    assert client_a["dwell_s"] == (client_a["left_at"] - client_a["arrived_at"]).total_seconds()
    # the vehicle is at B now: no departure yet, dwell up to its last record
    assert client_b["is_open"] and client_b["left_at"] is None
    assert client_b["trip_id_in"] == trip_ids[second_trip] and client_b["trip_id_out"] is None
    assert client_b["dwell_s"] == 900


def test_a_concave_polygon_holds_its_arms_not_its_notch(tmp_path: Path) -> None:
    def ring(points: list[tuple[float, float]]) -> list[list[float]]:
        return [[east(x), north(y)] for x, y in points]

    u_shape = ring([(0, 0), (300, 0), (300, 300), (200, 300), (200, 100), (100, 100),
                    (100, 300), (0, 300), (0, 0)])
    with_hole = [ring([(1000, 0), (1300, 0), (1300, 300), (1000, 300)]),
                 ring([(1100, 100), (1200, 100), (1200, 200), (1100, 200)])]
    (tmp_path / "zones.geojson").write_text(json.dumps({
        "type": "FeatureCollection", "features": [
            {"type": "Feature", "properties": {"name": "Yard U"},
             "geometry": {"type": "Polygon", "coordinates": [u_shape]}},
            {"type": "Feature", "properties": {"name": "Ring"},
             "geometry": {"type": "MultiPolygon", "coordinates": [with_hole]}},
            {"type": "Feature", "properties": {"name": "Gate"},
             "geometry": {"type": "Point", "coordinates": [east(2000), north(0)]}},
        ]}))
    summary = import_places(tmp_path, tmp_path / "zones.geojson")
    assert (summary.circles, summary.polygons) == (1, 2)
    points = {
        1: (50, 200),     # left arm: in
        2: (150, 200),    # the notch, inside the convex hull: out
        3: (250, 200),    # right arm: in
        4: (150, 50),     # the bottom bar: in
        5: (400, 50),     # beside it: out
        6: (1150, 150),   # the hole: out
        7: (1050, 150),   # the ring around it: in
        8: (2090, 0),     # 90 m from the gate, default radius 100 m: in
        9: (2000, 120),   # 120 m from it: out
    }
    rows = [r for vid, (x, y) in points.items() for r in at_point(vid, north(y), east(x))]
    write(tmp_path, records=rows)
    build(tmp_path)
    assert {v["vid"]: v["place"] for v in visits(tmp_path)} == {
        1: "Yard U", 3: "Yard U", 4: "Yard U", 7: "Ring", 8: "Gate"}


def test_the_smallest_named_place_wins_an_overlap(tmp_path: Path) -> None:
    places_csv(tmp_path / "places.csv", ("Lisbon", LAT, east(0), 5000),
               ("Client A", LAT, east(1000), 80))
    import_places(tmp_path, tmp_path / "places.csv")
    write(tmp_path, records=at_point(1, LAT, east(1000)) + at_point(2, LAT, east(2000)))
    build(tmp_path)
    assert [(v["vid"], v["place"]) for v in visits(tmp_path)] == [
        (1, "Client A"), (2, "Lisbon")]


def test_places_nobody_named_are_discovered_and_yield_to_named_ones(tmp_path: Path) -> None:
    x, y = 20_000, 30_000
    records = (
        tour(1, [0, x, 10_000, x, 10_000])     # two closed stops at x
        + tour(2, [3000, x, 3000])             # one: x has 2 vehicles, 3 stops
        + tour(3, [0, y, 25_000, y, 25_000, y, 0])  # three at y, all of one vehicle
    )
    write(tmp_path, records=records)
    build(tmp_path)
    [place] = query(tmp_path, "select * from marts.discovered_places")
    assert (place["vehicles"], place["stops"]) == (2, 3)
    assert place["min_lon"] <= east(x) < place["max_lon"]
    assert place["min_lat"] <= LAT < place["max_lat"]
    assert place["name"] == f"discovered:{place['lat']:.5f},{place['lon']:.5f}"
    got = [(v["vid"], v["place"], v["kind"]) for v in visits(tmp_path)]
    assert got == [(1, place["name"], "discovered")] * 2 + [(2, place["name"], "discovered")]

    # a file naming the place: the same stops are visits of the named place, the
    # discovered one is gone, with no new data
    places_csv(tmp_path / "places.csv", ("Client X", LAT, east(x), 100))
    import_places(tmp_path, tmp_path / "places.csv")
    build(tmp_path)
    assert query(tmp_path, "select * from marts.discovered_places") == []
    assert [(v["vid"], v["place"], v["kind"]) for v in visits(tmp_path)] == [
        (1, "Client X", "named")] * 2 + [(2, "Client X", "named")]


def test_re_importing_places_recomputes_the_visits_of_all_history(tmp_path: Path) -> None:
    places_csv(tmp_path / "old.csv", ("Client A", LAT, east(6000), 100))
    import_places(tmp_path, tmp_path / "old.csv")
    write(tmp_path, records=tour(1, [0, 6000, 12_000, 18_000]))
    build(tmp_path)
    assert [v["place"] for v in visits(tmp_path)] == ["Client A"]

    places_csv(tmp_path / "new.csv", ("Client B", LAT, east(12_000), 100),
               ("Depot", LAT, east(0), 100))
    summary = import_places(tmp_path, tmp_path / "new.csv")
    assert summary.replaced == 1
    build(tmp_path)  # nothing new in the core lake: only the places changed
    assert [v["place"] for v in visits(tmp_path)] == ["Depot", "Client B"]
    assert query(tmp_path, "select name from core.places order by name") == [
        {"name": "Client B"}, {"name": "Depot"}]
    # importing the same file again changes nothing: no new load
    loads = query(tmp_path, "select count(*) as n from meta.loads")
    import_places(tmp_path, tmp_path / "new.csv")
    build(tmp_path)
    assert query(tmp_path, "select count(*) as n from meta.loads") == loads


def test_deliveries_with_failures_and_their_places(tmp_path: Path) -> None:
    places_csv(tmp_path / "places.csv", ("Client A", LAT, east(6000), 100))
    import_places(tmp_path, tmp_path / "places.csv")
    services = [
        service("e1", 1, 100, LAT, east(6010), True),
        service("e2", 1, 200, LAT, east(5950), False, "Not delivered - client absent"),
        service("e3", 2, 300, LAT, east(9000), False, "Not delivered - refused by client"),
        service("e4", 2, 400, None, None, True),
    ]
    write(tmp_path, services=services, records=at_point(1, LAT, east(0)))
    build(tmp_path)
    rows = query(tmp_path, "select service_event_id, vid, service_id, tmx, delivered, "
                           "message, place from marts.deliveries order by tmx")
    assert [(r["service_event_id"], r["delivered"], r["message"], r["place"])
            for r in rows] == [
        ("e1", True, None, "Client A"),
        ("e2", False, "Not delivered - client absent", "Client A"),
        ("e3", False, "Not delivered - refused by client", None),
        ("e4", True, None, None),
    ]
    assert rows[0]["service_id"] == "S-e1" and rows[0]["tmx"] == at(100)

    # a new set of places moves the old deliveries to the places they now lie in
    places_csv(tmp_path / "places.csv", ("Client C", LAT, east(9000), 100))
    import_places(tmp_path, tmp_path / "places.csv")
    build(tmp_path)
    assert [r["place"] for r in query(
        tmp_path, "select place from marts.deliveries order by tmx")] == [
        None, None, "Client C", None]


def test_form_submissions_carry_their_fields_vehicle_driver_and_place(tmp_path: Path) -> None:
    places_csv(tmp_path / "places.csv", ("Client A", LAT, east(6000), 100))
    import_places(tmp_path, tmp_path / "places.csv")
    forms = [form("f1", 1001, 300, LAT, east(6000)), form("f2", 7777, 300, LAT, east(0),
                                                          "Incident report")]
    fields = [form_field("f1", 1001, 300, "customer", "Client A"),
              form_field("f1", 1001, 300, "parcels", "3"),
              form_field("f2", 7777, 300, "what", "flat tyre")]
    # the form arrives before the records of its unit (sent later by the device)
    write(tmp_path, forms=forms, form_fields=fields)
    build(tmp_path)
    before = query(tmp_path, "select form_id, vid from marts.form_submissions order by 1")
    assert before == [{"form_id": "f1", "vid": None}, {"form_id": "f2", "vid": None}]
    write(tmp_path, records=parked(1, 0, 600, at_m=6000, odometer=0))
    build(tmp_path)
    rows = query(tmp_path, "select * from marts.form_submissions order by form_id")
    assert [(r["form_id"], r["uid"], r["vid"], r["driver_card"], r["form_name"], r["place"])
            for r in rows] == [
        ("f1", 1001, 1, "0000001993887010", "Delivery proof", "Client A"),
        ("f2", 7777, None, None, "Incident report", None),
    ]
    assert json.loads(rows[0]["fields"]) == {"customer": "Client A", "parcels": "3"}
    assert json.loads(rows[1]["fields"]) == {"what": "flat tyre"}

    # a new set of places moves the old forms to the places they now lie in
    places_csv(tmp_path / "places.csv", ("Home", LAT, east(0), 100))
    import_places(tmp_path, tmp_path / "places.csv")
    build(tmp_path)
    assert query(tmp_path, "select form_id, place from marts.form_submissions "
                           "order by 1") == [{"form_id": "f1", "place": None},
                                             {"form_id": "f2", "place": "Home"}]


def test_slice_by_slice_builds_equal_one_build(tmp_path: Path) -> None:
    x = 20_000
    records = (tour(1, [0, x, 6000, x, 6000]) + tour(2, [3000, x, 3000, 6000])
               + tour(3, [0, 12_000, 0], park_s=1800))
    services = [service("e1", 1, 1000, LAT, east(x), True),
                service("e2", 2, 2500, LAT, east(6000), False, "Not delivered - closed")]
    forms = [form("f1", 1001, 1200, LAT, east(x)), form("f2", 1003, 4000, LAT, east(0))]
    fields = [form_field("f1", 1001, 1200, "customer", "X"),
              form_field("f2", 1003, 4000, "km", "12")]
    tables = {"records": records, "services": services, "forms": forms,
              "form_fields": fields}
    for name in ("whole", "sliced"):
        places_csv(tmp_path / "places.csv", ("Client A", LAT, east(6000), 100),
                   ("Depot", LAT, east(0), 150))
        import_places(tmp_path / name, tmp_path / "places.csv")
    write(tmp_path / "whole", **tables)
    summary = build(tmp_path / "whole")
    assert build_in_slices(tmp_path / "sliced", tables, every_s=300) > 10
    whole = mart_rows(tmp_path / "whole")
    assert mart_rows(tmp_path / "sliced") == whole
    assert len(whole["place_visits"]) >= 8 and len(whole["discovered_places"]) == 1
    assert len(whole["deliveries"]) == 2 and len(whole["form_submissions"]) == 2
    # and the rows pass their declared checks
    assert summary.checks is not None and summary.checks.failures == []
    assert summary.checks.rows_validated["place_visits"] >= 8
    assert_checks_passed(tmp_path / "whole")
