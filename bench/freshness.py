"""Benchmark: how long a frame takes from the socket to ``marts.vehicle_status``.

    ./run bench freshness [--minutes 10] [--rate 1000] [--keep DIR]

Starts the simulator (``trackit simulate``, a fleet sized for about ``--rate`` frames/s),
``trackit ingest --roll-seconds 10`` against it and ``trackit run`` on the same data
directory. Meanwhile a reader polls ``marts.vehicle_status`` every second through a
read-only warehouse connection (as a dashboard would) and records, per vehicle, the
wall-clock time at which each new ``last_received_at`` first became visible.

After ``--minutes``, the ingest is stopped and ``trackit run`` is given the time to catch
up; then every records frame in ``core.records`` is matched to the first poll at which
its vehicle's visible ``last_received_at`` was at least its own ``received_at``:

* per frame: delay = that poll's wall clock − the frame's ``received_at`` (when the ingest
  received it). This counts every frame, including those that waited the longest in the
  journal and for the next cycle; a frame that never became visible (an out-of-order
  record whose vehicle's status stayed on a newer one) is counted separately;
* per update: the delay of the newest frame of each vehicle at the poll where it first
  became visible (the suggestion of "how stale is the dashboard when it changes").

Prints the frame rate reached, p50 / p95 of both delays, the warehouse's data files at the
end (in the current snapshot and on disk), peak RSS of the ``trackit run`` process, the raw
files per hour folder (a closed hour is compacted into one file per ingest run), and last
``p95_freshness_s=<x>`` (the per-frame p95; target ≤ 60).
"""

from __future__ import annotations

import argparse
import math
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import psutil

from lake.ducklake import open_warehouse
from lake.layout import DataLayout
from lake.storage import list_parquet
from warehouse.maintenance import current_data_files

REPO = Path(__file__).resolve().parents[1]

SESSID = "benchBENCHbenchBENCHbench1"
AUTHORIZATION = "bench-authorization"
USER_ID = 4242
FRAMES_PER_VEHICLE_SIM_S = 0.0165
"""Frames a simulated vehicle sends per simulated second from 08:00 (measured: 505 vehicles
at speedup 60 gave 500-550 frames/s)."""
SIM_START = "2026-03-02T08:00:00Z"


def trackit(*args: str) -> list[str]:
    return [sys.executable, "-m", "trackit", *args]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="./run bench freshness",
        description="Delay from a frame's arrival to its first appearance in "
                    "marts.vehicle_status, with simulator + ingest + trackit run.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--minutes", type=float, default=10.0, help="streaming minutes")
    parser.add_argument("--rate", type=float, default=1000.0,
                        help="target frames per second (sizes the fleet)")
    parser.add_argument("--speedup", type=float, default=60.0,
                        help="simulated seconds per wall second")
    parser.add_argument("--vehicles", type=int, default=None,
                        help="fleet size (None: from --rate and --speedup)")
    parser.add_argument("--roll-seconds", type=float, default=10.0,
                        help="the ingest's --roll-seconds")
    parser.add_argument("--interval", type=float, default=10.0,
                        help="trackit run's --interval")
    parser.add_argument("--raw-grace", type=float, default=600.0,
                        help="trackit run's --raw-grace (seconds after an hour's end before "
                             "its raw files are compacted)")
    parser.add_argument("--catch-up", type=float, default=300.0,
                        help="seconds trackit run gets after the ingest stops")
    parser.add_argument("--keep", type=Path, default=None,
                        help="folder to keep the data and logs in (None: a temporary one)")
    return parser.parse_args(argv)


class Poller(threading.Thread):
    """Polls ``marts.vehicle_status`` every second; keeps (vid, last_received_at, seen at)."""

    def __init__(self, data: Path) -> None:
        super().__init__(daemon=True)
        self.data = data
        self.stop = threading.Event()
        self.seen: dict[int, datetime] = {}
        self.changes: list[tuple[int, datetime, datetime]] = []
        self.polls = 0
        self.failed_polls = 0

    def run(self) -> None:
        con = None
        while not self.stop.is_set():
            started = time.monotonic()
            try:
                if con is None:
                    con = open_warehouse(self.data, read_only=True)
                rows = con.execute(
                    "select vid, last_received_at from marts.vehicle_status").fetchall()
                now = datetime.now(UTC)
                self.polls += 1
                for vid, received in rows:
                    if vid not in self.seen or received > self.seen[vid]:
                        self.seen[vid] = received
                        self.changes.append((vid, received, now))
            except Exception:
                self.failed_polls += 1
            self.stop.wait(max(0.0, 1.0 - (time.monotonic() - started)))
        if con is not None:
            con.close()


