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

if TYPE_CHECKING:  # the simulator is imported inside the handler, to keep --help fast
    from simulator.config import SimulatorConfig
    from simulator.server import SimulatorServer

logger = logging.getLogger("trackit.simulate")
STATUS_EVERY_S = 30.0


def _speedup(text: str) -> float:
    if text.lower() in {"max", "inf"}:
        return math.inf
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError("speedup must be positive (or 'max')")
    return value


def _rate(text: str) -> float:
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError("a rate is between 0 and 1")
    return value


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "simulate", help="run a TRACKiT-compatible server with a simulated fleet",
        description="Serve POST /ws/websocketAuth and the TRACKiT WebSocket on one port, fed "
                    "by a seeded fleet. Credentials: --user-id plus TRACKIT_SESSID / "
                    "TRACKIT_AUTHORIZATION (demo values, printed, when unset).")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=8765, help="port (0: any free port)")
    parser.add_argument("--vehicles", type=int, default=20, help="fleet size (default 20)")
    parser.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    parser.add_argument("--speedup", type=_speedup, default=1.0,
                        help="simulated seconds per wall second, or 'max' (default 1)")
    parser.add_argument("--start",
                        help="simulated start: ISO-8601 or an offset like -6h / -90m "
                             "(default: now)")
    parser.add_argument("--user-id", type=int, default=None,
                        help="accepted user_id (default: the demo 123456)")
    parser.add_argument("--ground-truth", type=Path, default=None, metavar="FILE",
                        help="write what really happened to this JSON file (periodically "
                             "and on exit)")
    parser.add_argument("--ground-truth-every", type=float, default=5.0, metavar="S",
                        help="seconds between ground-truth writes (default 5)")
    parser.add_argument("--duration", type=float, default=None, metavar="S",
                        help="stop after S wall seconds (default: run until interrupted)")
    parser.add_argument("--prebuild", type=int, default=0, metavar="N",
                        help="generate and serialise N frames before serving (throughput runs)")
    replies = parser.add_argument_group("command replies")
    replies.add_argument("--reply-delay-scale", type=float, default=1.0, metavar="X",
                         help="multiply every reply delay (msg-sts, cmd-status, cmd-parsed)")
    replies.add_argument("--message-failure-rate", type=_rate, default=0.05, metavar="F",
                         help="share of driver messages that fail with txs 2 (default 0.05)")
    faults = parser.add_argument_group("faults (all off by default)")
    faults.add_argument("--drop-every", type=float, default=None, metavar="S",
                        help="drop each connection S wall seconds after auth (no close frame)")
    faults.add_argument("--malformed-rate", type=_rate, default=0.0, metavar="F",
                        help="share of frames followed by a malformed copy")
    faults.add_argument("--duplicate-rate", type=_rate, default=0.0, metavar="F",
                        help="share of frames sent twice")
    faults.add_argument("--reorder-rate", type=_rate, default=0.0, metavar="F",
                        help="share of records frames delayed 30-120 s (out of order)")
    faults.add_argument("--late-rate", type=_rate, default=0.0, metavar="F",
                        help="share of records frames delivered --late-hours later")
    faults.add_argument("--late-hours", type=float, default=2.0, metavar="H",
                        help="age of late batches in simulated hours (default 2)")
    faults.add_argument("--unknown-rate", type=_rate, default=0.0, metavar="F",
                        help="share of frames followed by a frame of an unknown type")
    faults.add_argument("--slow-consumer-bytes", type=int, default=None, metavar="N",
                        help="don't wait for slow clients; drop one with N bytes queued")
    faults.add_argument("--refuse-auth", type=int, default=0, metavar="N",
                        help="refuse the first N auth attempts (HTTP and socket; -1: all)")
    parser.set_defaults(handler=run)


def build_config(args: argparse.Namespace) -> SimulatorConfig:
    """The simulator configuration the arguments describe."""
    from simulator.config import Credentials, Faults, ReplyDelays, SimulatorConfig
    from simulator.timefmt import parse_start

    if args.vehicles < 1:
        raise TrackitError("--vehicles must be at least 1")
    if not 0 <= args.port <= 65535:
        raise TrackitError("--port must be between 0 and 65535")
    positive = {"--drop-every": args.drop_every, "--slow-consumer-bytes":
                args.slow_consumer_bytes, "--ground-truth-every": args.ground_truth_every,
                "--duration": args.duration}
    for flag, value in positive.items():
        if value is not None and not value > 0:
            raise TrackitError(f"{flag} must be positive")
    for flag, value in {"--reply-delay-scale": args.reply_delay_scale,
                        "--late-hours": args.late_hours, "--prebuild": args.prebuild}.items():
        if value < 0:
            raise TrackitError(f"{flag} must not be negative")
    start = None
    if args.start:
        try:
            start = parse_start(args.start, time.time())
        except ValueError:
            raise TrackitError(f"--start is neither an ISO-8601 time nor an offset like -6h: "
                               f"{args.start!r}") from None
    return SimulatorConfig(
        host=args.host, port=args.port, vehicles=args.vehicles, seed=args.seed,
        speedup=args.speedup, start=start,
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
    config = build_config(args)
    try:
        asyncio.run(_serve(config, args.duration))
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


async def _serve(config: SimulatorConfig, duration: float | None) -> None:
    from simulator.server import SimulatorServer
    from simulator.timefmt import iso_utc

    server = SimulatorServer(config)
    await server.start()
    print(_banner(server), flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(signum, stop.set)
    deadline = None if duration is None else time.monotonic() + duration
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
