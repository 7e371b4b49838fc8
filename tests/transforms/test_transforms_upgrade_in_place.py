"""`trackit upgrade`: a data directory with a legacy core Parquet lake → the DuckLake.

The legacy directory is made by the real transform, one raw file at a time, written out in
the legacy layout (``legacy_lake``); the expected core tables are what the transform makes
of the same raw files in one warehouse. Every command runs as a real process.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import T0, manual_examples, write_raw_file
from legacy_lake import (
    LEGACY_DATA,
    LEGACY_DERIVED,
    core_tables,
    legacy_folder,
    legacy_name,
    write_legacy_lake,
)
from polars.testing import assert_frame_equal

from lake.ducklake import open_warehouse
from schemas.core_tables import CORE_TABLES
from transforms.pipeline import transform_lake
from warehouse.places import import_places

LEGACY_ITEMS = (*LEGACY_DATA, *LEGACY_DERIVED)


def trackit(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "trackit", *args],
                          capture_output=True, text=True, timeout=240)


def write_raw_lake(data: Path) -> None:
    """Three raw files: the manual's examples twice (an hour apart: the second repeats the
    keys of the first), and a third file with a frame that is not JSON; one named place."""
    examples = list(manual_examples().values())
    write_raw_file(data, examples, name="part-0001", start=T0, seq0=0)
    write_raw_file(data, examples, name="part-0001", start=T0 + timedelta(hours=1),
                   seq0=1000)
    write_raw_file(data, [examples[0], "not json"], name="part-0002",
                   start=T0 + timedelta(minutes=30), seq0=2000)
    places = data.parent / "places.csv"
    places.write_text("name,lat,lon,radius_m\ndepot,38.7,-9.1,150\n")
    import_places(data, places)


@pytest.fixture(scope="module")
def legacy_and_expected(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A legacy data dir, and a data dir holding what the transform makes of its raw lake."""
    root = tmp_path_factory.mktemp("legacy")
    legacy, expected = root / "legacy" / "data", root / "expected" / "data"
    write_raw_lake(legacy)
    shutil.copytree(legacy, expected)
    transform_lake(expected)
    write_legacy_lake(legacy, root / "scratch")
    return legacy, expected


@pytest.fixture
def legacy(legacy_and_expected: tuple[Path, Path], tmp_path: Path) -> Path:
    """A private copy of the legacy data dir."""
    data = tmp_path / "data"
    shutil.copytree(legacy_and_expected[0], data)
    return data


@pytest.fixture(scope="module")
def expected(legacy_and_expected: tuple[Path, Path]) -> dict:
    return core_tables(legacy_and_expected[1])


def assert_tables_equal(data: Path, expected: dict,
                        commands_except: tuple[str, ...] = ()) -> None:
    actual = core_tables(data)
    assert set(actual) == set(expected)
    for name in CORE_TABLES:
        if name == "commands":
            assert_frame_equal(actual[name].drop(commands_except),
                               expected[name].drop(commands_except))
        else:
            assert_frame_equal(actual[name], expected[name])


def ledger_of(data: Path) -> dict[str, int]:
    with open_warehouse(data, read_only=True) as con:
        return dict(con.execute("select path, frames from meta.transformed_files").fetchall())


def legacy_dirs(data: Path) -> list[Path]:
    return sorted((data / "legacy").iterdir()) if (data / "legacy").is_dir() else []


def assert_old_layout(data: Path, snapshot: dict[str, bytes]) -> None:
    for item in LEGACY_ITEMS:
        assert (data / item).exists(), item
    assert file_bytes(data) == snapshot
    assert not legacy_dirs(data)


def file_bytes(data: Path) -> dict[str, bytes]:
    """Every legacy file under ``data``, by its path below the data dir (or its legacy
    folder), with its bytes."""
    found = {}
    for item in LEGACY_ITEMS:
        path = data / item
        for f in sorted(path.rglob("*")) if path.is_dir() else [path]:
            if f.is_file():
                found[f.relative_to(data).as_posix()] = f.read_bytes()
    return found


def table_lines(stdout: str) -> dict[str, list[str]]:
    """The per-table count lines of the upgrade's report: table → its columns."""
    lines = {}
    for line in stdout.splitlines():
        words = line.split()
        if words and (words[0].startswith("core.") or words[0] == "quarantine") \
                and len(words) == 6:
            lines[words[0]] = words[1:]
    return lines


