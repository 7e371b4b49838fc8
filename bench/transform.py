"""Benchmark of ``trackit transform`` against a naive DuckDB SQL, as whole processes.

    ./run bench transform [--frames N] [--files K] [--rounds R] [--lakes mixed,simulator]

Builds (once, cached under ``bench/out/``) two raw lakes of N frames in K Parquet files:

* ``mixed``: every inbound type of the manual and our outbound commands, in the shares of
  ``SHARES`` (records 65 %, events 12 %, services 3 %, driver messages 4.5 %, message
  statuses 3 %, ...), 5 % of the frames with an unknown key or a JSON null in a typed
  field, and raw files of the same name in several hour folders of a day;
* ``simulator``: the frames of the simulator's fleet model (``simulator.fleet``), as
  ``trackit simulate`` sends them.

On each lake, in the same run, it times as whole processes (wall and CPU seconds, peak
RSS of the process):

* naive SQL: ``python bench/transform.py --naive RAW DB``: one ``CREATE TABLE ... AS
  SELECT json_extract_string(frame, [paths]) ... FROM read_parquet(...)`` for each of
  ``NAIVE_TABLES`` into a DuckDB file (no validation, no unknown keys, no quarantine);
* full: ``trackit transform --data WORK --quiet`` (routing, typing, unknown keys,
  pandera validation, dedup, quarantine, storing each batch with its ledger entries in
  the warehouse's DuckLake).

The two alternate for ``--rounds`` rounds (naive, full, naive, full, ...), so that both
see the same moments of a shared machine; the ratio compares the best run of each (as
``timeit`` does: noise only ever slows a run down), and each round's own ratio is printed
too, to show the spread. The peak RSS is the largest of the full runs.

Then it runs the transform's steps one after the other in this process, batch by batch,
and prints the CPU seconds of each. Targets: full >= 0.8 x the naive SQL's frames/s;
peak RSS < 1.5 GB.
"""

from __future__ import annotations

import argparse
import itertools
import os
import random
import shutil
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import orjson
import psutil
import pyarrow as pa
import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from lake.layout import DataLayout  # noqa: E402
from lake.raw_schema import RAW_SCHEMA  # noqa: E402

OUT = Path(__file__).resolve().parent / "out"
TARGET_RATIO = 0.8
TARGET_RSS_GB = 1.5
# The naive SQL's tables: table -> (route whose fields it extracts, params.type values).
NAIVE_TABLES = {
    "records": ("records", ("records",)),
    "events": ("event:io", ("event",)),
    "driver_messages": ("pnd-msg-prd", ("pnd-msg", "pnd-msg-prd")),
    "forms": ("form", ("form",)),
    "message_status": ("msg-sts", ("msg-sts",)),
}


