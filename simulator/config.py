"""Settings of a simulation run: fleet, time, credentials, reply delays and faults."""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

from protocol.messages import AUTHORIZATION_ENV, SESSID_ENV

DEMO_USER_ID = 123456
DEMO_SESSID = "tjMzwqGgzNdDEyyswn3vZxFbWG"
DEMO_AUTHORIZATION = "demo-authorization-0000"


@dataclass(frozen=True, slots=True)
class Credentials:
    """What the simulated server accepts: the user id, the SESSID and the Authorization header."""

    user_id: int
    sessid: str
    authorization: str
    from_environment: bool = False

    @classmethod
    def from_env(cls, user_id: int | None = None) -> Credentials:
        """``TRACKIT_SESSID`` / ``TRACKIT_AUTHORIZATION`` when set, else the demo values."""
        sessid = os.environ.get(SESSID_ENV)
        authorization = os.environ.get(AUTHORIZATION_ENV)
        return cls(
            user_id=DEMO_USER_ID if user_id is None else user_id,
            sessid=sessid or DEMO_SESSID,
            authorization=authorization or DEMO_AUTHORIZATION,
            from_environment=bool(sessid or authorization),
        )

    def __repr__(self) -> str:
        return f"Credentials(user_id={self.user_id}, sessid=<hidden>, authorization=<hidden>)"


@dataclass(frozen=True, slots=True)
class ReplyDelays:
    """Simulated seconds (scaled by speedup) between a command and each reply, as (low, high).

    ``scale`` multiplies them all; ``message_failure_rate`` is the share of driver messages
    that end in ``txs`` 2 (not sent), ``message_read_rate`` the share that gets read.
    """

    cmd_status: tuple[float, float] = (0.1, 0.6)
    cmd_parsed: tuple[float, float] = (1.0, 4.0)
    not_processed: tuple[float, float] = (0.1, 0.5)
    buffered: tuple[float, float] = (0.5, 2.0)
    pending: tuple[float, float] = (1.0, 4.0)
    delivered: tuple[float, float] = (3.0, 60.0)
    read: tuple[float, float] = (10.0, 600.0)
    error: tuple[float, float] = (1.0, 5.0)
    driver_reply: tuple[float, float] = (5.0, 60.0)
    scale: float = 1.0
    message_failure_rate: float = 0.05
    message_read_rate: float = 0.85
    driver_reply_rate: float = 0.3


@dataclass(frozen=True, slots=True)
class Faults:
    """Faults on demand; all off by default.

    Attributes:
        drop_every_s: close each connection this many wall seconds after its auth (no
            close frame, like a network failure); frames not yet sent wait for the next one.
        malformed_rate: share of frames followed by a corrupted copy (truncated, trailing
            comma, stray braces, zone-less time, not JSON, binary).
        duplicate_rate: share of frames sent twice.
        reorder_rate: share of ``records`` frames held back 30-120 simulated seconds.
        late_rate: share of ``records`` frames held back ``late_hours`` simulated hours.
        late_hours: how old a late batch is when it arrives.
        unknown_rate: share of frames followed by a frame of a type the manual doesn't list.
        slow_consumer_bytes: when set, never wait for a client that doesn't read; drop it once
            this many bytes are queued for it (a real server's slow-consumer policy).
        refuse_auth: refuse this many authentication attempts (HTTP 401 and socket auth
            ``success: false``) before accepting; -1 refuses them all.
    """

    drop_every_s: float | None = None
    malformed_rate: float = 0.0
    duplicate_rate: float = 0.0
    reorder_rate: float = 0.0
    late_rate: float = 0.0
    late_hours: float = 2.0
    unknown_rate: float = 0.0
    slow_consumer_bytes: int | None = None
    refuse_auth: int = 0

    @property
    def any_stream_fault(self) -> bool:
        """True when some fault changes the frame stream itself."""
        return any((self.malformed_rate, self.duplicate_rate, self.reorder_rate,
                    self.late_rate, self.unknown_rate))


@dataclass(frozen=True, slots=True)
class SimulatorConfig:
    """Everything a simulation run needs; defaults give a small, well-behaved fleet.

    ``speedup`` is simulated seconds per wall second (``math.inf``: as fast as the client
    reads). ``start`` is the simulated start time (epoch seconds, default now); with the same
    ``seed`` and ``start`` a run sends the same fleet frames. ``prebuild_frames`` frames are
    generated and serialised before serving, for throughput runs.
    """

    host: str = "127.0.0.1"
    port: int = 8765
    vehicles: int = 20
    seed: int = 1
    speedup: float = 1.0
    start: float | None = None
    credentials: Credentials = field(default_factory=Credentials.from_env)
    delays: ReplyDelays = field(default_factory=ReplyDelays)
    faults: Faults = field(default_factory=Faults)
    ground_truth_path: Path | None = None
    ground_truth_every_s: float = 5.0
    prebuild_frames: int = 0

    def start_time(self) -> float:
        """The simulated start: ``start`` or now (whole seconds)."""
        return float(int(time.time())) if self.start is None else self.start

    @property
    def max_speed(self) -> bool:
        """True when time runs as fast as the client reads."""
        return math.isinf(self.speedup)
