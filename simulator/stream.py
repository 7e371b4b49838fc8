"""The server's outgoing frames, in simulated-time order: fleet, command replies, faults.

Merges the fleet's endless message stream with the replies the command desk planned and the
frames the fault injector holds back, serialises them once (shared by every client), and
can pre-build frames ahead of time for throughput runs.
"""

from __future__ import annotations

import ctypes
import heapq
import itertools
from collections import deque
from collections.abc import Iterator

from simulator import frames
from simulator.faults import FaultInjector, OutFrame
from simulator.messages import Message, MessageStatusUpdate

PREBUILD_CHUNK = 20_000


def _return_free_memory() -> None:
    """Hand freed heap pages back to the OS (glibc only).

    Building frames ahead frees one short-lived serialisation buffer per frame between
    long-lived objects; glibc keeps those holes resident, so a large pre-build would show
    several times its real size in RSS without this.
    """
    if _LIBC is not None:
        _LIBC.malloc_trim(0)


def _load_libc() -> ctypes.CDLL | None:
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.malloc_trim  # noqa: B018 - probe: only glibc has it
    except (OSError, AttributeError):
        return None
    return libc


_LIBC = _load_libc()


class FrameStream:
    """Frames due by a simulated time, in order; serialised once."""

    def __init__(self, fleet_messages: Iterator[Message], injector: FaultInjector | None) -> None:
        self._fleet = fleet_messages
        self._fleet_head: Message | None = next(self._fleet)
        self._replies: list[tuple[float, int, Message]] = []
        self._reply_seq = itertools.count()
        self._injector = injector
        self._prebuilt: deque[OutFrame] = deque()

    def add_replies(self, messages: list[Message]) -> None:
        """Schedule command replies (each at its own ``emit``)."""
        for message in messages:
            heapq.heappush(self._replies, (message.emit, next(self._reply_seq), message))

    def next_emit(self) -> float:
        """Simulated time of the next frame."""
        candidates = [self._fleet_head.emit if self._fleet_head else float("inf")]
        if self._prebuilt:
            candidates.append(self._prebuilt[0].emit)
        if self._replies:
            candidates.append(self._replies[0][0])
        if self._injector is not None:
            candidates.append(self._injector.next_release())
        return min(candidates)

    def prebuild(self, count: int) -> None:
        """Generate and serialise the next ``count`` fleet frames now, to send later at speed."""
        while count > 0:
            chunk = self._take(float("inf"), min(count, PREBUILD_CHUNK), include_prebuilt=False)
            if not chunk:
                break
            for frame in chunk:
                # Encoding copies the payload into an exact-size buffer; orjson's own output
                # keeps kilobytes of slack, so only the encoded frame is kept.
                frame.wire()
                frame.payload = b""
                self._prebuilt.append(frame)
            count -= len(chunk)
            _return_free_memory()

    def take_until(self, t: float, limit: int) -> list[OutFrame]:
        """Up to ``limit`` frames due at or before simulated time ``t``."""
        return self._take(t, limit, include_prebuilt=True)

    def _take(self, t: float, limit: int, include_prebuilt: bool) -> list[OutFrame]:
        replies, injector, prebuilt = self._replies, self._injector, self._prebuilt
        if not replies and injector is None and not (include_prebuilt and prebuilt):
            return self._take_fleet_only(t, limit)
        out: list[OutFrame] = []
        dumps, type_name = frames.dumps, frames.type_name
        while len(out) < limit:
            head = self._fleet_head
            emit = head.emit if head is not None else float("inf")
            source = 0
            if include_prebuilt and prebuilt and prebuilt[0].emit <= emit:
                emit, source = prebuilt[0].emit, 1
            if replies and replies[0][0] < emit:
                emit, source = replies[0][0], 2
            if injector is not None and injector.next_release() < emit:
                emit, source = injector.next_release(), 3
            if emit > t:
                break
            if source == 1:
                out.append(prebuilt.popleft())
                continue
            if source == 3:
                out.append(injector.release())  # type: ignore[union-attr]
                continue
            if source == 2:
                message = heapq.heappop(replies)[2]
            else:
                message = head  # type: ignore[assignment]
                self._fleet_head = next(self._fleet, None)
            frame = OutFrame(emit, dumps(message), type_name(message))
            if isinstance(message, MessageStatusUpdate):
                frame.meta = (message.message_id, message.txs)
            if injector is None:
                out.append(frame)
            else:
                out.extend(injector.apply(frame))
        return out

    def _take_fleet_only(self, t: float, limit: int) -> list[OutFrame]:
        """``_take`` when only the fleet has frames: the common case, kept tight."""
        out: list[OutFrame] = []
        dumps, type_name, fleet_next = frames.dumps, frames.type_name, self._fleet.__next__
        head = self._fleet_head
        while head is not None and head.emit <= t and len(out) < limit:
            out.append(OutFrame(head.emit, dumps(head), type_name(head)))
            head = fleet_next()
        self._fleet_head = head
        return out
