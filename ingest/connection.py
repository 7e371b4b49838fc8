"""A websockets client connection that journals data frames the moment they are parsed.

``websockets.asyncio.client.ClientConnection`` normally queues each parsed message for
``recv()``, costing a future and an event-loop round trip per message. Ingest never
interprets frames, so this subclass hands every complete message to a :class:`FrameSink`
from ``process_event`` and flushes the sink at the end of ``data_received``: all frames
parsed from one network read reach the journal in one ``write()`` before the event loop
does anything else, and nothing is left in a user-space queue that ``kill -9`` could lose.
Control frames (ping, pong, close) still go through websockets, which keeps handling
keepalive and the closing handshake. ``recv()`` is not used on this connection.

This relies on ``process_event`` / ``data_received``, which websockets documents as
overridable in subclasses; the version is pinned in ``uv.lock`` and the round-trip tests
exercise it.
"""

from __future__ import annotations

from typing import Any, Protocol

from websockets.asyncio.client import ClientConnection
from websockets.frames import Frame, Opcode
from websockets.protocol import Protocol as WebSocketProtocol

from ingest.journal import RecordKind

_TEXT = Opcode.TEXT
_TEXT_IN = int(RecordKind.TEXT_IN)


class FrameSink(Protocol):
    """Where complete messages go (``ingest.journal.JournalWriter`` is one)."""

    def add(self, kind: int, payload: bytes) -> None: ...

    def flush(self) -> None: ...


class JournalingConnection(ClientConnection):
    """A client connection that feeds complete messages to ``sink`` as they are parsed.

    ``sink`` may be replaced at any time (the service swaps the auth watcher for the
    journal once authenticated). If the sink fails with ``OSError`` (disk full), the
    error is kept in ``sink_error`` and the connection is aborted.
    """

    def __init__(self, protocol: WebSocketProtocol, *, sink: FrameSink, **kwargs: Any) -> None:
        super().__init__(protocol, **kwargs)
        self.sink = sink
        self.sink_error: OSError | None = None
        self._fragments: list[bytes] = []
        self._fragment_kind = RecordKind.TEXT_IN

    def process_event(self, event: Any) -> None:
        if type(event) is Frame:
            opcode = event.opcode
            if opcode is _TEXT and event.fin:
                # The hot path: one complete text message.
                data = event.data
                self.sink.add(_TEXT_IN, data if type(data) is bytes else bytes(data))
                return
            if opcode is Opcode.BINARY or opcode is Opcode.CONT or opcode is _TEXT:
                self._data_frame(event, opcode)
                return
        super().process_event(event)

    def _data_frame(self, frame: Frame, opcode: Opcode) -> None:
        data = frame.data
        if type(data) is not bytes:
            data = bytes(data)
        if opcode is not Opcode.CONT:
            kind = RecordKind.TEXT_IN if opcode is Opcode.TEXT else RecordKind.BINARY_IN
            if frame.fin:
                self.sink.add(kind, data)
                return
            self._fragment_kind = kind
            self._fragments = [data]
            return
        self._fragments.append(data)
        if frame.fin:
            message = b"".join(self._fragments)
            self._fragments = []
            self.sink.add(self._fragment_kind, message)

    def _flush_sink(self) -> None:
        try:
            self.sink.flush()
        except OSError as exc:
            self.sink_error = exc
            if self.transport is not None:
                self.transport.abort()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        self._flush_sink()

    def eof_received(self) -> None:
        super().eof_received()
        self._flush_sink()
