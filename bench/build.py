"""Benchmark of the warehouse build: adding one hour with 1 day vs 7 days of history.

    ./run bench build [--vehicles N] [--repeats R]

Generates one synthetic fleet (``tests/sample_fleet.py``) for 7 days + 1 hour, builds a
warehouse from the last day of it and another from all 7 days, then times, side by side,
the build (load → marts → checks → publish) that adds the same next hour to each. The
target ("cost follows the new data") is a 7-day/1-day ratio ≤ 1.5. Prints
each step's median time, the ratio, and the peak RSS of the process.
"""

from __future__ import annotations

import argparse
import logging
import os
import resource
import shutil
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(1, str(Path(__file__).resolve().parents[1] / "tests"))  # sample_fleet.py

from sample_fleet import (
    DEFAULT_START,
    FleetSpec,
    generate,
    rows_received_before,
    store_core_rows,
)

from warehouse.build import build_warehouse
from warehouse.checks import check_warehouse
from warehouse.load import load_core
from warehouse.marts import build_marts
from warehouse.publish import publish_warehouse

TARGET_RATIO = 1.5
STEPS = {
    "load core": load_core,
    "build marts": build_marts,
    "check": check_warehouse,
    "publish": publish_warehouse,
}


def timed_build(history: Path, next_hour: dict, work: Path) -> dict[str, float]:
    """Seconds of each step of the build that adds ``next_hour`` to a copy of ``history``."""
    shutil.copytree(history, work)
    store_core_rows(work, next_hour)
    os.sync()  # the copy's dirty pages must not be flushed on the build's clock
    times: dict[str, float] = {}
    for name, step in STEPS.items():
        started = time.perf_counter()
        step(work)
        times[name] = time.perf_counter() - started
    times["total"] = sum(times.values())
    shutil.rmtree(work)
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vehicles", type=int, default=30, metavar="N",
                        help="fleet size (default: %(default)s)")
    parser.add_argument("--repeats", type=int, default=3, metavar="R",
                        help="timed builds per side; each step prints their median "
                        "(default: %(default)s)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)

    started = time.perf_counter()
    spec = FleetSpec(start=DEFAULT_START, hours=7 * 24 + 2, vehicles=args.vehicles, late_share=0.02)
    tables = generate(spec)
    end = DEFAULT_START + timedelta(days=7, hours=-14)  # history ends at 10:00 UTC, mid-day
    next_hour = rows_received_before(tables, end + timedelta(hours=1), since=end)
    print(f"fleet: {args.vehicles} vehicles, {len(tables['records'])} records over 7 days "
          f"(generated in {time.perf_counter() - started:.1f}s); the added hour has "
          f"{len(next_hour.get('records', []))} records")

    runs: dict[int, list[dict[str, float]]] = {1: [], 7: []}
    with tempfile.TemporaryDirectory(prefix="trackit-bench-build-") as tmp:
        scratch = Path(tmp)
        histories = {}
        for days in runs:
            history = histories[days] = scratch / f"history-{days}d"
            since = end - timedelta(days=days)
            store_core_rows(history, rows_received_before(tables, end, since=since))
            first = build_warehouse(history)
            size_mb = (history / "warehouse.duckdb").stat().st_size / 1e6
            print(f"{days} day(s) of history: {first.load.rows_read['records']} records, "
                  f"initial build {first.seconds:.2f}s, warehouse {size_mb:.1f} MB")
        # interleaved, so that warm-up and machine noise fall on both sides alike
        for n in range(args.repeats):
            for days in runs:
                runs[days].append(timed_build(histories[days], next_hour, scratch / f"r{n}"))
    results = {days: {step: statistics.median(r[step] for r in rs) for step in rs[0]}
               for days, rs in runs.items()}

    print()
    print(f"{'step (median of ' + str(args.repeats) + ')':<24}{'1 day':>10}{'7 days':>10}"
          f"{'ratio':>8}")
    for step in (*STEPS, "total"):
        one, seven = results[1][step], results[7][step]
        print(f"{step:<24}{one:>9.3f}s{seven:>9.3f}s{seven / one:>8.2f}")
    ratio = results[7]["total"] / results[1]["total"]
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print()
    print(f"ratio 7 days / 1 day (whole build adding one hour): {ratio:.2f} "
          f"(target <= {TARGET_RATIO}: {'met' if ratio <= TARGET_RATIO else 'NOT met'})")
    print(f"peak RSS: {peak_mb:.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
