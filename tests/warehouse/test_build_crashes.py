"""A build or a transform killed (SIGKILL) at a random moment leaves nothing half done.

Ten times, a build in its own process is killed after a random delay within the time a
build takes, and a normal build follows: each must succeed, and the marts at the end must
equal a clean build of the same data. The same for a transform of several batches: the
next transform finishes the work, and the core tables equal a clean transform's, with no
row stored twice. The seed is printed; set ``TRACKIT_CRASH_SEED`` to replay a run.
"""

from __future__ import annotations

import json
import os
import random
import re
import signal
import subprocess
import sys
import textwrap
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from warehouse_cycles import MARTS_BUILT, fleet_rows, store_hour, table_contents

from lake.ducklake import open_warehouse
from lake.raw_schema import RAW_SCHEMA
from transforms.pipeline import transform_lake
from warehouse.build import build_warehouse
from warehouse.maintenance import maintain_warehouse

KILLS = 10
ROOT = Path(__file__).parents[2]
EXAMPLES = ROOT / "tests" / "transforms" / "manual_examples.txt"

BUILD = textwrap.dedent("""
    import sys
    from pathlib import Path
    from warehouse_cycles import MARTS_BUILT
    from warehouse.build import build_warehouse
    print("ready", flush=True)
    build_warehouse(Path(sys.argv[1]), marts=MARTS_BUILT)
""")
TRANSFORM = textwrap.dedent("""
    import sys
    from pathlib import Path
    from transforms.pipeline import transform_lake
    print("ready", flush=True)
    transform_lake(Path(sys.argv[1]), batch_frames=int(sys.argv[2]))
""")


def seed() -> int:
    value = int(os.environ.get("TRACKIT_CRASH_SEED") or random.SystemRandom().randrange(10**6))
    print(f"crash seed {value} (TRACKIT_CRASH_SEED={value} replays it)")
    return value


def killed_at_random(code: str, args: list[str], delay_s: float) -> str:
    """Run ``code`` in a new process, SIGKILL it ``delay_s`` after it says ready."""
    proc = subprocess.Popen([sys.executable, "-c", code, *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd=ROOT,
                            env={**os.environ, "PYTHONPATH": os.pathsep.join(
                                map(str, (ROOT, ROOT / "tests", Path(__file__).parent)))})
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "ready", proc.communicate()[1][-2000:]
    time.sleep(delay_s)
    proc.send_signal(signal.SIGKILL)
    _, err = proc.communicate(timeout=60)
    if proc.returncode == 0:
        return "finished"
    assert proc.returncode == -signal.SIGKILL, err[-2000:]
    return "killed"


def marts_contents(data: Path) -> dict[str, list[tuple]]:
    with open_warehouse(data, read_only=True) as con:
        return {m: table_contents(con, f"marts.{m}") for m in MARTS_BUILT}


@pytest.mark.timeout(1200)
def test_a_build_killed_at_random_points_is_redone_by_the_next_build(tmp_path: Path) -> None:
    rng = random.Random(seed())
    rows = fleet_rows()
    data, clean = tmp_path / "data", tmp_path / "clean"
    data.mkdir()
    clean.mkdir()
    for hour in range(3):
        store_hour(data, rows, hour)
    build_warehouse(data, marts=MARTS_BUILT)
    store_hour(data, rows, 3)
    started = time.perf_counter()  # an incremental build: what the killed ones are
    build_warehouse(data, marts=MARTS_BUILT)
    build_s = time.perf_counter() - started
    outcomes = []
    for hour in range(4, 4 + KILLS):
        store_hour(data, rows, hour)
        outcomes.append(killed_at_random(BUILD, [str(data)], rng.uniform(0, build_s)))
        build_warehouse(data, marts=MARTS_BUILT)
    print(f"build {build_s:.1f}s; killed builds: {outcomes}")

    for hour in range(4 + KILLS):
        store_hour(clean, rows, hour)
    build_warehouse(clean, marts=MARTS_BUILT)
    expected = marts_contents(clean)
    assert all(expected.values())
    assert marts_contents(data) == expected
    maintain_warehouse(data, retention=timedelta(0), grace=timedelta(0))
    assert marts_contents(data) == expected


def record_frames(n: int, start: int) -> list[str]:
    """``n`` distinct records frames shaped like the manual's example, numbered from start."""
    text = EXAMPLES.read_text()
    body = re.split(r"^=== records in\n", text, flags=re.M)[1].split("\n===")[0]
    example = json.loads(body)
    t0 = datetime(2022, 4, 2, 10, 0, tzinfo=UTC)
    frames = []
    for i in range(start, start + n):
        record = example["params"]["lastRecord"]
        record["vid"] = 826000 + i % 25
        record["tmx"] = (t0 + timedelta(seconds=i)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
        record["gkm"] = 1_000_000 + i
        frames.append(json.dumps(example))
    return frames


def write_raw_files(data: Path, first: int, count: int, frames: int) -> None:
    for number in range(first, first + count):
        received = datetime(2022, 4, 2, 10, tzinfo=UTC) + timedelta(minutes=number)
        folder = data / "raw" / f"date={received:%Y-%m-%d}" / f"hour={received:%H}"
        folder.mkdir(parents=True, exist_ok=True)
        seq0 = number * frames
        pq.write_table(pa.table({
            "received_at": [received + timedelta(milliseconds=i) for i in range(frames)],
            "direction": ["in"] * frames,
            "connection_id": ["conn-1"] * frames,
            "seq": list(range(seq0, seq0 + frames)),
            "frame": record_frames(frames, seq0),
        }, schema=RAW_SCHEMA), folder / f"part-{number:04d}.parquet")


def core_contents(data: Path) -> dict[str, list[tuple]]:
    with open_warehouse(data, read_only=True) as con:
        return {t: table_contents(con, t) for t in ("core.records", "core.quarantine")}


@pytest.mark.timeout(1200)
def test_a_transform_killed_mid_run_is_finished_by_the_next_one(tmp_path: Path) -> None:
    rng = random.Random(seed())
    frames, files_per_run = 200, 4
    data, clean = tmp_path / "data", tmp_path / "clean"
    write_raw_files(data, 0, files_per_run, frames)
    transform_lake(data, batch_frames=frames)
    write_raw_files(data, files_per_run, files_per_run, frames)
    started = time.perf_counter()  # a transform of new files: what the killed ones are
    transform_lake(data, batch_frames=frames)
    transform_s = time.perf_counter() - started
    outcomes = []
    for run in range(2, KILLS + 2):
        write_raw_files(data, run * files_per_run, files_per_run, frames)
        outcomes.append(killed_at_random(TRANSFORM, [str(data), str(frames)],
                                         rng.uniform(0, transform_s)))
        transform_lake(data, batch_frames=frames)
    print(f"transform {transform_s:.1f}s; killed transforms: {outcomes}")

    write_raw_files(clean, 0, (KILLS + 2) * files_per_run, frames)
    transform_lake(clean, batch_frames=frames)
    expected = core_contents(clean)
    assert len(expected["core.records"]) == (KILLS + 2) * files_per_run * frames
    assert core_contents(data) == expected
    with open_warehouse(data, read_only=True) as con:
        assert con.execute("select count(*), count(distinct path) from meta.transformed_files"
                           ).fetchone() == ((KILLS + 2) * files_per_run,) * 2