def _ts(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


# Shares of a day of traffic, by route (outbound frames are ours: commands and auth).
SHARES = {
    "records": 0.655, "event:io": 0.08, "event:event": 0.04, "connection": 0.02,
    "pnd-connection": 0.01, "pnd-msg": 0.03, "pnd-msg-prd": 0.015, "form": 0.02,
    "msg-sts": 0.03, "cmd-status": 0.01, "cmd-parsed": 0.01, "service-generic": 0.03,
    "out:api": 0.01, "out:pnd-api": 0.01, "auth": 0.0005,
}
ODD_SHARE = 0.05  # frames with an unknown key or a JSON null in a typed field


class FrameMaker:
    """Seeded frames shaped like the manual's examples, every type of the manual."""

    def __init__(self, seed: int = 7, vehicles: int = 500) -> None:
        self.rng = random.Random(seed)
        self.vehicles = vehicles
        self.routes = list(SHARES)
        self.weights = list(SHARES.values())

    def record(self, t: datetime, vid: int) -> dict:
        r = self.rng
        return {
            "tmx": _ts(t), "vid": vid, "dmx": 1,
            "loc": {"lon": round(r.uniform(-9.5, -8.0), 7), "lat": round(r.uniform(38, 41), 7)},
            "gsp": r.randint(0, 120), "hdg": r.randint(0, 359),
            "gkm": r.choice([r.randint(0, 2_000_000), -1]), "cas": 3,
            "exd": {"sat": r.randint(3, 20), "alt": 42, "bpp": 0,
                    "eco": {"edt": 1, "aat": 11, "rpm": r.randint(0, 3000), "ehr": 25237,
                            "flv": r.randint(0, 100), "dcl": "0000001993887010"},
                    "io": {"1": r.randint(0, 1), "8": r.randint(0, 1)}},
        }

    def envelope(self, t: datetime, uid: int, eid: int) -> dict:
        return {"hid": None, "mid": uid, "tmx": _ts(t), "rmx": _ts(t + timedelta(seconds=1)),
                "lat": 41.2165983, "lng": 1.20606, "sts": 1, "frc": None,
                "src": "tlk-server", "eid": eid}

    def frame(self, i: int, t: datetime) -> tuple[str, dict]:
        """(direction, frame) of the i-th frame."""
        r = self.rng
        route = r.choices(self.routes, self.weights)[0]
        vid = 800_000 + i % self.vehicles
        uid = 1000 + i % self.vehicles
        if route == "auth":
            return "in", {"params": {"type": "auth", "status": True}}
        if route == "out:api":
            return "out", {"type": "api", "query": {"id": f"C{i:024d}", "uid": uid,
                                                    "cmd": "getio", "CR": False}}
        if route == "out:pnd-api":
            return "out", {"type": "pnd-api", "query": {"uid": uid, "content": {
                "type": "msg", "txt": "please call the office", "user_id": 7,
                "user_name": "ops", "guid": f"G{i:024d}"}}}
        params: dict = {"type": route.split(":")[0]}
        if route == "records":
            params |= {"total": r.randint(1, 10), "lastRecord": self.record(t, vid)}
        elif route.startswith("event:"):
            rec = self.record(t, vid)
            rec["_id"] = f"{i:024x}"
            sub = route.split(":")[1]
            if sub == "io":
                rec["exd"] = {"sat": 11, "tlm": {"tio": 1, "tlv": r.randint(0, 1)}}
            params |= {"sub-type": sub, "record": rec, "event": {
                **self.envelope(t, uid, 3846 if sub == "io" else 3), "_id": f"e{i:023x}",
                "hid": rec["_id"], "frc": "(...), Espanha"}}
        elif route in ("connection", "pnd-connection"):
            params |= {"status": r.randint(0, 1)}
        elif route == "pnd-msg":
            params |= {"event": {**self.envelope(t, uid, 3951),
                                 "txt": "text message sent by driver"}}
        elif route == "pnd-msg-prd":
            params |= {"event": {**self.envelope(t, uid, 3952), "txt": "On my way",
                                 "pmi": r.randint(1, 9)}}
        elif route == "form":
            params |= {"event": {**self.envelope(t, uid, 33), "frm": {
                "fnm": "Form name", "fld": {"Client": "c", "Work": "w", "Local": "l"}}}}
        elif route == "msg-sts":
            params |= {"id": f"m{i:031x}", "txs": r.randint(0, 5),
                       "content": {"type": "msg", "content": {"txt": "please call the office",
                                                              "guid": f"G{i:024d}"}}}
        elif route == "cmd-status":
            params |= {"id": f"C{i:024d}", "status": r.random() < 0.95}
        elif route == "cmd-parsed":
            params |= {"sub-type": "getio", "cmd": {
                str(io): {"tio": io, "tlv": r.randint(0, 1), "tmx": _ts(t), "hid": None}
                for io in (1, 2, 8)}}
        elif route == "service-generic":
            params |= {"event": {
                "_id": f"s{i:023x}", "vid": vid, "tmx": _ts(t),
                "loc": {"lat": 38.7, "lng": -9.1}, "gsp": 0, "hdg": 90, "gkm": 1234567,
                "exd": {"type": "service", "evt": {"id": f"svc{i % 97}", "delivered": True,
                                                   "tmx": _ts(t), "msg": "delivery done"}}}}
        frame = {"uid": uid, "params": params}
        if r.random() < ODD_SHARE:
            self.oddity(frame)
        return "in", frame

    def oddity(self, frame: dict) -> None:
        """An unknown key somewhere, or a JSON null in a typed field."""
        params = frame["params"]
        inner = params.get("lastRecord") or params.get("record") or params.get("event")
        if self.rng.random() < 0.5:
            target = inner if inner is not None and self.rng.random() < 0.7 else params
            target["added_later"] = {"v": self.rng.randint(0, 9)}
        elif inner is not None:
            inner["gsp" if "gsp" in inner else "mid" if "mid" in inner else "vid"] = None
        else:
            frame["uid"] = None


def _write(folder: Path, name: str, rows: list[tuple[datetime, str, int, str]]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    times, dirs, seqs, texts = (list(c) for c in zip(*rows, strict=True))
    table = pa.table({"received_at": times, "direction": dirs,
                      "connection_id": ["bench"] * len(rows), "seq": seqs, "frame": texts},
                     schema=RAW_SCHEMA)
    pq.write_table(table, folder / name, compression="zstd")


def generate_mixed(root: Path, frames: int, files: int) -> None:
    """The mixed lake: one file per hour, named ``part-<hour % 4>`` (names repeat across
    the hour folders of a day)."""
    maker = FrameMaker()
    start = datetime(2026, 1, 1, tzinfo=UTC)
    per_file = frames // files
    for f in range(files):
        t0 = start + timedelta(hours=f)
        rows = []
        for j in range(per_file):
            i = f * per_file + j
            t = t0 + timedelta(milliseconds=j * 3)
            direction, frame = maker.frame(i, t)
            rows.append((t, direction, i, orjson.dumps(frame).decode()))
        _write(root / "raw" / f"date={t0:%Y-%m-%d}" / f"hour={t0:%H}",
               f"part-{f % 4:04d}.parquet", rows)


def generate_simulator(root: Path, frames: int, files: int) -> None:
    """The simulator lake: the fleet model's frames, received when it emits them."""
    from simulator import frames as sim_frames
    from simulator.fleet import Fleet

    fleet = Fleet(200, seed=1, start=datetime(2026, 1, 1, tzinfo=UTC).timestamp())
    per_file = frames // files
    messages = fleet.messages()
    for f in range(files):
        rows = []
        for j, message in enumerate(itertools.islice(messages, per_file)):
            at = datetime.fromtimestamp(message.emit, UTC)
            rows.append((at, "in", f * per_file + j, sim_frames.dumps(message).decode()))
        at = rows[0][0]
        _write(root / "raw" / f"date={at:%Y-%m-%d}" / f"hour={at:%H}",
               f"sim-{f:04d}.parquet", rows)


GENERATORS = {"mixed": generate_mixed, "simulator": generate_simulator}


def raw_lake(kind: str, frames: int, files: int) -> Path:
    root = OUT / f"transform-{kind}-{frames}-{files}"
    if not root.exists():
        print(f"generating the {kind} lake ({frames} frames) into {root} ...", file=sys.stderr)
        tmp = root.with_name(root.name + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        GENERATORS[kind](tmp, frames, files)
        tmp.rename(root)
    return root


def naive_sql(raw: Path, database: Path) -> None:
    """The naive SQL: one CREATE TABLE AS per table over the raw files, nothing checked."""
    from transforms.routes import ROUTES

    files = sorted(str(f) for f in raw.rglob("*.parquet"))
    con = duckdb.connect(str(database))
    for table, (route, types) in NAIVE_TABLES.items():
        fields = ROUTES[route].fields
        paths = "[" + ", ".join(f"'{f.path}'" for f in fields.values()) + "]"
        columns = ", ".join(f'v[{i}] AS "{alias}"' for i, alias in enumerate(fields, 1))
        in_types = ", ".join(f"'{t}'" for t in types)
        con.execute(
            f"CREATE TABLE {table} AS SELECT {columns} FROM ("
            f"SELECT json_extract_string(frame, {paths}) AS v FROM read_parquet($files) "
            f"WHERE json_extract_string(frame, '$.params.type') IN ({in_types}))",
            {"files": files})
    con.close()


def timed_process(argv: list[str]) -> tuple[float, float, float]:
    """Run ``argv``: wall seconds, CPU seconds (user + system) and peak RSS in GB.

    The peak RSS is polled (every 20 ms): a child's ``ru_maxrss`` starts from this
    process's size at the fork, which the lake generation makes large.
    """
    started = time.perf_counter()
    process = subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.DEVNULL)
    peak = [0]
    done = threading.Event()

    def poll() -> None:
        watched = psutil.Process(process.pid)
        while not done.is_set():
            try:
                peak[0] = max(peak[0], watched.memory_info().rss)
            except psutil.Error:
                return
            done.wait(0.02)

    poller = threading.Thread(target=poll, daemon=True)
    poller.start()
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    done.set()
    poller.join()
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise SystemExit(f"bench: {' '.join(argv)} failed ({process.returncode})")
    return wall, usage.ru_utime + usage.ru_stime, peak[0] / 1024**3


def fresh(folder: Path, raw: Path) -> Path:
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    (folder / "raw").symlink_to(raw / "raw")
    return folder


def step_cpu(raw: Path, work: Path) -> dict[str, float]:
    """CPU seconds of each step of the transform, run one after the other in this process
    (the pipeline overlaps stage B of a batch with stage A of the next)."""
    import polars as pl

    from lake.ducklake import open_warehouse
    from transforms.batch import (
        RoutedBatch,
        finish_batch,
        raw_frame_count,
        route_counts,
        run_routes,
    )
    from transforms.classify import classify
    from transforms.core_store import batch_tables, ensure_core, store_batch
    from transforms.pipeline import (
        DEFAULT_BATCH_FRAMES,
        _connect,
        plan_batches,
        query_threads,
    )
    from transforms.route_runner import RouteRunner

    layout = DataLayout(fresh(work, raw))
    files = sorted((work / "raw").rglob("*.parquet"))
    batches = plan_batches(files, DEFAULT_BATCH_FRAMES)
    threads = query_threads()  # as transform_lake sets them
    con = _connect(threads)
    runner = RouteRunner(con)
    warehouse = open_warehouse(layout.root)
    warehouse.execute(f"SET threads = {threads}")
    ensure_core(warehouse)
    spent: Counter[str] = Counter()

    def step(name: str, fn, *args):
        cpu = time.process_time()  # every thread of this process, DuckDB's included
        value = fn(*args)
        spent[name] += time.process_time() - cpu
        return value

    def store(result):
        ledger = {f.relative_to(layout.root).as_posix(): raw_frame_count([f])
                  for f in result.files}
        return store_batch(warehouse, batch_tables(layout.root, result), ledger)

    for batch_files in batches:
        batch = step("read (pyarrow) + classify (DuckDB)", classify, con, batch_files)
        counts = route_counts(batch)
        parts = step("route queries (DuckDB: rows, child)", run_routes, runner, batch,
                     set(counts))
        tables = {t: (p[0] if len(p) == 1 else pl.concat(p, how="diagonal"))
                  for t, p in parts.items()}
        result = step("validate + dedup + count (pandera, polars)", finish_batch,
                      RoutedBatch(batch=batch, counts=counts, tables=tables))
        step("store in the warehouse (DuckLake, one commit)", store, result)
    runner.close()
    con.close()
    warehouse.close()
    return dict(spent)


def bench_lake(kind: str, raw: Path, rounds: int) -> dict[str, float]:
    frames = sum(pq.ParquetFile(f).metadata.num_rows for f in raw.rglob("*.parquet"))
    python = sys.executable
    naive_db = OUT / f"naive-{kind}.duckdb"
    naive_argv = [python, str(Path(__file__).resolve()), "--naive", str(raw), str(naive_db)]
    work = OUT / f"transform-work-{kind}"
    full_argv = [python, "-m", "trackit", "transform", "--data", str(work), "--quiet"]
    runs: dict[str, list[tuple[float, float, float]]] = {"naive": [], "full": []}
    for _ in range(rounds):
        naive_db.unlink(missing_ok=True)
        runs["naive"].append(timed_process(naive_argv))
        fresh(work, raw)
        runs["full"].append(timed_process(full_argv))
    naive_db.unlink(missing_ok=True)
    naive, full = min(runs["naive"]), min(runs["full"])
    ratio = naive[0] / full[0]
    print(f"\n== {kind} lake: {frames} frames in "
          f"{sum(1 for _ in raw.rglob('*.parquet'))} raw files")
    for number in range(rounds):
        for name in ("naive", "full"):
            wall, cpu, rss = runs[name][number]
            print(f"  {name:<5} {number + 1}  {frames / wall:>10,.0f} frames/s  {wall:6.2f} s  "
                  f"cpu {cpu:6.2f} s  peak RSS {rss:.2f} GB")
    each = ", ".join(f"{n[0] / f[0]:.2f}" for n, f in zip(runs["naive"], runs["full"],
                                                           strict=True))
    print(f"  ratio full / naive (frames/s), best runs: {ratio:.2f} (target >= "
          f"{TARGET_RATIO}); each round: {each}; cpu ratio naive / full: "
          f"{naive[1] / full[1]:.2f}")
    rss = max(r[2] for r in runs["full"])
    print(f"  peak RSS of the transform: {rss:.2f} GB (target < {TARGET_RSS_GB} GB)")
    steps = step_cpu(raw, OUT / f"transform-steps-{kind}")
    print("  CPU seconds of each step (run one after the other):")
    for name, cpu in steps.items():
        print(f"    {name:<48} {cpu:6.2f}")
    shutil.rmtree(OUT / f"transform-steps-{kind}", ignore_errors=True)
    return {"ratio": ratio, "rss": rss}


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--frames", type=int, default=1_000_000, help="frames per lake")
    parser.add_argument("--files", type=int, default=20, help="raw files per lake")
    parser.add_argument("--rounds", type=int, default=3,
                        help="runs of each (naive, full, naive, full, ...); the best counts")
    parser.add_argument("--lakes", default="mixed,simulator",
                        help="the lakes to measure, comma-separated: mixed, simulator")
    parser.add_argument("--naive", nargs=2, type=Path, metavar=("RAW", "DB"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.naive:
        naive_sql(*args.naive)
        return 0
    OUT.mkdir(exist_ok=True)
    results = {}
    for kind in args.lakes.split(","):
        if kind not in GENERATORS:
            parser.error(f"unknown lake {kind!r} (mixed, simulator)")
        results[kind] = bench_lake(kind, raw_lake(kind, args.frames, args.files),
                                   args.rounds)
    met = all(r["ratio"] >= TARGET_RATIO and r["rss"] < TARGET_RSS_GB
              for r in results.values())
    print(f"\ntargets {'met' if met else 'NOT met'} on {', '.join(results)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
