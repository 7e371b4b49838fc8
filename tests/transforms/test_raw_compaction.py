"""Raw compaction of closed hours: one file per run, the ledger swapped, crash-safe.

Real raw files, the real transform into a real DuckLake warehouse; crashes are an
exception raised between two steps, or a real ``SIGKILL`` of a child process inside the
ledger transaction. After every crash the next transform must transform nothing, the
core tables must hold what they held, and the raw lake must hold every frame once.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import T0, manual_examples, write_raw_file

import transforms.raw_compaction as compaction
from lake.ducklake import open_warehouse
from lake.layout import DataLayout
from lake.raw_schema import RAW_SCHEMA
from lake.storage import list_parquet
from transforms.pipeline import transform_lake
from transforms.raw_compaction import COMPACTED_FROM, compact_raw_lake, compacted_from

NOW = T0 + timedelta(hours=2)  # hour 10 of T0 is closed, hour 11 ended within the grace
REPO = Path(__file__).resolve().parents[2]


def records_frame(vid: int, tmx: str, speed: int = 10) -> str:
    return json.dumps({"uid": 1, "params": {"type": "records", "total": 1, "lastRecord": {
        "tmx": tmx, "vid": vid, "loc": {"lat": 38.5, "lon": -9.1}, "gsp": speed,
        "exd": {"io": {"1": 1}}}}})


def ingest_name(instance: str, first: int, last: int) -> str:
    return f"{instance}-{first:016d}-{last:016d}"


def write_ingest_files(data: Path, instance: str, *, files: int, per_file: int,
                       start: datetime = T0, seq0: int = 1, vid0: int = 1) -> list[Path]:
    """``files`` consecutive raw files of ``instance`` as the ingest names them."""
    examples = list(manual_examples().values())
    paths = []
    for i in range(files):
        first = seq0 + i * per_file
        at = start + timedelta(seconds=first - seq0)
        frames: list[tuple[str, str] | str] = [
            records_frame(vid0 + (first + k) % 5,
                          (at + timedelta(seconds=k)).strftime("%Y-%m-%dT%H:%M:%SZ"), speed=k)
            for k in range(per_file - 2)]
        frames += [examples[i % len(examples)], "{not json " + str(first)]
        paths.append(write_raw_file(
            data, frames, name=ingest_name(instance, first, first + per_file - 1),
            start=at, seq0=first))
    return paths


def core_counts(data: Path) -> dict[str, int]:
    with open_warehouse(data, read_only=True) as con:
        tables = [r[0] for r in con.execute(
            "select table_name from information_schema.tables where table_catalog = "
            "current_database() and table_schema = 'core' order by 1").fetchall()]
        return {t: con.execute(f"select count(*) from core.{t}").fetchone()[0] for t in tables}


def ledger(data: Path) -> dict[str, int]:
    with open_warehouse(data, read_only=True) as con:
        return dict(con.execute("select path, frames from meta.transformed_files").fetchall())


def raw_frames(data: Path) -> Counter[tuple]:
    """Every row of every visible raw file, counted (a frame seen twice counts 2)."""
    rows: Counter[tuple] = Counter()
    for path in list_parquet(DataLayout(data).raw):
        table = pq.read_table(path)
        rows.update(zip(*(table.column(c).to_pylist() for c in RAW_SCHEMA.names), strict=True))
    return rows


@pytest.fixture
def lake(data_dir: Path) -> Path:
    """Two instances: 5 files of ``a`` and 3 of ``b`` in closed hour 10, 2 of ``a`` in 11."""
    write_ingest_files(data_dir, "a", files=5, per_file=20)
    write_ingest_files(data_dir, "b", files=3, per_file=7, vid0=20)
    write_ingest_files(data_dir, "a", files=2, per_file=10, start=T0 + timedelta(hours=1),
                       seq0=1001)
    transform_lake(data_dir)
    return data_dir


def hour_files(data: Path, hour: int) -> list[str]:
    return sorted(p.name for p in list_parquet(data / "raw" / "date=2022-04-02" / f"hour={hour}"))


def test_a_closed_transformed_hour_becomes_one_file_per_run(lake: Path) -> None:
    counts, frames, before = core_counts(lake), raw_frames(lake), ledger(lake)
    sources_a = hour_files(lake, 10)[:5]

    summary = compact_raw_lake(lake, now=NOW)

    assert (summary.hours, summary.files_merged, summary.files_written) == (1, 8, 2)
    assert hour_files(lake, 10) == ["a-0000000000000001-0000000000000100.parquet",
                                    "b-0000000000000001-0000000000000021.parquet"]
    assert len(hour_files(lake, 11)) == 2, "an hour within the grace is not touched"
    merged = lake / "raw" / "date=2022-04-02" / "hour=10" / hour_files(lake, 10)[0]
    assert compacted_from(merged) == sources_a
    table = pq.read_table(merged)
    assert table.schema.equals(RAW_SCHEMA)
    assert table.column("seq").to_pylist() == list(range(1, 101))
    assert raw_frames(lake) == frames, "every frame once, byte for byte"
    assert core_counts(lake) == counts
    after = ledger(lake)
    assert sum(after.values()) == sum(before.values())
    assert after["raw/date=2022-04-02/hour=10/" + merged.name] == 100
    assert len(after) == 4

    with open_warehouse(lake, read_only=True) as con:
        quarantined_in = {r[0] for r in con.execute(
            "select distinct raw_file from core.quarantine").fetchall()}
    assert quarantined_in <= set(after), "quarantine rows name files that exist"

    again = transform_lake(lake)
    assert (again.files_processed, again.frames) == (0, 0)
    assert compact_raw_lake(lake, now=NOW).files_written == 0


def test_an_hour_with_an_untransformed_file_or_within_the_grace_is_left(lake: Path) -> None:
    within = compact_raw_lake(lake, now=T0 + timedelta(hours=1, minutes=5))
    assert within.files_written == 0
    write_ingest_files(lake, "a", files=1, per_file=5, seq0=101)
    assert compact_raw_lake(lake, now=NOW).files_written == 0
    assert len(hour_files(lake, 10)) == 9


def test_a_seq_gap_and_the_frame_cap_cut_runs(data_dir: Path) -> None:
    write_ingest_files(data_dir, "a", files=3, per_file=10)
    write_ingest_files(data_dir, "a", files=2, per_file=10, seq0=50)
    transform_lake(data_dir)
    compact_raw_lake(data_dir, now=NOW, max_frames=20)
    assert hour_files(data_dir, 10) == [
        "a-0000000000000001-0000000000000020.parquet",
        "a-0000000000000021-0000000000000030.parquet",
        "a-0000000000000050-0000000000000069.parquet"]


class Crash(Exception):
    pass


def _crash_after(monkeypatch: pytest.MonkeyPatch, step: str, *, run_step: bool = True) -> None:
    real = getattr(compaction, step)

    def crashing(*args: object, **kwargs: object) -> object:
        if run_step:
            real(*args, **kwargs)
        raise Crash(step)
    monkeypatch.setattr(compaction, step, crashing)


def _delete_one_source_then_crash(monkeypatch: pytest.MonkeyPatch) -> None:
    def crashing(run: list[compaction.RawName]) -> None:
        run[0].path.unlink()
        raise Crash("during deletes")
    monkeypatch.setattr(compaction, "_delete_sources", crashing)


CRASH_POINTS = {
    "merged file written, ledger not swapped":
        lambda mp: _crash_after(mp, "_write_merged"),
    "ledger transaction fails": lambda mp: _crash_after(mp, "_swap_ledger", run_step=False),
    "ledger swapped, sources not deleted":
        lambda mp: _crash_after(mp, "_swap_ledger"),
    "one source deleted": _delete_one_source_then_crash,
}


@pytest.mark.parametrize("crash", CRASH_POINTS)
def test_a_crash_at_any_step_is_repaired_without_double_or_lost_frames(
        lake: Path, monkeypatch: pytest.MonkeyPatch, crash: str) -> None:
    counts, frames = core_counts(lake), raw_frames(lake)
    with monkeypatch.context() as patch:
        CRASH_POINTS[crash](patch)
        with pytest.raises(Crash):
            compact_raw_lake(lake, now=NOW)

    after_crash = transform_lake(lake)
    assert (after_crash.files_processed, after_crash.frames) == (0, 0), \
        "nothing is transformed twice"
    assert core_counts(lake) == counts
    assert raw_frames(lake) == frames
    assert sum(ledger(lake).values()) == sum(frames.values())

    compact_raw_lake(lake, now=NOW)
    assert len(hour_files(lake, 10)) == 2
    assert raw_frames(lake) == frames
    assert core_counts(lake) == counts
    assert transform_lake(lake).files_processed == 0


KILLED_IN_TRANSACTION = textwrap.dedent("""
    import os, signal, sys
    from datetime import datetime
    import transforms.raw_compaction as compaction

    def killed(con, layout, run, final, frames):
        con.execute("begin transaction")
        con.execute("delete from meta.transformed_files")
        con.execute("insert into meta.transformed_files values ('x', 1, 1)")
        os.kill(os.getpid(), signal.SIGKILL)

    def killed_deleting(run):
        run[-1].path.unlink()
        os.kill(os.getpid(), signal.SIGKILL)

    if sys.argv[2] == "transaction":
        compaction._swap_ledger = killed
    else:
        compaction._delete_sources = killed_deleting
    compaction.compact_raw_lake(sys.argv[1], now=datetime.fromisoformat(sys.argv[3]))
