"""`trackit simulate`: serve a simulated TRACKiT fleet (HTTP auth + WebSocket on one port)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import math
import os
import signal
import time
from pathlib import Path
from typing import TYPE_CHECKING

from lake.errors import TrackitError
from protocol.messages import AUTH_PATH, AUTHORIZATION_ENV, SESSID_ENV
from trackit.options import (
    INT64_MAX,
    MAX_VEHICLES,
    SEED_RANGE,
    bounded_int,
    device_id,
    fraction,
    non_negative_number,
    positive_int,
    positive_number,
    positive_seconds,
)

if TYPE_CHECKING:  # the simulator is imported inside the handler, to keep --help fast
    from simulator.config import SimulatorConfig
    from simulator.server import SimulatorServer

logger = logging.getLogger("trackit.simulate")
STATUS_EVERY_S = 30.0


def _speedup(text: str) -> float:
    if text.lower() in {"max", "inf"}:
        return math.inf
    try:
        return positive_number(text)
    except argparse.ArgumentTypeError as exc:
        raise argparse.ArgumentTypeError(f"{exc} (or 'max')") from None


# Simulated time must stay within what datetime can write for the whole run.
EARLIEST_START, LATEST_START = 0.0, 4102444800.0  # 1970-01-01, 2100-01-01 (UTC)


def _start(text: str) -> float:
    from simulator.timefmt import parse_start

    try:
        start = parse_start(text, time.time())
    except (ValueError, OverflowError):
        raise argparse.ArgumentTypeError(
            f"expected an ISO-8601 time or an offset like -6h, got {text!r}") from None
    if not EARLIEST_START <= start < LATEST_START:
        raise argparse.ArgumentTypeError(f"must be between 1970 and 2100, got {text!r}")
    return start


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "simulate", help="run a TRACKiT-compatible server with a simulated fleet",
        description="Serve POST /ws/websocketAuth and the TRACKiT WebSocket on one port, fed "
                    "by a seeded fleet. Credentials: --user-id plus TRACKIT_SESSID / "
                    "TRACKIT_AUTHORIZATION (demo values, printed, when unset).")
    parser.allow_negative_values("--start")
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to listen on (default %(default)s)")
    parser.add_argument("--port", type=bounded_int(0, 65535), default=8765,
                        help="port, 0: any free port (default %(default)s)")
    parser.add_argument("--vehicles", type=bounded_int(1, MAX_VEHICLES), default=20, metavar="N",
                        help=f"fleet size, at most {MAX_VEHICLES:,} (about 5 s and 300 MB to "
                             "start at the maximum) (default %(default)s)")
    parser.add_argument("--seed", type=bounded_int(*SEED_RANGE), default=1,
                        help="random seed (default %(default)s)")
    parser.add_argument("--speedup", type=_speedup, default=1.0,
                        help="simulated seconds per wall second, or 'max' (default 1)")
    parser.add_argument("--start", type=_start, metavar="TIME",
                        help="simulated start: ISO-8601 or an offset like -6h / -90m / -2d, "
                             "as --start -10h or --start=-10h (default: now)")
    parser.add_argument("--user-id", type=device_id, default=None,
                        help="accepted user_id, 1 to 2^63-1 (default: the demo user id, "
                             "printed at start)")
    parser.add_argument("--ground-truth", type=Path, default=None, metavar="FILE",
                        help="write what really happened to this JSON file (periodically "
                             "and on exit)")
    parser.add_argument("--ground-truth-every", type=positive_seconds, default=5.0,
                        metavar="S", help="seconds between ground-truth writes (default 5)")
    parser.add_argument("--duration", type=positive_seconds, default=None, metavar="S",
                        help="stop S wall seconds after starting, even while the fleet is "
                             "still being built (default: run until interrupted)")
    parser.add_argument("--prebuild", type=bounded_int(0, INT64_MAX), default=0, metavar="N",
                        help="generate and serialise N frames before serving, about 1 KB "
                             "each (throughput runs) (default 0)")
    replies = parser.add_argument_group("command replies")
    replies.add_argument("--reply-delay-scale", type=non_negative_number, default=1.0,
                         metavar="X", help="multiply every reply delay (msg-sts, cmd-status, "
                                           "cmd-parsed), 0: at once (default 1)")
    replies.add_argument("--message-failure-rate", type=fraction, default=0.05, metavar="F",
                         help="share of driver messages that fail with txs 2 (default 0.05)")
    faults = parser.add_argument_group("faults (all off by default)")
    faults.add_argument("--drop-every", type=positive_seconds, default=None, metavar="S",
                        help="drop each connection S wall seconds after auth (no close frame)")
    faults.add_argument("--malformed-rate", type=fraction, default=0.0, metavar="F",
                        help="share of frames followed by a malformed copy")
    faults.add_argument("--duplicate-rate", type=fraction, default=0.0, metavar="F",
                        help="share of frames sent twice")
    faults.add_argument("--reorder-rate", type=fraction, default=0.0, metavar="F",
                        help="share of records frames delayed 30-120 s (out of order)")
    faults.add_argument("--late-rate", type=fraction, default=0.0, metavar="F",
                        help="share of records frames delivered --late-hours later")
    faults.add_argument("--late-hours", type=positive_number, default=2.0, metavar="H",
                        help="age of late batches in simulated hours (default 2)")
    faults.add_argument("--unknown-rate", type=fraction, default=0.0, metavar="F",
                        help="share of frames followed by a frame of an unknown type")
    faults.add_argument("--slow-consumer-bytes", type=positive_int, default=None, metavar="N",
                        help="don't wait for slow clients; drop one with N bytes queued")
    faults.add_argument("--refuse-auth", type=bounded_int(-1, INT64_MAX), default=0,
                        metavar="N",
                        help="refuse the first N auth attempts (HTTP and socket; -1: all)")
    parser.set_defaults(handler=run)


def build_config(args: argparse.Namespace) -> SimulatorConfig:
    """The simulator configuration the arguments describe."""
    from simulator.config import Credentials, Faults, ReplyDelays, SimulatorConfig

    return SimulatorConfig(
        host=args.host, port=args.port, vehicles=args.vehicles, seed=args.seed,
        speedup=args.speedup, start=args.start,
        credentials=Credentials.from_env(args.user_id),
        delays=ReplyDelays(scale=args.reply_delay_scale,
                           message_failure_rate=args.message_failure_rate),
        faults=Faults(
            drop_every_s=args.drop_every, malformed_rate=args.malformed_rate,
            duplicate_rate=args.duplicate_rate, reorder_rate=args.reorder_rate,
            late_rate=args.late_rate, late_hours=args.late_hours,
            unknown_rate=args.unknown_rate, slow_consumer_bytes=args.slow_consumer_bytes,
            refuse_auth=args.refuse_auth,
        ),
        ground_truth_path=args.ground_truth, ground_truth_every_s=args.ground_truth_every,
        prebuild_frames=args.prebuild,
    )


def run(args: argparse.Namespace) -> int:
    deadline = None if args.duration is None else time.monotonic() + args.duration
    config = build_config(args)
    try:
        asyncio.run(_serve(config, deadline))
    except OSError as exc:
        raise TrackitError(f"cannot serve on {config.host}:{config.port}: "
                           f"{exc.strerror or exc}") from None
    return 0


def _banner(server: SimulatorServer) -> str:
    config = server.config
    speed = "max" if math.isinf(config.speedup) else f"{config.speedup:g}x"
    lines = [
        f"trackit simulate: {config.vehicles} vehicles, seed {config.seed}, speed {speed}",
        f"  websocket: ws://{server.host}:{server.port}",
        f"  auth:      http://{server.host}:{server.port}{AUTH_PATH}",
        f"  user_id:   {config.credentials.user_id}",
    ]
    # Only demo values are ever printed; real ones from the environment stay secret.
    if os.environ.get(SESSID_ENV):
        lines.append(f"  SESSID:    from {SESSID_ENV}")
    else:
        lines.append(f"  SESSID:    {config.credentials.sessid} (demo; set {SESSID_ENV})")
    if os.environ.get(AUTHORIZATION_ENV):
        lines.append(f"  Authorization: from {AUTHORIZATION_ENV}")
    else:
        lines.append(f"  Authorization: {config.credentials.authorization} "
                     f"(demo; set {AUTHORIZATION_ENV})")
    if config.ground_truth_path is not None:
        lines.append(f"  ground truth: {config.ground_truth_path}")
    return "\n".join(lines)


async def _serve(config: SimulatorConfig, deadline: float | None) -> None:
    """Serve until a signal or ``deadline`` (``time.monotonic()``), counted from the start."""
    from simulator.fleet import DeadlinePassed
    from simulator.server import SimulatorServer
    from simulator.timefmt import iso_utc

    try:
        server = SimulatorServer(config, deadline)
        await server.start()
    except DeadlinePassed:
        print(f"trackit simulate: --duration ran out while building {config.vehicles} "
              f"vehicles; stopped after 0 frames", flush=True)
        return
    print(_banner(server), flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(signum, stop.set)
    try:
        while not stop.is_set():
            timeout = STATUS_EVERY_S
            if deadline is not None:
                timeout = min(timeout, max(0.0, deadline - time.monotonic()))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout)
            sent = sum(server.truth.frames_sent.values())
            logger.info("simulated time %s, %d frames sent, %d client(s)",
                        iso_utc(server.clock.now()), sent, len(server.clients))
            if deadline is not None and time.monotonic() >= deadline:
                break
    finally:
        await server.stop()
        print(f"trackit simulate: stopped after {sum(server.truth.frames_sent.values())} frames",
              flush=True)
