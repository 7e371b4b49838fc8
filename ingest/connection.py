"""A websockets client connection that journals data frames the moment they are parsed.

``websockets.asyncio.client.ClientConnection`` normally queues each parsed message for
``recv()``, costing a future and an event-loop round trip per message. Ingest never
interprets frames, so this subclass hands every complete message to a :class:`FrameSink`
from ``process_event`` and flushes the sink at the end of ``data_received``: all frames
parsed from one network read reach the journal in one ``write()`` before the event loop
does anything else, and nothing is left in a user-space queue that ``kill -9`` could lose.
Control frames (ping, pong, close) still go through websockets, which keeps handling
keepalive and the closing handshake. ``recv()`` is not used on this connection.

A close frame the server starts the closing handshake with is journaled too (the answer to
our own close is not), as the text ``close:<code> <reason>``
(``lake.raw_schema.CLOSE_PREFIX``; the reason passes through ``lake.redaction``): it is
how the warehouse learns that the server refused a command (1009, message too big). A
text frame that itself starts with that prefix is journaled as binary (stored in base64),
so the two never mix.

This overrides ``process_event``, ``data_received`` and ``eof_received``, which websockets
lists under "Private methods": no compatibility promise. The public alternative
(``recv(decode=False)`` per message, one ``write()`` each) journals under half as many
frames per second (``./run bench ingest`` prints both), so the override stays, written for
the websockets version pinned in ``uv.lock`` and in
``tests/ingest/test_ingest_websockets_contract.py``, which fails on any other version and
when the overridden methods change shape.
"""

from __future__ import annotations

from typing import Any, Protocol

from websockets.asyncio.client import ClientConnection
from websockets.exceptions import WebSocketException
from websockets.frames import Close, Frame, Opcode
from websockets.protocol import Protocol as WebSocketProtocol

from ingest.journal import RecordKind
from lake.raw_schema import CLOSE_PREFIX
from lake.redaction import redact

_TEXT = Opcode.TEXT
_TEXT_IN = int(RecordKind.TEXT_IN)
_BINARY_IN = int(RecordKind.BINARY_IN)
_CLOSE_PREFIX_BYTES = CLOSE_PREFIX.encode()


def close_record(code: int, reason: str) -> bytes:
    """The raw-lake text of a close frame received: ``close:<code>[ <reason>]``."""
    text = f"{CLOSE_PREFIX}{code}" + (f" {redact(reason)}" if reason else "")
    return text.encode()


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
                if type(data) is not bytes:
                    data = bytes(data)
                self.sink.add(_BINARY_IN if data.startswith(_CLOSE_PREFIX_BYTES) else _TEXT_IN,
                              data)
                return
            if opcode is Opcode.BINARY or opcode is Opcode.CONT or opcode is _TEXT:
                self._data_frame(event, opcode)
                return
            if opcode is Opcode.CLOSE:
                self._close_frame(event)
        super().process_event(event)

    def _close_frame(self, frame: Frame) -> None:
        if self.protocol.close_rcvd_then_sent is False:
            return  # the answer to our own close (a clean stop): nothing to learn from it
        try:
            close = Close.parse(frame.data)
        except (WebSocketException, ValueError):
            return  # websockets fails the connection itself
        self.sink.add(_TEXT_IN, close_record(close.code, close.reason))

    def _data_frame(self, frame: Frame, opcode: Opcode) -> None:
        data = frame.data
        if type(data) is not bytes:
            data = bytes(data)
        if opcode is not Opcode.CONT:
            kind = RecordKind.TEXT_IN if opcode is Opcode.TEXT else RecordKind.BINARY_IN
            if frame.fin:
                if kind == RecordKind.TEXT_IN and data.startswith(_CLOSE_PREFIX_BYTES):
                    kind = RecordKind.BINARY_IN
                self.sink.add(kind, data)
                return
            self._fragment_kind = kind
            self._fragments = [data]
            return
        self._fragments.append(data)
        if frame.fin:
            message = b"".join(self._fragments)
            self._fragments = []
            kind = self._fragment_kind
            if kind == RecordKind.TEXT_IN and message.startswith(_CLOSE_PREFIX_BYTES):
                kind = RecordKind.BINARY_IN
            self.sink.add(kind, message)

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