def test_upgrade_loads_the_legacy_lake_and_moves_it_aside(legacy: Path, expected: dict
                                                          ) -> None:
    legacy_ledger = json.loads((legacy / "state/transform/ledger.json").read_text())["files"]
    before = file_bytes(legacy)
    places = (legacy / "reference/places.parquet").read_bytes()
    raw = sorted(p.relative_to(legacy) for p in (legacy / "raw").rglob("*.parquet"))

    out = trackit("upgrade", "--data", str(legacy))
    assert out.returncode == 0, out.stderr
    assert_tables_equal(legacy, expected)
    assert ledger_of(legacy) == legacy_ledger and len(legacy_ledger) == 3

    counts = table_lines(out.stdout)
    assert set(counts) == {f"core.{t}" for t in CORE_TABLES if t != "quarantine"} | {
        "quarantine"}
    for name in CORE_TABLES:
        files, rows, deduplicated, stored, verdict = counts[
            "quarantine" if name == "quarantine" else f"core.{name}"]
        folder = legacy_folder(Path("."), name).as_posix()
        legacy_files = [k for k in before if k.startswith(folder + "/")]
        assert int(files) == len(legacy_files), name
        assert int(rows) == sum(pq.read_metadata(pa.BufferReader(before[k])).num_rows
                                for k in legacy_files), name
        assert int(deduplicated) == int(stored) == expected[name].height, name
        assert verdict == "ok"
    # the second copy of the manual's examples repeats every record key of the first
    assert int(counts["core.records"][1]) > int(counts["core.records"][3])
    assert "ledger: 3 raw files in ledger.json, 3 in meta.transformed_files" in out.stdout

    with open_warehouse(legacy, read_only=True) as con:
        loads = con.execute("select load_id, files, rows from meta.loads").fetchall()
    assert loads == [(1, 3, sum(t.height for t in expected.values()))]

    [moved_to] = legacy_dirs(legacy)
    assert f"moved core/, quarantine/, state/transform/ledger.json, warehouse.duckdb, " \
           f"state/warehouse/build.duckdb, state/warehouse/published.json to {moved_to}" \
        in out.stdout
    assert f"delete {moved_to} once you are satisfied" in out.stdout
    for item in LEGACY_ITEMS:
        assert not (legacy / item).exists(), item
    assert file_bytes(moved_to) == before
    assert (legacy / "reference/places.parquet").read_bytes() == places
    assert sorted(p.relative_to(legacy) for p in (legacy / "raw").rglob("*.parquet")) == raw

    again = trackit("transform", "--data", str(legacy), "--quiet")
    assert again.returncode == 0, again.stderr
    assert "raw files transformed: 0 (already done: 3)" in again.stdout
    assert "upgrade" not in again.stdout

    write_raw_file(legacy, list(manual_examples().values())[:5], name="part-0003",
                   start=T0 + timedelta(hours=2), seq0=3000)
    new = trackit("transform", "--data", str(legacy), "--quiet")
    assert new.returncode == 0, new.stderr
    assert "raw files transformed: 1 (already done: 3)" in new.stdout
    assert "raw/date=2022-04-02/hour=12/part-0003.parquet" in ledger_of(legacy)
    once_more = trackit("transform", "--data", str(legacy), "--quiet")
    assert "raw files transformed: 0 (already done: 4)" in once_more.stdout


def test_rerun_is_a_no_op_that_says_so(legacy: Path) -> None:
    first = trackit("upgrade", "--data", str(legacy), "--quiet")
    assert first.returncode == 0, first.stderr
    [moved_to] = legacy_dirs(legacy)
    with open_warehouse(legacy, read_only=True) as con:
        snapshot = con.execute("select max(snapshot_id) from ducklake_snapshots('warehouse')"
                               ).fetchone()
    second = trackit("upgrade", "--data", str(legacy))
    assert second.returncode == 0, second.stderr
    [line] = second.stdout.splitlines()
    assert line.startswith(f"upgrade: {legacy} is already upgraded (load 1, "), line
    assert line.endswith(f"its legacy files went to {moved_to}"), line
    assert legacy_dirs(legacy) == [moved_to]
    with open_warehouse(legacy, read_only=True) as con:
        assert con.execute("select max(snapshot_id) from ducklake_snapshots('warehouse')"
                           ).fetchone() == snapshot


def test_nothing_to_upgrade_creates_nothing(tmp_path: Path) -> None:
    data = tmp_path / "data"
    write_raw_file(data, list(manual_examples().values())[:3])
    out = trackit("upgrade", "--data", str(data))
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith(f"upgrade: nothing to upgrade: {data} has no legacy core lake")
    assert not (data / "warehouse").exists() and not (data / "legacy").exists()