class PeakRss(threading.Thread):
    """Peak resident memory of a process, sampled every 0.5 s."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.process = psutil.Process(pid)
        self.peak = 0
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                self.peak = max(self.peak, self.process.memory_info().rss)
            except psutil.Error:
                return
            self.stop.wait(0.5)


def start_simulator(args: argparse.Namespace, vehicles: int, env: dict[str, str],
                    cwd: Path) -> tuple[subprocess.Popen[str], str]:
    sim = subprocess.Popen(
        trackit("simulate", "--port", "0", "--vehicles", str(vehicles), "--speedup",
                f"{args.speedup:g}", "--start", SIM_START, "--user-id", str(USER_ID)),
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env, cwd=cwd)
    assert sim.stdout is not None
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        line = sim.stdout.readline()
        if "websocket:" in line:
            return sim, line.split("websocket:")[1].strip()
        if not line and sim.poll() is not None:
            break
    sim.kill()
    raise SystemExit("bench: the simulator did not start")


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return math.nan
    rank = max(0, math.ceil(p / 100 * len(ordered)) - 1)
    return ordered[rank]


def frame_delays(data: Path, changes: list[tuple[int, datetime, datetime]]
                 ) -> tuple[list[float], int]:
    """Per records row of core.records: first poll at which its vehicle showed a
    ``last_received_at`` at or after its ``received_at``; (delays, rows never shown)."""
    import pyarrow as pa

    visible = pa.table({
        "vid": pa.array([c[0] for c in changes], pa.int64()),
        "shown_received_at": pa.array([c[1] for c in changes], pa.timestamp("us", "UTC")),
        "seen_at": pa.array([c[2] for c in changes], pa.timestamp("us", "UTC")),
    })
    with open_warehouse(data, read_only=True) as con:
        con.register("visible", visible)
        rows = con.execute("""
            with firsts as (  -- a vehicle's visible value only grows: first poll showing >= x
                select vid, shown_received_at,
                       min(seen_at) over (partition by vid order by shown_received_at desc
                                          rows unbounded preceding) as seen_at
                from visible
            )
            select epoch(f.seen_at) - epoch(r.received_at)
            from core.records as r
            asof left join firsts as f
              on r.vid = f.vid and r.received_at <= f.shown_received_at
        """).fetchall()
    delays = [r[0] for r in rows if r[0] is not None]
    return delays, len(rows) - len(delays)


def update_delays(changes: list[tuple[int, datetime, datetime]]) -> list[float]:
    return [(seen - received).total_seconds() for _, received, seen in changes]


def raw_files_per_hour(data: Path, grace_s: float) -> list[str]:
    now = datetime.now(UTC)
    lines = []
    for folder in sorted(DataLayout(data).raw.glob("date=*/hour=*")):
        date = folder.parent.name.removeprefix("date=")
        hour = int(folder.name.removeprefix("hour="))
        end = datetime.fromisoformat(date).replace(hour=hour, tzinfo=UTC).timestamp() + 3600
        closed = end + grace_s <= now.timestamp()
        lines.append(f"  {folder.parent.name}/{folder.name}: {len(list_parquet(folder))} files "
                     f"({'closed' if closed else 'open'})")
    return lines


def warehouse_files(data: Path) -> tuple[int, int]:
    with open_warehouse(data, read_only=True) as con:
        current = current_data_files(con)
    on_disk = sum(1 for _ in DataLayout(data).warehouse_data.rglob("*.parquet"))
    return current, on_disk


def cycle_lines(root: Path) -> int:
    return (root / "run.log").read_text().count("frames from")


def stop(proc: subprocess.Popen, timeout: float) -> int:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        return proc.wait()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    vehicles = args.vehicles or max(1, round(args.rate / (FRAMES_PER_VEHICLE_SIM_S
                                                          * args.speedup)))
    with tempfile.TemporaryDirectory(prefix="trackit-freshness-") as tmp:
        root = args.keep or Path(tmp)
        root.mkdir(parents=True, exist_ok=True)
        data = root / "data"
        data.mkdir(exist_ok=True)
        env = {**os.environ, "TRACKIT_SESSID": SESSID, "TRACKIT_AUTHORIZATION": AUTHORIZATION,
               "PYTHONUNBUFFERED": "1"}
        print(f"bench: {vehicles} vehicles at speedup {args.speedup:g} (target "
              f"{args.rate:g} frames/s), {args.minutes:g} min, data {data}", file=sys.stderr)
        sim, ws_url = start_simulator(args, vehicles, env, root)
        logs = {name: (root / f"{name}.log").open("w") for name in ("ingest", "run")}
        ingest = subprocess.Popen(
            trackit("ingest", "--url", ws_url, "--auth-url",
                    ws_url.replace("ws://", "http://") + "/ws/websocketAuth",
                    "--user-id", str(USER_ID), "--data", str(data),
                    "--roll-seconds", f"{args.roll_seconds:g}", "--status-interval", "30"),
            stdout=logs["ingest"], stderr=subprocess.STDOUT, env=env, cwd=root)
        run = subprocess.Popen(
            trackit("run", "--data", str(data), "--interval", f"{args.interval:g}",
                    "--raw-grace", f"{args.raw_grace:g}"),
            stdout=logs["run"], stderr=subprocess.STDOUT, env=env, cwd=REPO)
        rss = PeakRss(run.pid)
        rss.start()
        poller = Poller(data)
        poller.start()
        started = time.monotonic()
        try:
            while time.monotonic() - started < args.minutes * 60:
                for name, proc in (("simulator", sim), ("ingest", ingest), ("run", run)):
                    if proc.poll() is not None:
                        raise SystemExit(f"bench: {name} ended early (exit {proc.returncode}); "
                                         f"see {root}")
                time.sleep(1)
            streamed_s = time.monotonic() - started
            stop(ingest, 120)
            raw = {p.relative_to(data).as_posix() for p in list_parquet(DataLayout(data).raw)}
            deadline = time.monotonic() + args.catch_up
            while time.monotonic() < deadline:  # trackit run transforms what is left
                try:
                    with open_warehouse(data, read_only=True) as con:
                        done = {r[0] for r in con.execute(
                            "select path from meta.transformed_files").fetchall()}
                except Exception:
                    done = set()
                if raw <= done:
                    break
                time.sleep(1)
            cycles_done = cycle_lines(root)
            while time.monotonic() < deadline and cycle_lines(root) <= cycles_done:
                time.sleep(1)  # the cycle that transformed the last files also builds
            time.sleep(2)  # one more poll
        finally:
            poller.stop.set()
            poller.join(timeout=30)
            run_code = stop(run, 300)
            rss.stop.set()
            stop(ingest, 60)
            stop(sim, 60)
            for log in logs.values():
                log.close()
        with open_warehouse(data, read_only=True) as con:
            total_frames = con.execute(
                "select coalesce(sum(frames), 0) from meta.transformed_files").fetchone()[0]
        per_frame, never = frame_delays(data, poller.changes)
        per_update = update_delays(poller.changes)
        current, on_disk = warehouse_files(data)
        cycles = [line for line in (root / "run.log").read_text().splitlines()
                  if "frames from" in line]
        failed = [line for line in (root / "run.log").read_text().splitlines()
                  if " failed (" in line]
        print(f"frames: {total_frames} in {streamed_s:.0f}s = "
              f"{total_frames / streamed_s:.0f} frames/s (target {args.rate:g})")
        print(f"trackit run: {len(cycles)} cycles, {len(failed)} failed, exit {run_code}; "
              f"{poller.polls} polls ({poller.failed_polls} found no marts yet)")
        print(f"per frame ({len(per_frame)} records, {never} never shown as newest): "
              f"p50 {percentile(per_frame, 50):.1f}s, p95 {percentile(per_frame, 95):.1f}s, "
              f"max {max(per_frame, default=math.nan):.1f}s")
        print(f"per update ({len(per_update)} vehicle updates): "
              f"p50 {percentile(per_update, 50):.1f}s, p95 {percentile(per_update, 95):.1f}s")
        print(f"warehouse data files: {current} in the current snapshot, {on_disk} on disk")
        print(f"peak RSS of trackit run: {rss.peak / 2**20:.0f} MiB")
        print("raw files per hour folder:")
        for line in raw_files_per_hour(data, args.raw_grace):
            print(line)
        print(f"p95_freshness_s={percentile(per_frame, 95):.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
