"""Benchmark: how fast one simulator process feeds one plain websockets client.

Run: ``./run bench simulator [--vehicles N] [--frames N] [--seconds S]``. Measures, side by
side in one run: the fleet model alone (generate + serialise, no sockets), then a
``trackit simulate --speedup max`` subprocess feeding one client live, then the same with
``--prebuild`` (frames generated and serialised before serving). Prints frames/s, MB/s,
frames per server CPU second (what one free core would sustain, whatever the machine's
load) and the peak RSS of the server process. Target: >= 50,000 frames/s to one client.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil
import websockets

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from protocol.messages import auth_command  # noqa: E402
from simulator import frames  # noqa: E402
from simulator.config import DEMO_SESSID, DEMO_USER_ID  # noqa: E402
from simulator.fleet import Fleet  # noqa: E402

TARGET = 50_000


def model_only(vehicles: int, count: int) -> tuple[float, float]:
    """Frames per wall second and per CPU second of the fleet model + serialisation."""
    fleet = Fleet(vehicles, seed=1, start=1_700_000_000.0)
    started, cpu = time.perf_counter(), time.process_time()
    for message in itertools.islice(fleet.messages(), count):
        frames.dumps(message)
    return count / (time.perf_counter() - started), count / (time.process_time() - cpu)


class PeakRss:
    """Polls a process's resident memory in a thread and keeps the maximum."""

    def __init__(self, pid: int) -> None:
        self.process = psutil.Process(pid)
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)
        self._thread.start()

    def _poll(self) -> None:
        while not self._stop.is_set():
            try:
                self.peak = max(self.peak, self.process.memory_info().rss)
            except psutil.Error:
                return
            time.sleep(0.05)

    def stop(self) -> int:
        self._stop.set()
        self._thread.join()
        return self.peak


async def consume(url: str, count: int, seconds: float) -> tuple[int, int, float]:
    """Authenticate and read frames; (frames, bytes, seconds) after the first frame."""
    async with websockets.connect(url, max_size=None, compression=None,
                                  max_queue=1024) as ws:
        import orjson

        await ws.send(orjson.dumps(auth_command(DEMO_USER_ID, DEMO_SESSID)).decode())
        await ws.recv()
        first = await ws.recv()
        started = time.perf_counter()
        received, size = 1, len(first)
        deadline = started + seconds
        while received < count:
            frame = await ws.recv(decode=False)  # bytes: skip UTF-8 decoding, like a journal
            received += 1
            size += len(frame)
            if received % 1000 == 0 and time.perf_counter() > deadline:
                break
        return received, size, time.perf_counter() - started


def _cpu_seconds(process: psutil.Process) -> float:
    times = process.cpu_times()
    return times.user + times.system


def server_run(vehicles: int, count: int, seconds: float, prebuild: int) -> dict[str, float]:
    """Start ``trackit simulate --speedup max`` and measure one client against it."""
    env = {k: v for k, v in os.environ.items() if k not in ("TRACKIT_SESSID",
                                                              "TRACKIT_AUTHORIZATION")}
    command = [sys.executable, "-m", "trackit", "--log-level", "WARNING", "simulate",
               "--port", "0", "--speedup", "max", "--vehicles", str(vehicles),
               "--start", "2023-11-14T22:13:20Z", "--prebuild", str(prebuild)]
    started = time.perf_counter()
    server = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True)
    try:
        rss = PeakRss(server.pid)
        url = None
        assert server.stdout is not None
        for line in server.stdout:
            match = re.search(r"websocket: (ws://\S+)", line)
            if match:
                url = match.group(1)
                break
        if url is None:
            raise SystemExit("bench: the simulator did not start")
        ready = time.perf_counter() - started
        cpu_before = _cpu_seconds(rss.process)
        received, size, elapsed = asyncio.run(consume(url, count, seconds))
        server_cpu = _cpu_seconds(rss.process) - cpu_before
        return {"frames": received, "seconds": elapsed, "rate": received / elapsed,
                "mb_s": size / elapsed / 1e6, "rss_mb": rss.stop() / 1e6, "startup_s": ready,
                "per_cpu_s": received / server_cpu if server_cpu else float("inf")}
    finally:
        server.terminate()
        server.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vehicles", type=int, default=50, metavar="N",
                        help="fleet size (default: %(default)s)")
    parser.add_argument("--frames", type=int, default=300_000, metavar="N",
                        help="frames per run, and frames pre-built by the --prebuild run "
                        "(default: %(default)s)")
    parser.add_argument("--seconds", type=float, default=15.0, metavar="S",
                        help="each run reads for at most S seconds from its first frame "
                        "(default: %(default)s)")
    args = parser.parse_args()

    print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at start")
    model, model_cpu = model_only(args.vehicles, min(args.frames, 100_000))
    print(f"fleet model alone ({args.vehicles} vehicles): {model:,.0f} frames/s wall, "
          f"{model_cpu:,.0f} frames per CPU second (generate + serialise, no I/O)")
    live = server_run(args.vehicles, args.frames, args.seconds, prebuild=0)
    print(f"live, --speedup max:     {live['rate']:,.0f} frames/s, {live['mb_s']:.1f} MB/s "
          f"({live['frames']:,} frames in {live['seconds']:.1f} s); "
          f"{live['per_cpu_s']:,.0f} frames per server CPU second; "
          f"server peak RSS {live['rss_mb']:.0f} MB")
    pre = server_run(args.vehicles, args.frames, args.seconds, prebuild=args.frames)
    print(f"pre-built {args.frames:,} frames: {pre['rate']:,.0f} frames/s, "
          f"{pre['mb_s']:.1f} MB/s ({pre['frames']:,} frames in {pre['seconds']:.1f} s; "
          f"build {pre['startup_s']:.1f} s); {pre['per_cpu_s']:,.0f} frames per server CPU "
          f"second; server peak RSS {pre['rss_mb']:.0f} MB")
    print(f"ratio pre-built / live: {pre['rate'] / live['rate']:.2f}; "
          f"target {TARGET:,} frames/s to one client: "
          f"{'met' if pre['rate'] >= TARGET else 'NOT met'} (pre-built), "
          f"{'met' if live['rate'] >= TARGET else 'not met'} (live)")


if __name__ == "__main__":
    main()