""")


@pytest.mark.parametrize("where", ["transaction", "deleting"])
def test_sigkill_inside_the_ledger_transaction_or_the_deletes(lake: Path, where: str) -> None:
    counts, frames = core_counts(lake), raw_frames(lake)
    child = subprocess.run(
        [sys.executable, "-c", KILLED_IN_TRANSACTION, str(lake), where, NOW.isoformat()],
        cwd=REPO, capture_output=True, text=True, timeout=120)
    assert child.returncode == -signal.SIGKILL, child.stderr

    assert transform_lake(lake).files_processed == 0
    assert core_counts(lake) == counts
    assert raw_frames(lake) == frames
    compact_raw_lake(lake, now=NOW)
    assert len(hour_files(lake, 10)) == 2
    assert raw_frames(lake) == frames
    assert sum(ledger(lake).values()) == sum(frames.values())


def test_a_stale_temporary_file_in_a_closed_hour_is_removed(lake: Path) -> None:
    folder = lake / "raw" / "date=2022-04-02" / "hour=10"
    stale = folder / ".tmp-0123-a-0000000000000001-0000000000000100.parquet"
    stale.write_bytes(b"half a parquet file")
    old = (NOW - timedelta(hours=1)).timestamp()
    os.utime(stale, (old, old))
    fresh = folder / ".tmp-4567-a-0000000000000001-0000000000000100.parquet"
    fresh.write_bytes(b"being written")
    os.utime(fresh, (NOW.timestamp(), NOW.timestamp()))
    assert compact_raw_lake(lake, now=NOW).temps_removed == 1
    assert fresh.exists() and not stale.exists()


def test_files_of_another_schema_are_left(data_dir: Path) -> None:
    paths = write_ingest_files(data_dir, "a", files=2, per_file=5)
    transform_lake(data_dir)
    odd = pq.read_table(paths[1]).append_column("extra", pa.array([1] * 5))
    pq.write_table(odd, paths[1])
    summary = compact_raw_lake(data_dir, now=NOW)
    assert summary.files_written == 0 and summary.skipped
    assert len(hour_files(data_dir, 10)) == 2
    assert not list((paths[0].parent).glob(".tmp-*"))
    assert COMPACTED_FROM not in (pq.read_schema(paths[0]).metadata or {})
