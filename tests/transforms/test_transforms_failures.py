"""When things go wrong in a transform: raw rows without frame, time or seq, a run killed
while it stores a batch, a full disk. Each is a quarantine row or one clear line; nothing
of the unfinished batch is in the warehouse, and a rerun equals a clean run.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import (
    T0,
    ledger,
    manual_examples,
    query,
    read_table,
    warehouse_contents,
    write_raw_file,
)
from tmpfs import fill, mounted_tmpfs

from lake.ducklake import open_warehouse
from schemas.core_tables import CORE_TABLES
from transforms.batch import substitute_seq
from transforms.core_store import core_table_ddl


def trackit(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "trackit", *args],
                          capture_output=True, text=True, timeout=300)


def transform(data: Path) -> subprocess.CompletedProcess[str]:
    return trackit("transform", "--data", str(data), "--quiet")


def error_line(done: subprocess.CompletedProcess[str]) -> str:
    lines = [line for line in done.stderr.strip().splitlines() if line.startswith("trackit:")]
    assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
    return lines[0]


def no_duplicate_keys(data: Path) -> None:
    """Every core table holds each key once."""
    for name, table in CORE_TABLES.items():
        key = ", ".join(("raw_file", "seq") if name == "quarantine" else table.key)
        assert query(data, f"select count(*) - count(distinct ({key})) from core.{name}"
                     ) == [(0,)], name


def record_frames(n: int, start: int = 0) -> list[str]:
    """``n`` distinct records frames shaped like the manual's example."""
    example = json.loads(manual_examples()["records"][1])
    frames = []
    for i in range(start, start + n):
        record = example["params"]["lastRecord"]
        record["vid"] = 826000 + i % 25
        record["tmx"] = (T0 + timedelta(seconds=i)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
        record["loc"]["lon"] = -9.0 + i * 1e-5
        record["gkm"] = 1_000_000 + i
        frames.append(json.dumps(example))
    return frames


def raw_lake(data: Path, files: int = 6, frames: int = 3000) -> None:
    for f in range(files):
        write_raw_file(data, record_frames(frames, f * frames), name=f"part-{f:04d}",
                       start=T0 + timedelta(hours=f), seq0=f * frames)


# -- raw rows without frame, received_at or seq ----------------------------------------------


def write_raw_with_nulls(data: Path, column: str, rows: list[int]) -> Path:
    """A raw file of the manual's examples, ``column`` NULL at ``rows`` (another tool's)."""
    examples = list(manual_examples().values())
    n = len(examples)
    columns = {
        "received_at": [T0 + timedelta(milliseconds=10 * i) for i in range(n)],
        "direction": [d for d, _ in examples],
        "connection_id": ["conn-1"] * n,
        "seq": list(range(n)),
        "frame": [t for _, t in examples],
    }
    for row in rows:
        columns[column][row] = None
    folder = data / "raw" / f"date={T0:%Y-%m-%d}" / f"hour={T0:%H}"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "part-0001.parquet"
    pq.write_table(pa.table(columns), path)
    return path


@pytest.mark.parametrize("column", ["seq", "received_at", "frame"])
def test_raw_rows_without_frame_time_or_seq_are_quarantined(
        tmp_path: Path, column: str) -> None:
    names = list(manual_examples())
    nulls = [names.index("records"), names.index("pnd-msg")]
    data = tmp_path / "data"
    raw = write_raw_with_nulls(data, column, nulls)
    clean = tmp_path / "clean"
    kept = [e for i, e in enumerate(manual_examples().values()) if i not in nulls]
    write_raw_file(clean, kept)

    done = transform(data)
    assert done.returncode == 0, done.stderr
    assert "reconciles" in done.stdout and f"NULL {column}" in done.stdout
    quarantine = read_table(data, "quarantine").filter(pl.col("stage") == "raw")
    assert quarantine.get_column("reason").to_list() == [f"NULL {column}"] * 2
    if column == "seq":  # negative, derived from the raw file and row
        expected_seq = [substitute_seq(raw, row) for row in nulls]
        assert all(seq < 0 for seq in expected_seq)
    else:
        expected_seq = nulls
    assert sorted(quarantine.get_column("seq").to_list()) == sorted(expected_seq)
    if column == "received_at":  # the start of the raw file's hour
        assert quarantine.get_column("received_at").to_list() == [T0, T0]
    if column == "frame":
        assert quarantine.get_column("frame").to_list() == ["", ""]

    assert transform(clean).returncode == 0
    for table in ("records", "driver_messages", "message_status", "commands"):
        mine = read_table(data, table).drop("seq", "received_at", strict=False)
        theirs = read_table(clean, table).drop("seq", "received_at", strict=False)
        assert mine.equals(theirs), table  # the rest of the file transformed as usual

    built = trackit("build", "--data", str(data))
    assert built.returncode == 0, built.stderr


# -- a run killed while it stores a batch ----------------------------------------------------

KILLED_WHILE_STORING = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    import transforms.core_store as core_store

    real_insert = core_store._insert_deduplicated

    def insert_then_hang(con, table, data, load_id):
        inserted = real_insert(con, table, data, load_id)
        if load_id == 2:  # the second batch: its records are in, the rest is not
            print("STORING", load_id, table.name, flush=True)
            time.sleep(120)
        return inserted

    core_store._insert_deduplicated = insert_then_hang
    from transforms.pipeline import transform_lake
    transform_lake(Path(sys.argv[1]), batch_frames=200)
""")


def test_a_run_killed_while_storing_a_batch_leaves_none_of_it(tmp_path: Path) -> None:
    data, clean = tmp_path / "data", tmp_path / "clean"
    raw_lake(data, files=3, frames=200)
    raw_lake(clean, files=3, frames=200)
    assert transform(clean).returncode == 0

    run = subprocess.Popen([sys.executable, "-c", KILLED_WHILE_STORING, str(data)],
                           stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        assert run.stdout is not None
        line = run.stdout.readline()
        assert line.split() == ["STORING", "2", "records"], line
        os.kill(run.pid, signal.SIGKILL)
    finally:
        run.wait(timeout=30)
    first = "raw/date=2022-04-02/hour=10/part-0000.parquet"
    assert ledger(data) == {first: (200, 1)}  # batch 1 committed, batch 2 not at all
    assert query(data, "select distinct _load_id from core.records") == [(1,)]
    assert query(data, "select load_id from meta.loads") == [(1,)]

    rerun = transform(data)
    assert rerun.returncode == 0, rerun.stderr
    assert "raw files transformed: 2 (already done: 1)" in rerun.stdout
    assert warehouse_contents(data) == warehouse_contents(clean)
    assert ledger(data).keys() == ledger(clean).keys()
    no_duplicate_keys(data)


# -- a DuckDB error while a batch is stored --------------------------------------------------


def test_a_duckdb_error_while_storing_is_one_line_and_stores_nothing_of_the_batch(
        tmp_path: Path) -> None:
    data = tmp_path / "data"
    write_raw_file(data, list(manual_examples().values()))
    with open_warehouse(data) as con:  # a warehouse whose events.extra is NOT NULL
        con.execute("create schema core")
        con.execute(core_table_ddl(CORE_TABLES["events"]).replace(
            "extra VARCHAR", "extra VARCHAR not null"))
    failed = transform(data)
    assert failed.returncode == 1
    line = error_line(failed)
    assert line.startswith("trackit: error: transform failed in DuckDB: Constraint Error: "
                           "NOT NULL constraint failed: events.extra"), line
    assert line.endswith("(nothing of the unfinished batch was recorded)"), line
    assert ledger(data) == {}
    assert query(data, "select count(*) from core.records") == [(0,)]


# -- a full disk -----------------------------------------------------------------------------


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 32 MB tmpfs mounted for the test (root only)."""
    with mounted_tmpfs(tmp_path / "disk", "32m") as mount:
        yield mount


def warehouse_bytes(data: Path) -> int:
    return sum(p.stat().st_size for p in (data / "warehouse").rglob("*") if p.is_file())


def test_a_full_disk_is_one_line_and_a_rerun_after_freeing_space_completes(
        tmp_path: Path, small_disk: Path) -> None:
    clean = tmp_path / "clean"
    raw_lake(clean)
    assert transform(clean).returncode == 0

    data = small_disk / "data"
    shutil.copytree(clean / "raw", data / "raw")
    filler = fill(small_disk, warehouse_bytes(clean) // 2)  # room for about half of it
    failed = transform(data)
    assert failed.returncode == 1, failed.stdout
    line = error_line(failed)
    assert line == (f"trackit: error: no space left on device writing {data / 'warehouse'}: "
                    "free space there and rerun `trackit transform` (the unfinished "
                    "transaction was rolled back)")
    stored = ledger(data) if (data / "warehouse/catalog.sqlite").exists() else {}
    assert len(stored) < 6
    if stored:  # what was committed is whole: every stored row belongs to a ledgered load
        loads = {load for _, load in stored.values()}
        assert {row[0] for row in query(data, "select _load_id from core.records")} == loads

    filler.unlink()
    rerun = transform(data)
    assert rerun.returncode == 0, rerun.stderr
    assert warehouse_contents(data) == warehouse_contents(clean)
    assert ledger(data).keys() == ledger(clean).keys()
    no_duplicate_keys(data)
