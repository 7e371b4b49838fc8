"""Benchmark of the warehouse on object storage against local disk: same data, same run.

    ./run bench object_storage [--vehicles N] [--hours H] [--repeats R]

Writes one raw lake of the simulated fleet (``bench.build.simulated_frames``: every
message type the simulator sends, our driver messages and getio commands, and its
replies) as ten-minute Parquet files, starts SeaweedFS on loopback
(``tests/real_servers.s3_server``) and then, R times, interleaved (the order swapped
every repeat), on fresh copies of the same files:

* local: the raw lake and the warehouse on local disk (SQLite catalog, local data files);
* s3: the raw lake and the warehouse's data files under ``s3://bench/runN`` (the SQLite
  catalog and the state local), as ``--data s3://...`` runs them.

Each side times ``transform_lake`` (raw → core, the store) and ``build_warehouse``
(marts, checks, one commit), wall and CPU seconds of this process (SeaweedFS's own CPU
is not counted: on AWS it is not ours either). Prints the medians, the ratios s3/local,
and last ``ratio_s3_local_total=<x>`` (median wall of transform + build). Both sides'
marts are compared row for row first: the bench refuses to time different results.
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(1, str(Path(__file__).resolve().parents[1] / "tests"))  # real_servers.py

from real_servers import S3Server, s3_server

from bench.build import simulated_frames, write_raw
from lake.ducklake import open_warehouse
from lake.layout import DataLayout
from lake.object_store import ObjectStoreUrl, S3Settings
from transforms.pipeline import transform_lake
from warehouse.build import build_warehouse

START = datetime(2026, 3, 2, 6, tzinfo=UTC)
STEPS = ("transform", "build")
Timing = dict[str, tuple[float, float]]
"""step → (wall seconds, CPU seconds)."""


def timed(function: Callable[[], object]) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    function()
    return time.perf_counter() - wall, time.process_time() - cpu


def run_side(layout: DataLayout) -> Timing:
    timing = {"transform": timed(lambda: transform_lake(layout)),
              "build": timed(lambda: build_warehouse(layout))}
    timing["total"] = (sum(timing[s][0] for s in STEPS), sum(timing[s][1] for s in STEPS))
    return timing


def marts_fingerprint(layout: DataLayout) -> dict[str, int]:
    """Rows of every mart and a hash of their content, to check both sides agree."""
    with open_warehouse(layout, read_only=True) as con:
        tables = [name for (name,) in con.execute(
            "select table_name from duckdb_tables() where database_name = 'warehouse' "
            "and schema_name = 'marts' order by 1").fetchall()]
        return {name: con.execute(f"select count(*), coalesce(sum(hash(columns(*)::varchar"
                                  f")), 0) from marts.{name}").fetchone()  # type: ignore[misc]
                for name in tables}


def upload(settings: S3Settings, raw_lake: Path, url: ObjectStoreUrl) -> int:
    client = settings.client()
    files = sorted((raw_lake / "raw").rglob("*.parquet"))
    for path in files:
        client.put_object(Bucket=url.bucket, Key=url.key(path.relative_to(raw_lake).as_posix()),
                          Body=path.read_bytes())
    return len(files)


def local_side(raw_lake: Path, work: Path, n: int) -> DataLayout:
    root = work / f"local{n}"
    shutil.copytree(raw_lake / "raw", root / "raw")
    return DataLayout(root)


def s3_side(raw_lake: Path, work: Path, n: int, server: S3Server) -> DataLayout:
    url = ObjectStoreUrl(server.bucket, f"run{n}")
    upload(S3Settings.from_environment(), raw_lake, url)
    root = work / f"s3state{n}"
    root.mkdir()
    return DataLayout(root, remote=url)


def median(timings: list[Timing], step: str, part: int) -> float:
    return statistics.median(t[step][part] for t in timings)


def report(local: list[Timing], remote: list[Timing]) -> float:
    print(f"{'step':<10} {'local wall':>11} {'s3 wall':>9} {'ratio':>6}   "
          f"{'local cpu':>10} {'s3 cpu':>8} {'ratio':>6}")
    for step in (*STEPS, "total"):
        lw, lc = median(local, step, 0), median(local, step, 1)
        rw, rc = median(remote, step, 0), median(remote, step, 1)
        print(f"{step:<10} {lw:>10.2f}s {rw:>8.2f}s {rw / lw:>6.2f}   "
              f"{lc:>9.2f}s {rc:>7.2f}s {rc / lc:>6.2f}")
    return rw / lw


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--vehicles", type=int, default=100, help="fleet size")
    parser.add_argument("--hours", type=int, default=6, help="hours of fleet activity")
    parser.add_argument("--repeats", type=int, default=3, help="runs of each side")
    parser.add_argument("--seed", type=int, default=1, help="the simulated fleet's seed")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)

    work = Path(tempfile.mkdtemp(prefix="trackit-bench-s3-"))
    try:
        started = time.perf_counter()
        rows = simulated_frames(args.vehicles, args.seed, START,
                                START + timedelta(hours=args.hours))
        raw_lake = work / "raw-lake"
        files = write_raw(raw_lake / "raw", rows)
        size = sum(path.stat().st_size for path in files)
        print(f"raw lake: {args.vehicles} vehicles x {args.hours} h = {len(rows):,} frames "
              f"in {len(files)} files, {size / 1e6:.1f} MB "
              f"(made in {time.perf_counter() - started:.0f}s)")
        with s3_server(bucket="bench") as server:
            os.environ.update(server.aws_environment())
            for name in ("AWS_PROFILE", "TRACKIT_CATALOG"):
                os.environ.pop(name, None)
            print(f"SeaweedFS at {server.endpoint}; {args.repeats} repeats, interleaved")
            local: list[Timing] = []
            remote: list[Timing] = []
            for n in range(args.repeats):
                sides = [("local", lambda n=n: local_side(raw_lake, work, n), local),
                         ("s3", lambda n=n: s3_side(raw_lake, work, n, server), remote)]
                if n % 2:
                    sides.reverse()
                layouts = {}
                for name, prepare, timings in sides:
                    layout = layouts[name] = prepare()
                    timings.append(run_side(layout))
                    t = timings[-1]
                    print(f"  repeat {n + 1} {name:<5}: transform {t['transform'][0]:.2f}s "
                          f"(cpu {t['transform'][1]:.2f}s), build {t['build'][0]:.2f}s "
                          f"(cpu {t['build'][1]:.2f}s)", flush=True)
                if n == 0 and marts_fingerprint(layouts["local"]) != \
                        marts_fingerprint(layouts["s3"]):
                    print("the marts on object storage differ from the local ones",
                          file=sys.stderr)
                    return 1
        ratio = report(local, remote)
        print(f"ratio_s3_local_total={ratio:.2f}")
        return 0
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
