"""When things go wrong in a build: a damaged catalog, an unreadable data file, a full
disk, a killed build. Each is one clear line naming what to fix, or nothing at all, and a
rerun equals a clean build.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sample_fleet import DEFAULT_START, FleetSpec, generate, rows_received_before, store_core_rows
from tmpfs import fill, mounted_tmpfs

from lake.ducklake import open_warehouse
from lake.layout import DataLayout

# three daytime hours: enough rows that core and marts live in Parquet files
START = DEFAULT_START + timedelta(hours=7)
FLEET = FleetSpec(start=START, hours=3, vehicles=3)
FIRST_PART = START + timedelta(hours=2)


def trackit(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "trackit", *args],
                          capture_output=True, text=True, timeout=600)


def build(data: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return trackit("build", "--data", str(data), *args)


def store(data: Path, until: datetime | None = None, since: datetime | None = None) -> None:
    """Store the fleet's rows received in [since, until) as the transform would."""
    data.mkdir(parents=True, exist_ok=True)
    tables = generate(FLEET)
    store_core_rows(data, rows_received_before(tables, until or START + timedelta(days=1),
                                               since=since))


def fleet_built(data: Path) -> Path:
    """The fleet's first two hours stored and built."""
    store(data, until=FIRST_PART)
    done = build(data)
    assert done.returncode == 0, done.stderr
    return data


def contents(data: Path) -> dict[str, list[tuple]]:
    """Every row of every ``core`` and ``marts`` table of the warehouse, sorted."""
    con = open_warehouse(data, read_only=True)
    try:
        tables = con.execute(
            "select schema_name, table_name from duckdb_tables() "
            "where database_name = 'warehouse' and schema_name in ('core', 'marts') "
            "order by all").fetchall()
        return {
            f"{schema}.{table}": con.execute(
                f"select * exclude (_load_id) from {schema}.{table} order by all"
                if schema == "core" else f"select * from {schema}.{table} order by all"
            ).fetchall()
            for schema, table in tables
        }
    finally:
        con.close()


def error_line(done: subprocess.CompletedProcess[str]) -> str:
    """The one line a failed command printed (its log lines aside)."""
    assert done.returncode == 1, done.stdout
    lines = [line for line in done.stderr.strip().splitlines() if line.startswith("trackit:")]
    assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
    return lines[0]


def data_files(data: Path, table: str) -> list[Path]:
    return sorted((DataLayout(data).warehouse_data).rglob(f"{table}/*.parquet"))


def rebuild_hint(data: Path) -> str:
    return f"move {DataLayout(data).warehouse} aside and run `trackit transform --data {data}`"


def test_a_damaged_catalog_is_one_line_naming_it_and_the_rebuild(tmp_path: Path) -> None:
    data = fleet_built(tmp_path / "data")
    catalog = DataLayout(data).warehouse_catalog
    catalog.write_bytes(os.urandom(catalog.stat().st_size))
    line = error_line(build(data))
    assert line.startswith(f"trackit: error: the warehouse catalog {catalog} is damaged")
    assert rebuild_hint(data) in line


def _truncate(path: Path) -> None:
    os.truncate(path, path.stat().st_size // 2)


def _garbage(path: Path) -> None:
    path.write_bytes(os.urandom(path.stat().st_size))


@pytest.mark.parametrize("damage", [_truncate, _garbage, Path.unlink],
                         ids=["truncated", "garbage", "deleted"])
def test_an_unreadable_data_file_is_one_line_naming_it(tmp_path: Path, damage) -> None:
    data = fleet_built(tmp_path / "data")
    before = contents(data)
    victim = data_files(data, "records")[0]
    damage(victim)
    # new settings rebuild every mart from all of core: the build reads every records file
    line = error_line(build(data, "--timezone", "Europe/Lisbon"))
    assert line.startswith(f"trackit: error: warehouse data file {victim} is unreadable")
    assert rebuild_hint(data) in line
    # the build was rolled back: the marts are those of the last build
    con = open_warehouse(data, read_only=True)
    try:
        assert con.execute("select value from meta.build_settings "
                           "where key = 'timezone'").fetchall() == [("UTC",)]
        marts = {name: rows for name, rows in before.items() if name.startswith("marts.")}
        assert {name: con.execute(f"select * from {name} order by all").fetchall()
                for name in marts} == marts
    finally:
        con.close()


# -- a killed build ---------------------------------------------------------------------------

# a build that has written its marts and stops before its checks and commit
HELD_BUILD = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    import warehouse.build as build

    def held(*args, **kwargs):
        print("MARTS WRITTEN", flush=True)
        time.sleep(600)
    build.check_warehouse_into = held
    build.build_warehouse(Path(sys.argv[1]))
""")


def test_a_killed_build_leaves_the_last_snapshot_and_the_next_build_completes(
        tmp_path: Path) -> None:
    data, clean = fleet_built(tmp_path / "data"), fleet_built(tmp_path / "clean")
    store(clean, since=FIRST_PART)
    assert build(clean).returncode == 0
    before = contents(data)

    store(data, since=FIRST_PART)
    stored = contents(data)
    builder = subprocess.Popen([sys.executable, "-c", HELD_BUILD, str(data)],
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        assert builder.stdout is not None
        assert builder.stdout.readline().strip() == "MARTS WRITTEN"
        os.kill(builder.pid, signal.SIGKILL)
    finally:
        builder.wait(timeout=60)
    # readers see the core rows the transform committed and the marts of the last build
    assert contents(data) == stored
    assert {k: v for k, v in stored.items() if k.startswith("marts.")} == {
        k: v for k, v in before.items() if k.startswith("marts.")}

    rerun = build(data)  # the writer lock died with the killed build
    assert rerun.returncode == 0, rerun.stderr
    assert "checks: passed" in rerun.stdout
    assert contents(data) == contents(clean)


# -- a full disk ------------------------------------------------------------------------------


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 64 MB tmpfs mounted for the test (root only)."""
    with mounted_tmpfs(tmp_path / "disk", "64m") as mount:
        yield mount


def _size(folder: Path) -> int:
    return sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())


@pytest.mark.parametrize("room", ["none", "half the build"])
def test_a_full_disk_is_one_line_and_a_rerun_after_freeing_space_completes(
        tmp_path: Path, small_disk: Path, room: str) -> None:
    clean = tmp_path / "clean"
    store(clean)
    stored_size = _size(DataLayout(clean).warehouse)
    assert build(clean).returncode == 0
    build_size = _size(DataLayout(clean).warehouse) - stored_size

    data = small_disk / "data"
    store(data)
    filler = fill(small_disk, 64 * 1024 if room == "none" else build_size // 2)
    line = error_line(build(data))
    assert "no space left on device" in line
    assert f"writing {DataLayout(data).warehouse}:" in line
    # nothing of the build was committed
    assert not [name for name, rows in contents(data).items()
                if name.startswith("marts.") and rows]

    filler.unlink()
    rerun = build(data)
    assert rerun.returncode == 0, rerun.stderr
    assert contents(data) == contents(clean)
