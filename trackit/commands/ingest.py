"""`trackit ingest`: the long-running process that writes every socket frame to the raw lake."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from lake.errors import TrackitError
from trackit.options import (
    add_data_option,
    device_id,
    non_negative_seconds,
    positive_seconds,
    positive_up_to,
    writable_data_location,
)

MAX_ROLL_MIB = 1024


def register(subparsers: argparse._SubParsersAction) -> None:
    from ingest.config import IngestConfig
    from protocol.messages import DEFAULT_AUTH_URL, DEFAULT_WS_URL

    defaults = IngestConfig(data_dir=Path(), user_id=0, credentials=None)  # type: ignore[arg-type]
    parser = subparsers.add_parser(
        "ingest",
        help="connect to the TRACKiT socket and write every frame to the raw lake",
        description=(
            "Connect to the TRACKiT WebSocket, journal every frame and roll the journal into "
            "DATA/raw/date=YYYY-MM-DD/hour=HH/*.parquet. Secrets come from TRACKIT_SESSID and "
            "TRACKIT_AUTHORIZATION (or --config). SIGTERM/SIGINT stop it cleanly."
        ),
    )
    parser.add_argument("--url", default=DEFAULT_WS_URL,
                        help="WebSocket URL (default: %(default)s)")
    parser.add_argument("--auth-url", default=DEFAULT_AUTH_URL,
                        help="HTTP token check URL (default: %(default)s)")
    parser.add_argument("--user-id", type=device_id, required=True,
                        help="TRACKiT user id, 1 to 2^63-1")
    add_data_option(parser)
    parser.add_argument(
        "--duration", type=positive_seconds, default=None, metavar="S",
        help="stop cleanly after S seconds (default: run until SIGTERM/SIGINT)",
    )
    parser.add_argument(
        "--config", type=Path, default=None, metavar="FILE",
        help="TOML file with sessid/authorization (must not be group/world-readable); "
        "the environment variables win",
    )
    parser.add_argument(
        "--instance", default=None,
        help="name of this ingest's journal and raw-file prefix (default: u<user-id>, "
        "on object storage u<user-id>-<host name>); unique per process on one lake",
    )
    parser.add_argument(
        "--user-name", default=defaults.user_name,
        help=f"user_name of outbound driver messages (default: {defaults.user_name})",
    )
    parser.add_argument(
        "--roll-mb", type=positive_up_to(MAX_ROLL_MIB), default=defaults.roll_bytes / 2**20,
        metavar="MIB",
        help=f"roll the journal into Parquet at this size, at most {MAX_ROLL_MIB} "
        "(default: %(default)g MiB)",
    )
    parser.add_argument(
        "--roll-seconds", type=positive_seconds, default=defaults.roll_seconds, metavar="S",
        help="... or when its oldest frame is this old (default: %(default)g s)",
    )
    parser.add_argument(
        "--fsync-interval", type=positive_seconds, default=defaults.fsync_interval_s, metavar="S",
        help="fsync the journal this often: the power-loss window (default: %(default)g s)",
    )
    parser.add_argument(
        "--status-interval", type=non_negative_seconds, default=defaults.status_interval_s,
        metavar="S",
        help="one-line status on stderr this often, 0 = never (default: %(default)g s)",
    )
    parser.add_argument(
        "--silence-timeout", type=non_negative_seconds, default=defaults.silence_timeout_s,
        metavar="S",
        help="reconnect after S seconds without a frame, 0 = never (default: %(default)g s)",
    )
    parser.add_argument(
        "--getio-interval", type=non_negative_seconds, default=defaults.getio_interval_s,
        metavar="S",
        help="send at most one getio per device per S seconds (default: %(default)g s)",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from ingest.config import MIB, IngestConfig
    from ingest.credentials import load_credentials
    from ingest.errors import IngestError
    from ingest.service import run as run_ingest

    try:
        config = IngestConfig(
            data_dir=writable_data_location(args),
            user_id=args.user_id,
            credentials=load_credentials(config_path=args.config),
            url=args.url,
            auth_url=args.auth_url,
            instance=args.instance,
            user_name=args.user_name,
            duration_s=args.duration,
            roll_bytes=int(args.roll_mb * MIB),
            roll_seconds=args.roll_seconds,
            fsync_interval_s=args.fsync_interval,
            status_interval_s=args.status_interval,
            silence_timeout_s=args.silence_timeout,
            getio_interval_s=args.getio_interval,
        )
        summary = run_ingest(config)
    except IngestError as exc:
        raise TrackitError(str(exc)) from None
    print(
        f"ingest {summary.instance}: {summary.frames:,} frames journaled "
        f"({summary.frames_out} sent), {summary.recovered_frames:,} recovered at start, "
        f"{summary.files_written} raw files written, {summary.reconnects} reconnects, "
        f"seq {summary.first_seq}..{summary.last_seq}",
        file=sys.stdout,
    )
    return 0
