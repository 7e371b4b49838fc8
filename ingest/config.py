"""Settings of one ingest process (what ``trackit ingest`` parses from its options)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ingest.credentials import Credentials
from lake.layout import DataLayout
from protocol.messages import DEFAULT_AUTH_URL, DEFAULT_WS_URL

MIB = 1024 * 1024
DEFAULT_GETIO_INTERVAL_S = 60.0
# A driver's app shows short messages: ``send-message`` refuses longer text by default.
DEFAULT_MAX_TEXT_BYTES = 4096
# The most ``send-message --max-text-bytes`` allows, leaving room in a command frame.
MAX_TEXT_BYTES_CEILING = 60_000
# The ingest refuses to send a command frame above this (a file dropped by hand).
MAX_COMMAND_BYTES = 64 * 1024
# A close with one of these codes right after a command is the server refusing it:
# 1007 invalid payload, 1008 policy violation, 1009 message too big.
REJECTING_CLOSE_CODES = (1007, 1008, 1009)
# "Right after": the close came at most this many seconds after the command was sent.
REJECTION_WINDOW_S = 10.0


@dataclass(frozen=True)
class IngestConfig:
    """Everything :func:`ingest.service.run` needs; defaults are the safe production ones.

    Attributes:
        data_dir: the lake (``--data``): a local directory, or a ``DataLayout``
            (``lake.layout.data_layout``) whose raw lake is on object storage.
        user_id: the TRACKiT user id sent in the ``auth`` command and in driver messages.
        credentials: SESSID and Authorization (see ``ingest.credentials``).
        url / auth_url: the socket and the HTTP token check.
        instance: names the journal and prefixes raw files; unique per process on a lake.
        user_name: ``user_name`` of outbound driver messages.
        duration_s: stop cleanly after this many seconds (``None``: run until signalled).
        roll_bytes / roll_seconds: roll the journal into Parquet when the active segment
            reaches this size, or when its oldest frame is this old.
        fsync_interval_s: how often the journal is fsync'ed (the power-loss window).
        status_interval_s: period of the one-line status on stderr (0: never).
        silence_timeout_s: reconnect when no frame arrived for this long (0: never);
            dead TCP connections are caught sooner by ping/pong.
        getio_interval_s: at most one ``getio`` per device per this many seconds.
        max_command_bytes: an outbox command whose frame is larger goes to ``failed/``
            unsent.
        rejection_window_s: a command sent this many seconds or less before the server
            closed the socket with a code of ``REJECTING_CLOSE_CODES`` goes to ``failed/``.
    """

    data_dir: Path | DataLayout
    user_id: int
    credentials: Credentials
    url: str = DEFAULT_WS_URL
    auth_url: str = DEFAULT_AUTH_URL
    instance: str | None = None
    user_name: str = "trackit-pipeline"
    duration_s: float | None = None
    roll_bytes: int = 64 * MIB
    roll_seconds: float = 60.0
    fsync_interval_s: float = 1.0
    status_interval_s: float = 30.0
    silence_timeout_s: float = 600.0
    ping_interval_s: float | None = 20.0
    ping_timeout_s: float | None = 20.0
    open_timeout_s: float = 10.0
    auth_timeout_s: float = 10.0
    max_message_bytes: int = 64 * MIB
    backoff_initial_s: float = 1.0
    backoff_cap_s: float = 60.0
    stable_after_s: float = 30.0
    getio_interval_s: float = DEFAULT_GETIO_INTERVAL_S
    outbox_poll_s: float = 0.5
    max_command_bytes: int = MAX_COMMAND_BYTES
    rejection_window_s: float = REJECTION_WINDOW_S
