"""Benchmark: `trackit ingest` frames/s against a bare websockets receive loop.

    ./run bench ingest [--frames N] [--rounds R] [--keep DIR]

A local server process sends N frames shaped like the manual's ``records`` message as fast
as it can (pre-serialised WebSocket frames written straight to the transport, so the
server is never the bottleneck). On that same stream, in the same run, it measures:

* bare: a subprocess with a plain ``websockets`` client that does nothing but
  ``async for message in ws`` (first to last message);
* ingest: the real ``trackit ingest`` subprocess (journal write per network read,
  rolling to Parquet in its worker thread), rate from the first to the last
  ``received_at`` it stored, plus the time its clean stop (final roll) takes; and checks
  that all N frames are in the raw lake, byte-identical;

then prints the ratio (target: ingest ≥ 0.6 × bare) and peak RSS of each client.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
SESSID = "benchBENCHbenchBENCHbench1"
AUTHORIZATION = "bench-authorization"
USER_ID = 4242


# -- the server (runs in its own process: `bench/ingest.py serve`) ------------------------

def records_frames(count: int, seed: int = 7) -> list[str]:
    """``count`` distinct frames shaped like the manual's ``records`` example."""
    rng = random.Random(seed)
    frames = []
    for index in range(count):
        vid = 826_400 + index % 250
        second = index // 250
        frames.append(json.dumps({
            "uid": 1000 + index % 250,
            "params": {
                "type": "records",
                "total": 1 + rng.randrange(10),
                "lastRecord": {
                    "tmx": f"2026-03-02T{7 + second // 3600:02d}:{second // 60 % 60:02d}:"
                           f"{second % 60:02d}.{rng.randrange(1000):03d}Z",
                    "vid": vid,
                    "dmx": 1,
                    "loc": {"lon": round(-9.0127 + rng.uniform(-0.5, 0.5), 7),
                            "lat": round(38.5787 + rng.uniform(-0.5, 0.5), 7)},
                    "gsp": rng.randrange(0, 120),
                    "hdg": rng.randrange(0, 360),
                    "gkm": 1_613_709 + index,
                    "cas": 3,
                    "exd": {
                        "sat": rng.randrange(4, 20), "alt": rng.randrange(0, 300), "bpp": 0,
                        "eco": {"edt": 1, "aat": 11, "rpm": rng.randrange(600, 3000),
                                "ehr": 25237, "flv": rng.randrange(0, 101),
                                "dcl": "0000001993887010"},
                        "io": {"1": 1, "8": rng.randrange(2)},
                    },
                },
            },
        }, separators=(",", ":")))
    return frames


async def serve(count: int) -> None:
    from websockets.asyncio.server import ServerConnection
    from websockets.asyncio.server import serve as ws_serve

    frames = records_frames(count)
    digest = hashlib.sha256("\n".join(frames).encode()).hexdigest()
    wire = b"".join(_serialize_text(f.encode()) for f in frames)
    chunk = 1 << 20

    async def handler(ws: ServerConnection) -> None:
        await ws.recv()  # the auth command
        await ws.send(json.dumps({"params": {"type": "auth", "success": True}}))
        started = time.perf_counter()
        view = memoryview(wire)
        for offset in range(0, len(wire), chunk):
            ws.transport.write(view[offset:offset + chunk])
            await ws.drain()
        print(f"DONE {time.perf_counter() - started:.3f}", flush=True)
        await ws.wait_closed()

    async def http(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n")
                       if line.lower().startswith(b"content-length:")), 0)
        await reader.readexactly(length)
        body = b'{"success": true}'
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                     b"Content-Length: %d\r\nConnection: close\r\n\r\n%s" % (len(body), body))
        await writer.drain()
        writer.close()

    http_server = await asyncio.start_server(http, "127.0.0.1", 0)
    async with ws_serve(handler, "127.0.0.1", 0, compression=None, max_size=None) as server:
        ws_port = next(iter(server.sockets)).getsockname()[1]
        http_port = http_server.sockets[0].getsockname()[1]
        avg = sum(len(f) for f in frames) / len(frames)
        print(f"READY {ws_port} {http_port} {avg:.0f} {digest}", flush=True)
        await asyncio.Event().wait()


