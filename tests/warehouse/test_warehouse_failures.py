"""When things go wrong in a build: damaged published or builder files, a killed publish,
a corrupt core file, a full disk. Each is one clear line or a repair, and a rerun equals a
clean build.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest
from sample_fleet import DEFAULT_START, FleetSpec, generate, store_core_rows
from tmpfs import fill, mounted_tmpfs

from lake.layout import DataLayout
from warehouse.database import builder_path
from warehouse.errors import BuilderDatabaseError
from warehouse.marts import build_marts
from warehouse.publish import published_build_id

FLEET = FleetSpec(start=DEFAULT_START, hours=6, vehicles=3)


def trackit(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "trackit", *args],
                          capture_output=True, text=True, timeout=300)


def build(data: Path) -> subprocess.CompletedProcess[str]:
    return trackit("build", "--data", str(data))


def fleet_lake(data: Path) -> Path:
    data.mkdir(parents=True, exist_ok=True)
    store_core_rows(data, generate(FLEET))
    return data


def contents(database: Path) -> dict[str, list[tuple]]:
    """Every row of every ``core`` and ``marts`` table of a DuckDB file, sorted.

    Attached from an in-memory connection, so a file replaced at the same path is read
    anew (``duckdb.connect`` would reuse a database this process still has open).
    """
    con = duckdb.connect(":memory:")
    try:
        con.execute(f"attach '{database}' as w (read_only)")
        tables = con.execute(
            "select schema_name, table_name from duckdb_tables() where database_name = 'w' "
            "and schema_name in ('core', 'marts') order by all").fetchall()
        return {
            f"{schema}.{table}": con.execute(
                f"select * exclude (_load_id) from w.{schema}.{table} order by all"
                if schema == "core" else f"select * from w.{schema}.{table} order by all"
            ).fetchall()
            for schema, table in tables
        }
    finally:
        con.close()


def error_line(done: subprocess.CompletedProcess[str]) -> str:
    """The one line a failed command printed (its log lines aside)."""
    lines = [line for line in done.stderr.strip().splitlines() if line.startswith("trackit:")]
    assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
    return lines[0]


@pytest.fixture
def built(tmp_path: Path) -> tuple[Path, dict[str, list[tuple]]]:
    """A data dir built once from the sample fleet, and the published contents."""
    data = fleet_lake(tmp_path / "data")
    done = build(data)
    assert done.returncode == 0, done.stderr
    return data, contents(DataLayout(data).warehouse)


def _truncate(path: Path) -> None:
    os.truncate(path, path.stat().st_size // 2)


def _garbage(path: Path) -> None:
    path.write_bytes(os.urandom(path.stat().st_size))


def _empty(path: Path) -> None:
    path.write_bytes(b"")


@pytest.mark.parametrize("damage", [_truncate, _garbage, _empty, Path.unlink],
                         ids=["truncated", "garbage", "empty", "deleted"])
def test_a_damaged_published_warehouse_is_published_again(built, damage) -> None:
    data, before = built
    published = DataLayout(data).warehouse
    again = build(data)
    assert again.returncode == 0 and "already up to date" in again.stdout

    damage(published)
    repaired = build(data)
    assert repaired.returncode == 0, repaired.stderr
    assert "already up to date" not in repaired.stdout
    assert f"the published {published}" in repaired.stdout
    assert "WARNING" in repaired.stderr and str(published) in repaired.stderr
    assert contents(published) == before
    assert published_build_id(published)  # a reader opens it
    assert "already up to date" in build(data).stdout


def test_a_republished_warehouse_replaces_an_older_copy_put_back(built) -> None:
    """An old, whole warehouse file put back over the published one is not the build."""
    data, _ = built
    published = DataLayout(data).warehouse
    old = published.with_name("old.duckdb")
    shutil.copy(published, old)
    fleet_more = generate(FleetSpec(start=DEFAULT_START, hours=8, vehicles=3))
    store_core_rows(data, fleet_more)
    assert build(data).returncode == 0
    newer = contents(published)
    os.replace(old, published)
    repaired = build(data)
    assert repaired.returncode == 0 and "published again" in repaired.stdout
    assert contents(published) == newer


KILLED_IN_PUBLISH = textwrap.dedent("""
    import shutil, sys, time
    from pathlib import Path
    import warehouse.publish as publish

    def half_copy(source, target):
        data = Path(source).read_bytes()
        with open(target, "wb") as out:
            out.write(data[: len(data) // 2])
            out.flush()
        print("COPYING", target, flush=True)
        time.sleep(120)

    publish.shutil.copyfile = half_copy
    from warehouse.build import build_warehouse
    build_warehouse(Path(sys.argv[1]))
""")


def test_the_leftovers_of_a_build_killed_while_publishing_are_removed(tmp_path: Path) -> None:
    data = fleet_lake(tmp_path / "data")
    clean = fleet_lake(tmp_path / "clean")
    assert build(clean).returncode == 0

    builder = subprocess.Popen([sys.executable, "-c", KILLED_IN_PUBLISH, str(data)],
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        assert builder.stdout is not None
        line = builder.stdout.readline()
        assert line.startswith("COPYING"), line
        os.kill(builder.pid, signal.SIGKILL)
    finally:
        builder.wait(timeout=30)
    leftover = Path(line.split()[1])
    assert leftover.exists() and leftover.parent == data
    marker_leftover = builder_path(data).with_name(".tmp-0123-published.json")
    marker_leftover.write_text('{"load_id": 1')  # as a kill while writing the marker leaves
    raw_leftover = data / "raw" / "date=2026-03-02" / "hour=00" / ".tmp-4567-part.parquet"
    raw_leftover.parent.mkdir(parents=True)
    raw_leftover.write_bytes(b"a raw file ingest is writing")

    rerun = build(data)
    assert rerun.returncode == 0, rerun.stderr
    assert "removed 2 temporary file(s)" in rerun.stdout
    assert not leftover.exists() and not marker_leftover.exists()
    assert raw_leftover.exists()  # not the build's to remove
    assert contents(DataLayout(data).warehouse) == contents(DataLayout(clean).warehouse)


def test_a_damaged_builder_database_is_rebuilt_from_the_core_lake(built) -> None:
    data, before = built
    builder = builder_path(data)
    builder.write_bytes(os.urandom(builder.stat().st_size))
    rebuilt = build(data)
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert "WARNING" in rebuilt.stderr and str(builder) in rebuilt.stderr
    assert "rebuilding it from the core lake" in rebuilt.stderr
    assert "published" in rebuilt.stdout and "already up to date" not in rebuilt.stdout
    assert contents(DataLayout(data).warehouse) == before


def test_a_later_step_names_the_folder_of_a_damaged_builder_database(built) -> None:
    data, _ = built
    builder = builder_path(data)
    os.truncate(builder, builder.stat().st_size // 3)
    with pytest.raises(BuilderDatabaseError, match=f"delete the folder {builder.parent} "):
        build_marts(data)


@pytest.mark.parametrize("damage", [_truncate, _garbage], ids=["truncated", "garbage"])
def test_a_corrupt_core_file_is_named_with_what_to_do(tmp_path: Path, damage) -> None:
    data = fleet_lake(tmp_path / "data")
    victim = sorted((data / "core" / "records").rglob("*.parquet"))[2]
    damage(victim)
    failed = build(data)
    assert failed.returncode == 1
    line = error_line(failed)
    assert line.startswith(f"trackit: error: core file {victim} is unreadable")
    assert f"trackit transform --data {data} --redo {victim}" in line
    assert not DataLayout(data).warehouse.exists()


# -- a full disk -----------------------------------------------------------------------------


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 64 MB tmpfs mounted for the test (root only)."""
    with mounted_tmpfs(tmp_path / "disk", "64m") as mount:
        yield mount


@pytest.mark.parametrize("room", ["none", "builder only"])
def test_a_full_disk_is_one_line_and_a_rerun_after_freeing_space_completes(
        tmp_path: Path, small_disk: Path, room: str) -> None:
    clean = fleet_lake(tmp_path / "clean")
    assert build(clean).returncode == 0
    builder_size = builder_path(clean).stat().st_size
    published_size = DataLayout(clean).warehouse.stat().st_size

    data = small_disk / "data"
    shutil.copytree(clean / "core", data / "core")
    leave = 64 * 1024 if room == "none" else builder_size + published_size // 2
    filler = fill(small_disk, leave)
    failed = build(data)
    assert failed.returncode == 1, failed.stdout
    line = error_line(failed)
    assert "no space left on device" in line
    folder = builder_path(data).parent if room == "none" else data
    assert f"writing {folder}:" in line or f"(in {folder})" in line
    assert not DataLayout(data).warehouse.exists()  # nothing half-published
    assert not list(data.glob(".tmp-*"))

    filler.unlink()
    rerun = build(data)
    assert rerun.returncode == 0, rerun.stderr
    assert contents(DataLayout(data).warehouse) == contents(DataLayout(clean).warehouse)
