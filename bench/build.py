"""Benchmark of adding one hour to the warehouse: 90 days of history vs 1 day.

    ./run bench build [--vehicles N] [--days D] [--repeats R]

Prepares two warehouses of the same simulated fleet (``simulator.fleet``, the frames
``trackit simulate`` sends, plus a driver message and a ``getio`` per vehicle every few
hours with the simulator's replies):

* 1 day: a real raw lake of 24 hours (Parquet files of 10 minutes, as ingest writes them)
  stored by ``trackit transform`` (``transform_lake``), the simulator's places imported;
* D days: the same, plus the stored day copied 1 to D-1 days earlier in bulk
  (``sample_fleet.repeat_history_back``, one load per day), so every vehicle has trips,
  stops, I/O changes, messages, forms and deliveries on every day.

Each warehouse's marts are built over its whole history (one ``build_warehouse``), then
maintained as the DAG's ``maintain`` task keeps a warehouse (small files merged, the
history's snapshots expired: they stand for days past the retention). Then,
side by side (interleaved, R times, each on a fresh copy), it times adding the next hour:
``transform_lake`` of that hour's raw files (the store) and ``build_warehouse`` (places,
command status, marts, checks, one DuckLake commit). Target: the D-day / 1-day ratio of
the median store + build ≤ 1.2. Prints each step's median time, the slowest parts of the
build, the warehouse's size on disk against the raw lake's, rates, and the peak RSS.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import random
import resource
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pyarrow as pa
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(1, str(Path(__file__).resolve().parents[1] / "tests"))  # sample_fleet.py

from sample_fleet import repeat_history_back

import warehouse.build as build_module
import warehouse.marts as marts_module
from lake.ducklake import open_warehouse
from lake.raw_schema import RAW_SCHEMA
from protocol.messages import driver_message_command, getio_command
from simulator import frames as sim_frames
from simulator.commands import CommandDesk
from simulator.config import ReplyDelays
from simulator.fleet import Fleet
from simulator.places import write_places_csv
from transforms.pipeline import transform_lake
from warehouse.build import build_warehouse
from warehouse.maintenance import maintain_warehouse
from warehouse.places import import_places

TARGET_RATIO = 1.2
END = datetime(2026, 3, 3, 10, tzinfo=UTC)
"""The history ends here (mid-morning UTC); the hour after it is the one added."""
FILE_MINUTES = 10
MESSAGE_EVERY_H = 6
GETIO_EVERY_H = 3


# ---- the raw lake ---------------------------------------------------------------------

def simulated_frames(vehicles: int, seed: int, start: datetime, end: datetime
                     ) -> list[tuple[float, str, bytes]]:
    """(received_at, direction, frame) of the fleet in [start, end), ordered by time: the
    simulator's frames, our outbound commands, and the simulator's replies to them."""
    begin, stop = start.timestamp(), end.timestamp()
    fleet = Fleet(vehicles, seed=seed, start=begin)
    desk = CommandDesk(fleet, ReplyDelays(), fleet.truth, seed)
    rng = random.Random(f"{seed}/bench-commands")
    rows: list[tuple[float, str, bytes]] = []
    for vehicle in fleet.vehicles:
        uid = vehicle.profile.uid
        for every_h, make in ((MESSAGE_EVERY_H, "msg"), (GETIO_EVERY_H, "getio")):
            t = begin + rng.uniform(0, every_h * 3600)
            while t < stop:
                command_id = f"{make}-{uid}-{int(t)}"
                command = (driver_message_command(uid, "please call the office", 7, "ops",
                                                  command_id) if make == "msg"
                           else getio_command(uid, command_id))
                rows.append((t, "out", orjson.dumps(command)))
                rows.extend((reply.emit, "in", sim_frames.dumps(reply))
                            for reply in desk.handle(command, t))
                t += every_h * 3600 * rng.uniform(0.7, 1.3)
    for message in fleet.messages():
        if message.emit >= stop:
            break
        rows.append((message.emit, "in", sim_frames.dumps(message)))
    rows = [row for row in rows if begin <= row[0] < stop]
    rows.sort(key=lambda row: row[0])
    return rows


def write_raw(raw: Path, rows: list[tuple[float, str, bytes]]) -> list[Path]:
    """Raw Parquet files of ``FILE_MINUTES`` each under ``raw/date=/hour=/``."""
    files: dict[datetime, list[tuple[float, str, bytes]]] = defaultdict(list)
    for row in rows:
        at = datetime.fromtimestamp(row[0], UTC)
        files[at.replace(minute=at.minute - at.minute % FILE_MINUTES, second=0,
                         microsecond=0)].append(row)
    written = []
    seq = 0
    for slot, slot_rows in sorted(files.items()):
        folder = raw / f"date={slot:%Y-%m-%d}" / f"hour={slot:%H}"
        folder.mkdir(parents=True, exist_ok=True)
        table = pa.table({
            "received_at": [datetime.fromtimestamp(r[0], UTC) for r in slot_rows],
            "direction": [r[1] for r in slot_rows],
            "connection_id": ["bench"] * len(slot_rows),
            "seq": list(range(seq, seq + len(slot_rows))),
            "frame": [r[2].decode() for r in slot_rows],
        }, schema=RAW_SCHEMA)
        seq += len(slot_rows)
        path = folder / f"bench-{slot:%H%M}.parquet"
        pq.write_table(table, path, compression="zstd")
        written.append(path)
    return written


def copy_data_dir(source: Path, target: Path) -> None:
    """Copy a data dir; the copy's DuckLake catalog is pointed at the copy's data files (the
    catalog holds the absolute data path, the files' paths are relative to it)."""
    shutil.copytree(source, target)
    catalog = sqlite3.connect(target / "warehouse" / "catalog.sqlite")
    try:
        with catalog:
            catalog.execute("update ducklake_metadata set value = ? where key = 'data_path'",
                            [f"{(target / 'warehouse' / 'data').absolute()}/"])
    finally:
        catalog.close()


def folder_bytes(folder: Path) -> int:
    return sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())


