"""`trackit places import`: what it accepts, what it stores, and one-line errors naming the
file and the line (or feature) for everything it refuses. Runs the real entry point."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from trackit.cli import main
from warehouse.places import places_path

HEADER = "name,lat,lon,radius_m\n"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def data(tmp_path: Path) -> Path:
    (tmp_path / "data").mkdir()
    return tmp_path / "data"


def test_a_csv_of_circles_is_imported_and_a_second_file_replaces_it(
        data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    first = tmp_path / "places.csv"
    first.write_text(HEADER + "Depot Alcântara,38.7575067,-9.0637866,150\n"
                     '"Café, Rua Augusta",38.71,-9.137,80\n\n')
    code, out, err = run(capsys, "places", "import", str(first), "--data", str(data))
    assert (code, err) == (0, "")
    assert "imported 2 places (2 circles, 0 polygons)" in out
    stored = pq.read_table(places_path(data)).to_pylist()
    assert [(p["name"], p["shape"], p["radius_m"]) for p in stored] == [
        ("Depot Alcântara", "circle", 150.0), ("Café, Rua Augusta", "circle", 80.0)]

    second = tmp_path / "other.csv"
    second.write_text(HEADER + "Depot Olivais,38.7271173,-9.1016977,150\n")
    code, out, _ = run(capsys, "places", "import", str(second), "--data", str(data))
    assert code == 0 and "replacing 2" in out
    assert [p["name"] for p in pq.read_table(places_path(data)).to_pylist()] == [
        "Depot Olivais"]
    assert not [p for p in places_path(data).parent.iterdir() if p.name.startswith(".tmp-")]


BAD_CSV = [
    ("name,lat,lon\nA,38.7,-9.1\n", ":1: the header must be name,lat,lon,radius_m"),
    (HEADER + "A,38.7,-9.1,100\nB,38.7,-9.1\n", ":3: expected 4 fields"),
    (HEADER + "A,38.7,,100\n", ":2: expected 4 fields"),
    (HEADER + "A,91,-9.1,100\n", ":2: lat 91 is out of range (-90..90)"),
    (HEADER + "A,38.7,-190,100\n", ":2: lon -190 is out of range (-180..180)"),
    (HEADER + "A,38.7,-9.1,0\n", ":2: radius_m 0 must be above 0"),
    (HEADER + "A,38.7,-9.1,-5\n", ":2: radius_m -5 must be above 0"),
    (HEADER + "A,38.7,-9.1,150000\n", ":2: radius_m 150000 must be above 0 and at most"),
    (HEADER + "A,38.7,-9.1,wide\n", ":2: radius_m must be a number, got 'wide'"),
    (HEADER + "A,nan,-9.1,100\n", ":2: lat must be a finite number"),
    (HEADER + "A,38.7,-9.1,100\nB,38.8,-9.1,100\nA,38.9,-9.1,100\n",
     ":4: duplicate name 'A' (first at"),
    (HEADER, ": no places in the file"),
]


@pytest.mark.parametrize(("content", "message"), BAD_CSV)
def test_a_bad_csv_is_refused_with_its_file_and_line(
        content: str, message: str, data: Path, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "places.csv"
    path.write_text(content)
    code, _, err = run(capsys, "places", "import", str(path), "--data", str(data))
    assert code == 1
    assert err.startswith(f"trackit: error: {path}") and message in err, err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert not places_path(data).exists()


def feature(name: str | None, geometry: dict[str, object], **props: object
            ) -> dict[str, object]:
    properties = {"name": name, **props} if name is not None else props
    return {"type": "Feature", "properties": properties, "geometry": geometry}


SQUARE = [[[-9.1, 38.7], [-9.09, 38.7], [-9.09, 38.71], [-9.1, 38.71], [-9.1, 38.7]]]

BAD_GEOJSON = [
    ({"type": "Feature"}, "must be a FeatureCollection"),
    ({"type": "FeatureCollection", "features": [
        feature(None, {"type": "Polygon", "coordinates": SQUARE})]},
     "feature 1: properties.name is missing"),
    ({"type": "FeatureCollection", "features": [
        feature("Road", {"type": "LineString", "coordinates": SQUARE[0]})]},
     "feature 1 (Road): geometry type 'LineString' is not Point, Polygon or MultiPolygon"),
    ({"type": "FeatureCollection", "features": [
        feature("Tiny", {"type": "Polygon", "coordinates": [SQUARE[0][:2]]})]},
     "a ring needs at least 3 distinct points"),
    ({"type": "FeatureCollection", "features": [
        feature("Far", {"type": "Point", "coordinates": [-9.1, 95]})]},
     "feature 1 (Far): lat 95 is out of range"),
    ({"type": "FeatureCollection", "features": [
        feature("Gate", {"type": "Point", "coordinates": [-9.1, 38.7]}, radius_m=0)]},
     "radius_m 0 must be above 0"),
    ({"type": "FeatureCollection", "features": [
        feature("Yard", {"type": "Polygon", "coordinates": SQUARE}),
        feature("Yard", {"type": "Point", "coordinates": [-9.1, 38.7]})]},
     "feature 2 (Yard): duplicate name 'Yard'"),
]


@pytest.mark.parametrize(("document", "message"), BAD_GEOJSON)
def test_a_bad_geojson_is_refused_naming_the_feature(
        document: dict[str, object], message: str, data: Path, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "zones.geojson"
    path.write_text(json.dumps(document))
    code, _, err = run(capsys, "places", "import", str(path), "--data", str(data))
    assert code == 1 and err.startswith(f"trackit: error: {path}") and message in err, err
    assert err.count("\n") == 1


def test_geojson_zones_and_points_are_imported(
        data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "zones.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": [
        feature("Yard", {"type": "Polygon", "coordinates": SQUARE}),
        feature("Two yards", {"type": "MultiPolygon", "coordinates": [
            SQUARE, [[[c[0] + 0.1, c[1]] for c in SQUARE[0]]]]}),
        feature("Gate", {"type": "Point", "coordinates": [-9.2, 38.7]}),
        feature("Dock", {"type": "Point", "coordinates": [-9.3, 38.7, 12]}, radius_m=40),
    ]}))
    code, out, _ = run(capsys, "places", "import", str(path), "--data", str(data))
    assert code == 0 and "imported 4 places (2 circles, 2 polygons)" in out
    stored = {p["name"]: p for p in pq.read_table(places_path(data)).to_pylist()}
    assert len(stored["Yard"]["edges"]) == 4 and len(stored["Two yards"]["edges"]) == 8
    assert stored["Yard"]["area_m2"] == pytest.approx(868 * 1112, rel=0.01)
    assert (stored["Gate"]["radius_m"], stored["Dock"]["radius_m"]) == (100.0, 40.0)


def test_invalid_json_names_the_line(
        data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "zones.geojson"
    path.write_text('{"type": "FeatureCollection",\n "features": [,]}')
    code, _, err = run(capsys, "places", "import", str(path), "--data", str(data))
    assert code == 1 and f"trackit: error: {path}:2: not valid JSON" in err


def test_a_missing_file_or_data_dir_is_one_line(
        data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "places", "import", str(tmp_path / "nope.csv"),
                       "--data", str(data))
    assert code == 1 and err == f"trackit: error: places file {tmp_path / 'nope.csv'} " \
                                "does not exist\n"
    path = tmp_path / "places.csv"
    path.write_text(HEADER + "A,38.7,-9.1,100\n")
    code, _, err = run(capsys, "places", "import", str(path), "--data", str(tmp_path / "no"))
    assert code == 1 and "does not exist" in err and err.count("\n") == 1
    code, _, err = run(capsys, "places", "import", str(tmp_path), "--data", str(data))
    assert code == 1 and "is a directory" in err


def test_an_unreadable_stored_set_says_to_import_again(
        data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    places_path(data).parent.mkdir(parents=True)
    places_path(data).write_bytes(b"PAR1 not really parquet")
    code, _, err = run(capsys, "build", "--data", str(data))
    assert code == 1 and err.count("\n") == 1
    assert err.startswith(f"trackit: error: places file {places_path(data)} is unreadable")
    assert err.endswith("import the places again with `trackit places import FILE`\n")
    path = tmp_path / "places.csv"
    path.write_text(HEADER + "A,38.7,-9.1,100\n")
    code, out, _ = run(capsys, "places", "import", str(path), "--data", str(data))
    assert code == 0 and "imported 1 places" in out


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 1 MB tmpfs mounted for the test (root only)."""
    if os.geteuid() != 0:
        pytest.skip("needs root to mount a tmpfs")
    mount = tmp_path / "disk"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)], check=True)
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=True)


def test_a_full_disk_keeps_the_previous_set(
        small_disk: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = small_disk / "data"
    data.mkdir()
    small = tmp_path / "small.csv"
    small.write_text(HEADER + "A,38.7,-9.1,100\n")
    assert run(capsys, "places", "import", str(small), "--data", str(data))[0] == 0
    big = tmp_path / "big.csv"
    big.write_text(HEADER + "".join(f"Customer {'x' * 200} {i},38.{i:06d},-9.1,80\n"
                                    for i in range(20_000)))
    filler = small_disk / "filler"
    with open(filler, "wb") as out:  # leave ~16 kB free
        stat = os.statvfs(small_disk)
        out.write(b"\0" * (stat.f_bavail * stat.f_frsize - 16_384))
    code, _, err = run(capsys, "places", "import", str(big), "--data", str(data))
    assert code == 1 and err.startswith("trackit: error: no space left on device")
    assert err.count("\n") == 1
    assert [p.name for p in places_path(data).parent.iterdir()] == ["places.parquet"]
    assert [p["name"] for p in pq.read_table(places_path(data)).to_pylist()] == ["A"]