def _serialize_text(payload: bytes) -> bytes:
    """One unmasked, final TEXT frame (server → client) as RFC 6455 bytes."""
    length = len(payload)
    if length < 126:
        header = bytes([0x81, length])
    elif length < 1 << 16:
        header = bytes([0x81, 126]) + length.to_bytes(2, "big")
    else:
        header = bytes([0x81, 127]) + length.to_bytes(8, "big")
    return header + payload


# -- the bare loop (its own process: `bench/ingest.py bare`) -----------------------------

async def bare(url: str, count: int) -> None:
    from websockets.asyncio.client import connect

    async with connect(url, max_size=None) as ws:
        await ws.send(json.dumps({"type": "auth", "query": {"user_id": USER_ID,
                                                           "SESSID": SESSID}}))
        await ws.recv()
        received = 0
        first = 0.0
        async for _ in ws:
            if not received:
                first = time.perf_counter()
            received += 1
            if received == count:
                break
        elapsed = time.perf_counter() - first
    # VmHWM, not ru_maxrss: Linux carries ru_maxrss over from the parent across exec.
    print(json.dumps({"frames_per_s": (count - 1) / elapsed,
                      "peak_rss_mib": _vm_hwm_mib(os.getpid())}))


# -- the two ways of journaling (their own process: `bench/ingest.py journal --via V`) ----

async def journal_loop(url: str, count: int, via: str, directory: Path) -> None:
    """Journal ``count`` frames through ``JournalingConnection`` or the public ``recv()``.

    ``override``: ingest's connection (messages handed to the journal from websockets'
    ``process_event``, one ``write()`` per network read). ``public``: a plain connection,
    ``recv(decode=False)`` per message, one ``write()`` per message (nothing waits in a
    user-space buffer of ours). Neither rolls to Parquet: this isolates the receive path.
    Rate from the first to the last frame after the auth reply, as for the bare loop.
    """
    import functools

    from websockets.asyncio.client import connect

    from ingest.connection import JournalingConnection
    from ingest.journal import JournalWriter, RecordKind

    journal = JournalWriter(directory, 1, 1 << 40, lambda _segment: None)
    clock = _FirstFrameClock(journal)
    options: dict = {"max_size": None}
    if via == "override":
        options["create_connection"] = functools.partial(JournalingConnection, sink=clock)
    async with connect(url, **options) as ws:
        await ws.send(json.dumps({"type": "auth", "query": {"user_id": USER_ID,
                                                           "SESSID": SESSID}}))
        if via == "override":
            while journal.frames_written < count + 1:
                await asyncio.sleep(0.001)
        else:
            add, flush, recv = clock.add, journal.flush, ws.recv
            text_in = int(RecordKind.TEXT_IN)
            add(text_in, await recv(decode=False))  # the auth reply
            flush()
            add(text_in, await recv(decode=False))
            add = journal.add
            flush()
            for _ in range(count - 1):
                add(text_in, await recv(decode=False))
                flush()
        elapsed = time.perf_counter() - clock.first
    journal.close()
    print(json.dumps({"frames_per_s": (count - 1) / elapsed,
                      "peak_rss_mib": _vm_hwm_mib(os.getpid())}))


class _FirstFrameClock:
    """A journal sink that notes when the first frame after the auth reply arrived."""

    def __init__(self, journal: Any) -> None:
        self.journal = journal
        self.flush = journal.flush
        self.first = 0.0
        self._seen = 0

    def add(self, kind: int, payload: bytes) -> None:
        self._seen += 1
        if self._seen == 2:
            self.first = time.perf_counter()
            self.add = self.journal.add  # type: ignore[method-assign]
        self.journal.add(kind, payload)


# -- the driver --------------------------------------------------------------------------