# ---- timing the build's parts -----------------------------------------------------------

PARTS: dict[str, float] = defaultdict(float)
_INSIDE: list[str] = []


def _timed(name: Callable[..., str], function: Callable) -> Callable:
    """``function``, adding its seconds to ``PARTS[name(...)]`` unless an outer timed
    part is running (its seconds are that part's)."""
    def wrapper(*args, **kwargs):
        if _INSIDE:
            return function(*args, **kwargs)
        _INSIDE.append("")
        started = time.perf_counter()
        try:
            return function(*args, **kwargs)
        finally:
            PARTS[name(*args, **kwargs)] += time.perf_counter() - started
            _INSIDE.pop()
    return wrapper


def _window_name(con, sql, *args, **kwargs) -> str:
    for window in ("io_windows", "trip_windows", "message_windows", "cell_windows"):
        if sql.lstrip().startswith(f"insert into {window}"):
            return f"windows: {window}"
    return "marts: other queries"


def time_build_parts() -> None:
    """Wrap the build's steps so that each run adds its seconds to ``PARTS``."""
    marts_module._rebuild = _timed(lambda con, mart, *a, **k: f"mart {mart.name}",
                                   marts_module._rebuild)
    marts_module._run = _timed(_window_name, marts_module._run)
    build_module.check_warehouse_into = _timed(lambda *a, **k: "checks",
                                               build_module.check_warehouse_into)
    build_module._update_command_status = _timed(lambda *a, **k: "command status",
                                                 build_module._update_command_status)
    build_module._import_places = _timed(lambda *a, **k: "places",
                                         build_module._import_places)


@contextmanager
def parts_of(into: dict[str, float]) -> Iterator[None]:
    PARTS.clear()
    yield
    into.update(PARTS)


# ---- the benchmark -----------------------------------------------------------------------