def test_a_legacy_file_missing_a_later_column_loads_it_as_null(legacy: Path,
                                                                expected: dict) -> None:
    """A core file written before a column was declared lacks it: its rows get NULL."""
    path = legacy / "core/records/date=2022-04-02" / legacy_name(
        Path("raw/date=2022-04-02/hour=10/part-0001.parquet"))
    rows = pq.read_table(path)
    column = next(c.name for c in CORE_TABLES["records"].columns
                  if c.nullable and c.name not in CORE_TABLES["records"].key
                  and rows.column(c.name).null_count == 0)
    pq.write_table(rows.drop_columns([column]), path)
    out = trackit("upgrade", "--data", str(legacy), "--quiet")
    assert out.returncode == 0, out.stderr
    records = core_tables(legacy)["records"]
    seqs = rows.column("seq").to_pylist()
    from_old_file = records.filter(records["seq"].is_in(seqs))
    assert from_old_file.height == len(seqs)
    assert from_old_file[column].null_count() == len(seqs)
    assert_frame_equal(records.drop(column), expected["records"].drop(column))


def test_a_key_in_two_legacy_files_keeps_the_row_received_first(tmp_path: Path) -> None:
    """The file sorting first by name was received last: its duplicate rows lose."""
    data, scratch = tmp_path / "data", tmp_path / "scratch"
    examples = list(manual_examples().values())
    late = write_raw_file(data, examples, name="a-late", start=T0 + timedelta(minutes=40),
                          seq0=500)
    early = write_raw_file(data, examples, name="b-early", start=T0, seq0=100)
    reference = tmp_path / "reference"
    shutil.copytree(data, reference)
    transform_lake(reference)
    write_legacy_lake(data, scratch)
    legacy_records = pq.read_table(data / "core/records" / "date=2022-04-02" /
                                   legacy_name(late.relative_to(data)))
    assert legacy_records.num_rows  # both files hold the same record keys

    out = trackit("upgrade", "--data", str(data), "--quiet")
    assert out.returncode == 0, out.stderr
    tables = core_tables(data)
    early_seqs = set(pq.read_table(early, columns=["seq"]).column("seq").to_pylist())
    for name in ("records", "record_io", "events", "driver_messages"):
        assert tables[name].height, name
        assert set(tables[name]["seq"].to_list()) <= early_seqs, name
    for name, rows in core_tables(reference).items():
        assert_frame_equal(tables[name], rows)


def test_the_first_transform_upgrades_and_redoes_a_ledger_file_without_core_files(
        legacy: Path, expected: dict) -> None:
    raw = Path("raw/date=2022-04-02/hour=10/part-0002.parquet")
    removed = [*(legacy / "core").rglob(legacy_name(raw)),
               *(legacy / "quarantine").rglob(legacy_name(raw))]
    assert removed
    for path in removed:
        path.unlink()
    out = trackit("transform", "--data", str(legacy), "--quiet")
    assert out.returncode == 0, out.stderr
    assert "ledger: 3 raw files in ledger.json, 2 in meta.transformed_files, 1 left out" \
        in out.stdout
    assert f"left out (the next transform reads it again): {raw.as_posix()}: no core or " \
           "quarantine file" in out.stdout
    assert "raw files transformed: 1 (already done: 2)" in out.stdout
    [moved_to] = legacy_dirs(legacy)
    assert not (legacy / "core").exists() and (moved_to / "core").is_dir()
    assert_tables_equal(legacy, expected)
    with open_warehouse(legacy, read_only=True) as con:
        assert con.execute("select load_id, count(*) from meta.transformed_files group by 1 "
                           "order by 1").fetchall() == [(1, 2), (2, 1)]


def test_the_first_build_upgrades_then_builds_the_marts_from_it(legacy: Path,
                                                                 expected: dict) -> None:
    out = trackit("build", "--data", str(legacy))
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0].startswith("upgrade: the legacy core lake is in the warehouse")
    # the marts are computed from the upgraded rows (the build's place import is load 2)
    assert re.search(r"^marts: built up to load 2: [1-9]\d* vehicles rebuilt from "
                     rf"{expected['records'].height} records", out.stdout, re.M), out.stdout
    assert "checks: passed" in out.stdout
    assert len(legacy_dirs(legacy)) == 1 and not (legacy / "core").exists()
    # the build sets the status of the commands sent from the server's replies
    answered = ("status", "replied_at")
    assert_tables_equal(legacy, expected, commands_except=answered)


