"""Faults on demand, applied to the stream of serialised frames (pure, seeded).

Malformed and unknown-type frames are *added* next to the real ones, so no fleet data is
lost and the ground truth stays true; duplicates repeat a frame; out-of-order and late
frames are ``records`` batches held back and released later in simulated time.
Connection drops, slow-consumer drops and refused auth live in the server.
"""

from __future__ import annotations

import heapq
import random
from dataclasses import dataclass

import orjson

from simulator.config import Faults
from simulator.ground_truth import GroundTruth
from simulator.ids import vehicle_uid
from simulator.wire import encode_frame

MALFORMED_KINDS = (
    "truncated", "trailing_comma", "stray_braces", "zoneless_time", "not_json", "binary",
    "empty",
)


@dataclass(slots=True)
class OutFrame:
    """One frame ready for the socket: payload bytes, text or binary, and what it is."""

    emit: float
    payload: bytes
    kind: str
    text: bool = True
    meta: tuple[str, int] | None = None
    encoded: bytes | None = None

    def wire(self) -> bytes:
        """The WebSocket frame bytes (encoded once, shared by every client)."""
        if self.encoded is None:
            self.encoded = encode_frame(self.payload, self.text)
        return self.encoded


class FaultInjector:
    """Turns each real frame into the frames actually sent, per the configured faults."""

    def __init__(self, faults: Faults, seed: int, truth: GroundTruth) -> None:
        self.faults = faults
        self.truth = truth
        self.rng = random.Random(f"{seed}/faults")
        self.seed = seed
        self.held: list[tuple[float, int, OutFrame]] = []
        self._seq = 0

    def apply(self, frame: OutFrame) -> list[OutFrame]:
        """The frames to send now in place of ``frame`` (it may be held back instead)."""
        faults, rng = self.faults, self.rng
        if frame.kind == "records":
            if faults.late_rate and rng.random() < faults.late_rate:
                delay = faults.late_hours * 3600 * rng.uniform(0.9, 1.1)
                return self._hold(frame, delay, "late")
            if faults.reorder_rate and rng.random() < faults.reorder_rate:
                return self._hold(frame, rng.uniform(30, 120), "reordered")
        out = [frame]
        if faults.duplicate_rate and rng.random() < faults.duplicate_rate:
            out.append(frame)
            self.truth.faults["duplicated"] += 1
        if faults.malformed_rate and rng.random() < faults.malformed_rate:
            out.append(self._malformed(frame))
        if faults.unknown_rate and rng.random() < faults.unknown_rate:
            out.append(self._unknown(frame.emit))
        return out

    def next_release(self) -> float:
        """Simulated time of the next held frame's release (inf when none)."""
        return self.held[0][0] if self.held else float("inf")

    def release(self) -> OutFrame:
        """The next held frame, restamped with its release time."""
        release_at, _, frame = heapq.heappop(self.held)
        return OutFrame(release_at, frame.payload, frame.kind, frame.text)

    def _hold(self, frame: OutFrame, delay: float, label: str) -> list[OutFrame]:
        self._seq += 1
        heapq.heappush(self.held, (frame.emit + delay, self._seq, frame))
        self.truth.faults[label] += 1
        return []

    def _malformed(self, frame: OutFrame) -> OutFrame:
        kind = self.rng.choice(MALFORMED_KINDS)
        payload = frame.payload
        text = True
        if kind == "truncated":
            payload = _cut(payload)
        elif kind == "trailing_comma":
            payload = payload[:-1] + b",}"
        elif kind == "stray_braces":
            payload = payload + b"\n}\n}"
        elif kind == "zoneless_time":
            if b'Z"' in payload:
                payload = payload.replace(b'Z"', b'"')
            else:
                kind, payload = "truncated", _cut(payload)
        elif kind == "not_json":
            payload = b"<html><body><h1>502 Bad Gateway</h1></body></html>"
        elif kind == "binary":
            payload, text = b"\x00\xff\xfe" + payload[:40], False
        else:
            payload = b""
        self.truth.faults[f"malformed_{kind}"] += 1
        return OutFrame(frame.emit, payload, f"malformed_{kind}", text)

    def _unknown(self, emit: float) -> OutFrame:
        uid = vehicle_uid(self.seed, self.rng.randrange(5))
        variant = self.rng.randrange(3)
        if variant == 0:
            body = {"uid": uid, "params": {"type": "geofence", "zone": "Depot", "status": 1}}
        elif variant == 1:
            body = {"uid": uid, "params": {"type": "tacho-status", "state": "driving"}}
        else:
            body = {"params": {"type": "server-notice", "msg": "maintenance at 03:00 UTC"}}
        self.truth.faults["unknown_type"] += 1
        return OutFrame(emit, orjson.dumps(body), "unknown_type")


def _cut(payload: bytes) -> bytes:
    """The first half of a frame, cut on a character boundary (text frames must stay UTF-8,
    or the client's WebSocket library would close the connection instead of passing it on)."""
    return payload[: len(payload) // 2].decode("utf-8", "ignore").encode()