def prepare(scratch: Path, vehicles: int, days: int, seed: int) -> list[str]:
    """Prepare under ``scratch`` the warehouses with 1 and ``days`` days of history
    (``history-1d``, ``history-<days>d``) and the added hour's raw lake (``raw-next-hour``);
    returns what it printed."""
    said: list[str] = []

    def say(line: str) -> None:
        said.append(line)
        sys.stdout.write(line + "\n")
        sys.stdout.flush()

    started = time.perf_counter()
    rows = simulated_frames(vehicles, seed, END - timedelta(days=1), END + timedelta(hours=1))
    day_rows = [r for r in rows if r[0] < END.timestamp()]
    hour_rows = rows[len(day_rows):]
    raw_day = scratch / "raw-day"
    write_raw(raw_day / "raw", day_rows)
    next_hour = scratch / "raw-next-hour"
    write_raw(next_hour / "raw", hour_rows)
    raw_day_bytes = folder_bytes(raw_day)
    say(f"raw lake: {len(day_rows):,} frames in 1 day ({raw_day_bytes / 1e6:.1f} MB, "
        f"{raw_day_bytes / len(day_rows):.0f} B/frame), {len(hour_rows):,} in the added "
        f"hour; simulated and written in {time.perf_counter() - started:.1f}s")

    one = scratch / "history-1d"
    shutil.copytree(raw_day, one)
    fleet = Fleet(vehicles, seed=seed, start=END.timestamp())
    write_places_csv(scratch / "places.csv", fleet.places)
    import_places(one, scratch / "places.csv")
    started = time.perf_counter()
    transformed = transform_lake(one)
    seconds = time.perf_counter() - started
    say(f"1 day stored by transform_lake in {seconds:.1f}s "
        f"({len(day_rows) / seconds:,.0f} frames/s, {sum(transformed.rows.values()):,} rows)")
    shutil.rmtree(one / "raw")  # the history's raw files are not listed on either side

    many = scratch / f"history-{days}d"
    copy_data_dir(one, many)
    started = time.perf_counter()
    repeat_history_back(many, days - 1)
    seconds = time.perf_counter() - started
    say(f"{days - 1} more days copied in bulk in {seconds:.1f}s "
        f"({(days - 1) / seconds:.1f} days/s)")

    histories = {1: one, days: many}
    for n, folder in histories.items():
        started = time.perf_counter()
        built = build_warehouse(folder)
        records = count(folder, "core.records")
        say(f"{n} day(s): {records:,} records; marts built over the whole history in "
            f"{time.perf_counter() - started:.1f}s "
            f"({records / built.seconds:,.0f} records/s)")
    for n, folder in histories.items():
        say(maintain_history(n, folder))
    sizes = {n: folder_bytes(folder / "warehouse") for n, folder in histories.items()}
    for n in histories:
        raw = raw_day_bytes * n
        say(f"size on disk, {n} day(s): warehouse {sizes[n] / 1e6:,.1f} MB, raw lake "
            f"{raw / 1e6:,.1f} MB{' (measured)' if n == 1 else ' (1 day measured × days)'}"
            f": {sizes[n] / raw:.2f}× the raw lake")
    return said


def maintain_history(days: int, folder: Path) -> str:
    """Maintain a prepared history as the DAG's ``maintain`` task does after each build
    (small files merged), its snapshots expired as a real history's would be: they stand
    for days long past the retention. Returns the line to print."""
    started = time.perf_counter()
    summary = maintain_warehouse(folder, retention=timedelta(0), grace=timedelta(0))
    return (f"{days} day(s): maintained in {time.perf_counter() - started:.1f}s, data files "
            f"{summary.files_before:,} → {summary.files_after:,}")


def count(data_dir: Path, table: str) -> int:
    con = open_warehouse(data_dir, read_only=True)
    try:
        return int(con.execute(f"select count(*) from {table}").fetchone()[0])
    finally:
        con.close()


