"""When things go wrong in a transform: raw rows without frame, time or seq, a run killed
while publishing, a full disk, a core file the build cannot read. Each is a quarantine
row, a cleanup or one clear line, and a rerun equals a clean run.
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
from conftest import T0, manual_examples, read_table, write_raw_file
from tmpfs import fill, mounted_tmpfs

from lake.layout import DataLayout
from transforms.batch import substitute_seq
from transforms.ledger import load_ledger


def trackit(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "trackit", *args],
                          capture_output=True, text=True, timeout=300)


def transform(data: Path) -> subprocess.CompletedProcess[str]:
    return trackit("transform", "--data", str(data), "--quiet")


def error_line(done: subprocess.CompletedProcess[str]) -> str:
    lines = [line for line in done.stderr.strip().splitlines() if line.startswith("trackit:")]
    assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
    return lines[0]


def lake_files(data: Path) -> dict[str, bytes]:
    """Every published file of the core lake and the quarantine, by relative path."""
    return {p.relative_to(data).as_posix(): p.read_bytes()
            for area in ("core", "quarantine") for p in sorted((data / area).rglob("*"))
            if p.is_file()}


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
    assert quarantine.get_column("seq").to_list() == expected_seq
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


# -- a run killed while publishing -----------------------------------------------------------

KILLED_IN_WRITE = textwrap.dedent("""
    import os, sys, time
    from pathlib import Path
    import lake.storage as storage

    real_write = storage.pq.write_table
    calls = 0

    def half_write(table, where, **options):
        global calls
        calls += 1
        real_write(table, where, **options)
        if calls == 3:
            os.truncate(where, os.path.getsize(where) // 2)
            print("WRITING", where, flush=True)
            time.sleep(120)

    storage.pq.write_table = half_write
    from transforms.pipeline import transform_lake
    transform_lake(Path(sys.argv[1]))
""")


def test_the_leftovers_of_a_run_killed_while_publishing_are_removed(tmp_path: Path) -> None:
    data, clean = tmp_path / "data", tmp_path / "clean"
    raw_lake(data, files=2, frames=200)
    raw_lake(clean, files=2, frames=200)
    assert transform(clean).returncode == 0

    run = subprocess.Popen([sys.executable, "-c", KILLED_IN_WRITE, str(data)],
                           stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        assert run.stdout is not None
        line = run.stdout.readline()
        assert line.startswith("WRITING"), line
        os.kill(run.pid, signal.SIGKILL)
    finally:
        run.wait(timeout=30)
    leftover = Path(line.split()[1])
    assert leftover.exists() and leftover.name.startswith(".tmp-")
    layout = DataLayout(data)
    quarantine_leftover = layout.quarantine / "date=2022-04-02" / ".tmp-0a1b-part-0001.parquet"
    quarantine_leftover.parent.mkdir(parents=True, exist_ok=True)
    quarantine_leftover.write_bytes(b"PAR1 half")
    ledger_leftover = layout.state / "transform" / ".tmp-0a1b-ledger.json"
    ledger_leftover.write_text('{"version": 1, "fi')
    raw_leftover = layout.raw / "date=2022-04-02" / "hour=10" / ".tmp-0a1b-part-9.parquet"
    raw_leftover.write_bytes(b"a raw file ingest is writing")

    rerun = transform(data)
    assert rerun.returncode == 0, rerun.stderr
    assert "removed 3 temporary file(s)" in rerun.stdout
    assert not leftover.exists() and not quarantine_leftover.exists()
    assert not ledger_leftover.exists()
    assert raw_leftover.exists()  # ingest's, not the transform's to remove
    raw_leftover.unlink()
    assert lake_files(data) == lake_files(clean)
    assert load_ledger(layout) == load_ledger(DataLayout(clean))


# -- a full disk -----------------------------------------------------------------------------


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 32 MB tmpfs mounted for the test (root only)."""
    with mounted_tmpfs(tmp_path / "disk", "32m") as mount:
        yield mount


def test_a_full_disk_is_one_line_and_a_rerun_after_freeing_space_completes(
        tmp_path: Path, small_disk: Path) -> None:
    clean = tmp_path / "clean"
    raw_lake(clean)
    assert transform(clean).returncode == 0
    core_bytes = sum(len(b) for b in lake_files(clean).values())

    data = small_disk / "data"
    shutil.copytree(clean / "raw", data / "raw")
    filler = fill(small_disk, core_bytes // 2)  # room for about half the core lake
    failed = transform(data)
    assert failed.returncode == 1, failed.stdout
    line = error_line(failed)
    assert line.startswith("trackit: error: no space left on device writing "
                           f"{data / 'core'}") or f"writing {data / 'quarantine'}" in line
    assert not list(data.rglob(".tmp-*"))  # nothing half-published
    done = load_ledger(DataLayout(data))
    for name, content in lake_files(data).items():  # what was published is whole
        assert pq.read_table(data / name).num_rows > 0 and content
    assert len(done) < 6

    filler.unlink()
    rerun = transform(data)
    assert rerun.returncode == 0, rerun.stderr
    assert lake_files(data) == lake_files(clean)
    assert load_ledger(DataLayout(data)) == load_ledger(DataLayout(clean))


# -- a core file the build cannot read -------------------------------------------------------


def test_a_corrupt_core_file_is_written_again_by_the_command_the_build_names(
        tmp_path: Path) -> None:
    data, clean = tmp_path / "data", tmp_path / "clean"
    raw_lake(data, files=3, frames=300)
    raw_lake(clean, files=3, frames=300)
    assert transform(data).returncode == 0 and transform(clean).returncode == 0
    assert trackit("build", "--data", str(clean)).returncode == 0
    victim = sorted((data / "core" / "records").rglob("*.parquet"))[1]
    victim.write_bytes(os.urandom(victim.stat().st_size))

    failed = trackit("build", "--data", str(data))
    assert failed.returncode == 1
    line = error_line(failed)
    assert f"core file {victim} is unreadable" in line
    command = line.split("run `trackit ")[1].split("`")[0].split()
    assert command == ["transform", "--data", str(data), "--redo", str(victim)]

    redo = trackit(*command)
    assert redo.returncode == 0, redo.stderr
    assert "redoing raw/date=2022-04-02/hour=11/part-0001.parquet" in redo.stdout
    assert "raw files transformed: 1 (already done: 2)" in redo.stdout
    assert lake_files(data) == lake_files(clean)
    rebuilt = trackit("build", "--data", str(data))
    assert rebuilt.returncode == 0, rebuilt.stderr


def test_redo_refuses_a_file_it_cannot_write_again(tmp_path: Path) -> None:
    data = tmp_path / "data"
    raw_lake(data, files=1, frames=10)
    assert transform(data).returncode == 0
    orphan = data / "core" / "records" / "date=2022-04-02" / "elsewhere.parquet"
    done = trackit("transform", "--data", str(data), "--redo", str(orphan))
    assert done.returncode == 1
    assert error_line(done) == (
        f"trackit: error: no raw file {data}/raw/date=2022-04-02/hour=*/elsewhere.parquet "
        f"to write {orphan} again from: delete it if its rows are not needed, then rerun")
    outside = trackit("transform", "--data", str(data), "--redo", str(tmp_path / "x.parquet"))
    assert outside.returncode == 1 and "is not a file of the data directory" in outside.stderr


def test_a_raw_file_named_for_redo_is_transformed_again(tmp_path: Path) -> None:
    data = tmp_path / "data"
    raw_lake(data, files=2, frames=10)
    assert transform(data).returncode == 0
    before = lake_files(data)
    raw = sorted((data / "raw").rglob("*.parquet"))[0]
    again = trackit("transform", "--data", str(data), "--redo", str(raw), "--quiet")
    assert again.returncode == 0, again.stderr
    assert "raw files transformed: 1 (already done: 1)" in again.stdout
    assert lake_files(data) == before