def test_an_unreadable_legacy_file_sends_its_raw_file_back(legacy: Path,
                                                           expected: dict) -> None:
    raw = Path("raw/date=2022-04-02/hour=11/part-0001.parquet")
    damaged = legacy / "core/records/date=2022-04-02" / legacy_name(raw)
    damaged.write_bytes(damaged.read_bytes()[: damaged.stat().st_size // 2])
    out = trackit("upgrade", "--data", str(legacy), "--quiet")
    assert out.returncode == 0, out.stderr
    assert f"{raw.as_posix()}: its core file core/records/date=2022-04-02/" \
           f"{legacy_name(raw)} is unreadable" in out.stdout
    again = trackit("transform", "--data", str(legacy), "--quiet")
    assert "raw files transformed: 1 (already done: 2)" in again.stdout, again.stderr
    assert_tables_equal(legacy, expected)


def assert_refused_as_mixed(data: Path, *commands: str) -> None:
    for command in commands:
        out = trackit(command, "--data", str(data))
        assert out.returncode == 1
        [line] = out.stderr.strip().splitlines()
        assert line.startswith(f"trackit: error: the warehouse "
                               f"{data / 'warehouse/catalog.sqlite'} already has transformed "
                               f"raw files and a legacy core lake is still at "
                               f"{data / 'core'}: "), line
        assert f"`trackit upgrade --data {data}` again" in line


def test_a_warehouse_beside_a_legacy_lake_is_refused_naming_both(legacy: Path,
                                                                  tmp_path: Path) -> None:
    """Transformed raw files in the warehouse and a legacy core lake: which one is right is
    the operator's call."""
    hidden = tmp_path / "hidden"
    for item in LEGACY_ITEMS:
        (hidden / item).parent.mkdir(parents=True, exist_ok=True)
        (legacy / item).rename(hidden / item)
    transform_lake(legacy)
    for item in LEGACY_DATA:
        (hidden / item).rename(legacy / item)
    assert_refused_as_mixed(legacy, "upgrade", "transform")
    assert (legacy / "core").is_dir() and not legacy_dirs(legacy)


def test_a_legacy_lake_restored_after_the_upgrade_is_refused(legacy: Path) -> None:
    assert trackit("upgrade", "--data", str(legacy), "--quiet").returncode == 0
    [moved_to] = legacy_dirs(legacy)
    shutil.copytree(moved_to / "core", legacy / "core")
    assert_refused_as_mixed(legacy, "upgrade")
    assert (legacy / "core").is_dir() and legacy_dirs(legacy) == [moved_to]


KILLED_AT = """
import os, signal, sys
import transforms.migrate_core_lake as m
from trackit.cli import main
point = sys.argv[1]
if point == "commit":
    m._commit = lambda con: os.kill(os.getpid(), signal.SIGKILL)
else:
    move = m._move_one
    def move_then_die(source, target):
        move(source, target)
        os.kill(os.getpid(), signal.SIGKILL)
    m._move_one = move_then_die
sys.exit(main(["upgrade", "--data", sys.argv[2]]))
"""


def killed_upgrade(data: Path, point: str) -> None:
    """Run the real upgrade in a process killed (SIGKILL) at ``point``: just before the
    commit, or just after the first legacy item was moved."""
    out = subprocess.run([sys.executable, "-c", KILLED_AT, point, str(data)],
                         capture_output=True, text=True, timeout=240,
                         env={**os.environ, "PYTHONPATH": str(Path.cwd())})
    assert out.returncode == -signal.SIGKILL, out.stderr


def test_killed_before_the_commit_leaves_the_old_layout(legacy: Path, expected: dict) -> None:
    before = file_bytes(legacy)
    killed_upgrade(legacy, "commit")
    assert_old_layout(legacy, before)
    assert ledger_of(legacy) == {}
    out = trackit("upgrade", "--data", str(legacy), "--quiet")
    assert out.returncode == 0, out.stderr
    assert_tables_equal(legacy, expected)
    assert len(legacy_dirs(legacy)) == 1


def test_killed_while_moving_is_finished_by_the_next_transform(legacy: Path,
                                                                expected: dict) -> None:
    killed_upgrade(legacy, "move")
    [moved_to] = legacy_dirs(legacy)
    assert (moved_to / "core").is_dir() and (legacy / "quarantine").is_dir()
    out = trackit("transform", "--data", str(legacy), "--quiet")
    assert out.returncode == 0, out.stderr
    assert "upgrade: finishing the upgrade committed as load 1" in out.stdout
    assert "raw files transformed: 0 (already done: 3)" in out.stdout
    assert legacy_dirs(legacy) == [moved_to]
    for item in LEGACY_ITEMS:
        assert not (legacy / item).exists() and (moved_to / item).exists(), item
    assert_tables_equal(legacy, expected)