def _vm_hwm_mib(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def _wait_line(server: subprocess.Popen[str], prefix: str, timeout_s: float) -> str:
    assert server.stdout is not None
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        line = server.stdout.readline()
        if line.startswith(prefix):
            return line.strip()
        if not line and server.poll() is not None:
            break
    raise SystemExit(f"bench: server did not print {prefix}")


def run_bare(server: subprocess.Popen[str], url: str, count: int) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, __file__, "bare", "--url", url, "--frames", str(count)],
        capture_output=True, text=True, timeout=600, check=True,
    )
    _wait_line(server, "DONE", 60)
    return json.loads(out.stdout)


def run_journal(server: subprocess.Popen[str], url: str, count: int,
                via: str) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, __file__, "journal", "--url", url, "--frames", str(count),
         "--via", via],
        capture_output=True, text=True, timeout=600, check=True,
    )
    _wait_line(server, "DONE", 60)
    return json.loads(out.stdout)


def run_ingest(server: subprocess.Popen[str], ws_port: int, http_port: int, count: int,
               digest: str, data: Path) -> dict[str, float]:
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    from lake.layout import DataLayout
    from lake.storage import list_parquet

    env = dict(os.environ, TRACKIT_SESSID=SESSID, TRACKIT_AUTHORIZATION=AUTHORIZATION,
               PYTHONPATH=str(REPO))
    process = subprocess.Popen(
        [sys.executable, "-m", "trackit", "ingest", "--url", f"ws://127.0.0.1:{ws_port}",
         "--auth-url", f"http://127.0.0.1:{http_port}/ws/websocketAuth",
         "--user-id", str(USER_ID), "--data", str(data), "--status-interval", "0"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    peak = 0.0
    assert server.stdout is not None
    os.set_blocking(server.stdout.fileno(), False)
    try:
        deadline = time.monotonic() + 600
        done = ""
        while not done and time.monotonic() < deadline:
            peak = max(peak, _vm_hwm_mib(process.pid))
            line = server.stdout.readline()
            if line.startswith("DONE"):
                done = line
            elif process.poll() is not None:
                raise SystemExit(f"bench: ingest exited early: {process.stderr.read()}")
            else:
                time.sleep(0.05)
    finally:
        os.set_blocking(server.stdout.fileno(), True)
    # The last frames may still be in socket buffers: give ingest a moment, then stop it.
    time.sleep(1.0)
    peak = max(peak, _vm_hwm_mib(process.pid))
    process.send_signal(signal.SIGTERM)
    terminated = time.monotonic()
    while process.poll() is None:
        peak = max(peak, _vm_hwm_mib(process.pid))
        time.sleep(0.02)
    shutdown_s = time.monotonic() - terminated
    if process.returncode != 0:
        raise SystemExit(f"bench: ingest failed: {process.stderr.read()}")
    table = pa.concat_tables(pq.read_table(f) for f in list_parquet(DataLayout(data).raw))
    table = table.sort_by("seq").filter(pc.starts_with(table.sort_by("seq")["frame"],
                                                        '{"uid"'))
    frames = table.column("frame").to_pylist()
    micros = table.column("received_at").cast(pa.int64())
    first, last = pc.min(micros).as_py(), pc.max(micros).as_py()
    return {
        "frames_per_s": (len(frames) - 1) / ((last - first) / 1e6),
        "shutdown_s": shutdown_s,
        "peak_rss_mib": peak,
        "stored": len(frames),
        "identical": hashlib.sha256("\n".join(frames).encode()).hexdigest() == digest,
        "files": len(list_parquet(DataLayout(data).raw)),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", nargs="?", default="run",
                        choices=["run", "serve", "bare", "journal"],
                        help="run: the benchmark (default); serve, bare and journal: its own "
                        "subprocesses")
    parser.add_argument("--frames", type=int, default=200_000, metavar="N",
                        help="records frames per round (default: %(default)s)")
    parser.add_argument("--rounds", type=int, default=3, metavar="R",
                        help="rounds of bare loop + ingest on a fresh stream "
                        "(default: %(default)s)")
    parser.add_argument("--url", help="server URL (bare and journal modes only)")
    parser.add_argument("--via", choices=["override", "public"], default="override",
                        help="journal mode: take frames by the override of websockets' "
                        "process_event or by the public recv() (default: %(default)s)")
    parser.add_argument("--keep", type=Path, metavar="DIR",
                        help="keep the ingest's data directory here (default: a temporary one)")
    args = parser.parse_args()
    if args.mode == "serve":
        asyncio.run(serve(args.frames))
        return 0
    if args.mode == "bare":
        asyncio.run(bare(args.url, args.frames))
        return 0
    if args.mode == "journal":
        sys.path.insert(0, str(REPO))
        with tempfile.TemporaryDirectory(prefix="bench-journal-") as tmp:
            asyncio.run(journal_loop(args.url, args.frames, args.via, Path(tmp)))
        return 0

    sys.path.insert(0, str(REPO))
    server = subprocess.Popen([sys.executable, __file__, "serve", "--frames", str(args.frames)],
                              stdout=subprocess.PIPE, text=True)
    try:
        _, ws_port, http_port, avg, digest = _wait_line(server, "READY", 120).split()
        url = f"ws://127.0.0.1:{ws_port}"
        print(f"ingest benchmark: {args.frames:,} records frames (avg {avg} B) per run, "
              f"{args.rounds} rounds, {os.cpu_count()} CPUs")
        results = []
        for round_no in range(1, args.rounds + 1):
            bare_result = run_bare(server, url, args.frames)
            with tempfile.TemporaryDirectory(prefix="bench-ingest-") as tmp:
                data = args.keep / f"round{round_no}" if args.keep else Path(tmp) / "data"
                ingest_result = run_ingest(server, int(ws_port), int(http_port), args.frames,
                                           digest, data)
            ratio = ingest_result["frames_per_s"] / bare_result["frames_per_s"]
            via = {name: run_journal(server, url, args.frames, name)
                   for name in ("override", "public")}
            results.append((ratio, bare_result, ingest_result))
            print(f"round {round_no}:")
            print(f"  bare websockets loop : {bare_result['frames_per_s']:>10,.0f} frames/s"
                  f"   peak RSS {bare_result['peak_rss_mib']:.0f} MiB")
            print(f"  trackit ingest       : {ingest_result['frames_per_s']:>10,.0f} frames/s"
                  f"   peak RSS {ingest_result['peak_rss_mib']:.0f} MiB"
                  f"   ({ingest_result['stored']:,}/{args.frames:,} frames in "
                  f"{ingest_result['files']} raw files, byte-identical: "
                  f"{'yes' if ingest_result['identical'] else 'NO'})")
            print(f"  ingest clean stop    : {ingest_result['shutdown_s']:>10.2f} s"
                  "   (SIGTERM → exit: final roll of the journal into Parquet, fsync)")
            print(f"  ratio ingest / bare  : {ratio:.2f}   (target ≥ 0.60)")
            for name, about in (("override", "process_event override, one write per read"),
                                ("public", "public recv(decode=False), one write per frame")):
                rate = via[name]["frames_per_s"]
                print(f"  journal via {name:<8} : {rate:>10,.0f} frames/s"
                      f"   ({rate / bare_result['frames_per_s']:.2f} × bare; {about})")
            print(f"  public / override    : "
                  f"{via['public']['frames_per_s'] / via['override']['frames_per_s']:.2f}")
        ratios = sorted(r[0] for r in results)
        ok = all(r[2]["stored"] == args.frames and r[2]["identical"] for r in results)
        print(f"ratio over {args.rounds} rounds: median {statistics.median(ratios):.2f}, "
              f"min {ratios[0]:.2f}, max {ratios[-1]:.2f} (the machine's other load varies "
              f"between runs); every frame stored: {'yes' if ok else 'NO'}")
        return 0 if ok else 1
    finally:
        server.terminate()
        server.wait()


if __name__ == "__main__":
    sys.exit(main())
