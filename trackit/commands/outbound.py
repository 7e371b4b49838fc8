"""`trackit send-message` and `trackit getio`: queue a command for the running ingest.

Both drop a command file into the outbox under ``DATA/state/outbox/`` (see
``ingest.outbox``) and print its id (the ``guid`` of a driver message, the ``id`` of a
getio); the running ``trackit ingest`` sends it on its live socket. Both refuse a data
directory where no ingest lives, so a mistyped ``--data`` is an error, not a silent queue.
"""

from __future__ import annotations

import argparse

from lake.errors import TrackitError
from trackit.options import (
    add_data_option,
    bounded_int,
    data_location,
    device_id,
    non_negative_seconds,
)


def register(subparsers: argparse._SubParsersAction) -> None:
    from ingest.config import (
        DEFAULT_GETIO_INTERVAL_S,
        DEFAULT_MAX_TEXT_BYTES,
        MAX_TEXT_BYTES_CEILING,
    )

    message = subparsers.add_parser(
        "send-message",
        help="queue a text message to a driver's app (sent by the running ingest)",
        description="Queue a pnd-api text message; prints its guid.",
    )
    add_data_option(message)
    message.add_argument("--uid", type=device_id, required=True, help="device uid")
    message.add_argument("--text", required=True, help="message text (not blank)")
    message.add_argument(
        "--max-text-bytes", type=bounded_int(1, MAX_TEXT_BYTES_CEILING),
        default=DEFAULT_MAX_TEXT_BYTES, metavar="N",
        help="refuse text longer than N bytes of UTF-8 (default: %(default)d, "
        f"at most {MAX_TEXT_BYTES_CEILING})",
    )
    message.add_argument(
        "--user-name", default=None,
        help="sender name shown to the driver (default: the ingest's --user-name)",
    )
    message.set_defaults(handler=run_send_message)

    getio = subparsers.add_parser(
        "getio",
        help="queue a getio query of a device's I/O (rate-limited per device)",
        description="Queue an api getio command; prints its id. Refused when a getio for "
        "the same device was queued less than --min-interval seconds ago.",
    )
    add_data_option(getio)
    getio.add_argument("--uid", type=device_id, required=True, help="device uid")
    getio.add_argument(
        "--min-interval", type=non_negative_seconds, default=DEFAULT_GETIO_INTERVAL_S,
        metavar="S", help="at most one getio per device per S seconds (default: %(default)g)",
    )
    getio.set_defaults(handler=run_getio)


def run_send_message(args: argparse.Namespace) -> int:
    from ingest.errors import IngestError
    from ingest.outbox import queue_driver_message, require_ingest

    layout = data_location(args)
    try:
        require_ingest(layout)
        command = queue_driver_message(
            layout, args.uid, args.text, user_name=args.user_name,
            max_text_bytes=args.max_text_bytes,
        )
    except IngestError as exc:
        raise TrackitError(str(exc)) from None
    print(command.id)
    return 0


def run_getio(args: argparse.Namespace) -> int:
    from ingest.errors import IngestError
    from ingest.outbox import queue_getio, require_ingest

    layout = data_location(args)
    try:
        require_ingest(layout)
        command = queue_getio(layout, args.uid, min_interval_s=args.min_interval)
    except IngestError as exc:
        raise TrackitError(str(exc)) from None
    print(command.id)
    return 0