def add_hour(history: Path, next_hour: Path, work: Path) -> tuple[dict[str, float],
                                                                   dict[str, float]]:
    """Seconds of storing then building the added hour on a fresh copy of ``history``,
    and of the build's parts."""
    copy_data_dir(history, work)
    shutil.copytree(next_hour / "raw", work / "raw")
    os.sync()  # the copy's dirty pages must not be flushed on the clock
    times: dict[str, float] = {}
    parts: dict[str, float] = {}
    started, cpu = time.perf_counter(), time.process_time()
    transform_lake(work)
    times["store (transform)"] = time.perf_counter() - started
    times["store, CPU"] = time.process_time() - cpu
    started, cpu = time.perf_counter(), time.process_time()
    with parts_of(parts):
        build_warehouse(work)
    times["build"] = time.perf_counter() - started
    times["build, CPU"] = time.process_time() - cpu
    times["total"] = times["store (transform)"] + times["build"]
    times["total, CPU"] = times["store, CPU"] + times["build, CPU"]
    shutil.rmtree(work)
    return times, parts


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--vehicles", type=int, default=100, help="fleet size")
    parser.add_argument("--days", type=int, default=90, help="days of the long history")
    parser.add_argument("--repeats", type=int, default=3,
                        help="timed additions per side; each figure is their median")
    parser.add_argument("--seed", type=int, default=1, help="the simulated fleet's seed")
    parser.add_argument("--prepared", type=Path, default=None, metavar="DIR",
                        help="keep the prepared warehouses in DIR, and reuse them when they "
                        "were made with the same options; None: a temporary folder")
    args = parser.parse_args()
    if args.days < 2:
        parser.error("--days must be at least 2")
    logging.basicConfig(level=logging.WARNING)
    time_build_parts()

    with tempfile.TemporaryDirectory(prefix="trackit-bench-build-") as tmp:
        scratch = Path(tmp)
        prepared = args.prepared or scratch / "prepared"
        options = {"vehicles": args.vehicles, "days": args.days, "seed": args.seed,
                   "maintained": True}  # histories prepared before maintenance are redone
        record = prepared / "prepared.json"
        if record.is_file() and json.loads(record.read_text())["options"] == options:
            print(f"reusing the warehouses prepared in {prepared}:")
            print("\n".join(json.loads(record.read_text())["said"]))
        else:
            shutil.rmtree(prepared, ignore_errors=True)
            prepared.mkdir(parents=True)
            said = prepare(prepared, args.vehicles, args.days, args.seed)
            record.write_text(json.dumps({"options": options, "said": said}))
        histories = {1: prepared / "history-1d", args.days: prepared / f"history-{args.days}d"}
        next_hour = prepared / "raw-next-hour"
        runs: dict[int, list[dict[str, float]]] = {n: [] for n in histories}
        parts: dict[int, list[dict[str, float]]] = {n: [] for n in histories}
        for repeat in range(args.repeats):
            for n, history in histories.items():  # interleaved: noise falls on both alike
                times, build_parts = add_hour(history, next_hour, scratch / f"work-{repeat}")
                runs[n].append(times)
                parts[n].append(build_parts)

    one, many = histories
    median = {n: {step: statistics.median(r[step] for r in rs) for step in rs[0]}
              for n, rs in runs.items()}
    print()
    print(f"adding one hour ({args.vehicles} vehicles), median of {args.repeats}:")
    print(f"{'step':<28}{'1 day':>10}{f'{many} days':>10}{'ratio':>8}")
    for step in median[one]:
        a, b = median[one][step], median[many][step]
        print(f"{step:<28}{a:>9.2f}s{b:>9.2f}s{b / a:>8.2f}")
    names = sorted({name for ps in parts.values() for p in ps for name in p},
                   key=lambda name: -statistics.median(p.get(name, 0) for p in parts[many]))
    print("  of which (the build's parts, slowest on the long history first):")
    for name in names[:12]:
        a = statistics.median(p.get(name, 0) for p in parts[one])
        b = statistics.median(p.get(name, 0) for p in parts[many])
        print(f"    {name:<24}{a:>9.2f}s{b:>9.2f}s{b / a if a else float('nan'):>8.2f}")
    ratio = median[many]["total"] / median[one]["total"]
    cpu_ratio = median[many]["total, CPU"] / median[one]["total, CPU"]
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print()
    print(f"ratio {many} days / 1 day (store + build of one hour, wall): {ratio:.2f} "
          f"(target <= {TARGET_RATIO}): {'PASS' if ratio <= TARGET_RATIO else 'FAIL'}")
    print(f"the same in CPU seconds: {cpu_ratio:.2f}; load average {os.getloadavg()[0]:.1f} "
          f"on {os.cpu_count()} CPUs")
    print(f"peak RSS: {peak_mb:,.0f} MB")
    return 0 if ratio <= TARGET_RATIO else 1


if __name__ == "__main__":
    sys.exit(main())
