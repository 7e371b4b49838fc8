"""``ingest.connection`` overrides websockets internals: fail loudly when they may change.

``JournalingConnection`` overrides ``process_event``, ``data_received`` and
``eof_received`` of ``websockets.asyncio.connection.Connection``, which websockets lists
under "Private methods" (no compatibility promise). They were written for the version
pinned below; on any other version these tests fail, and whoever upgrades re-reads those
three methods in websockets' source, re-runs the round-trip tests and ``./run bench ingest``
(docs/ingest.md, "How frames reach the journal"), then updates the pin here.
"""

from __future__ import annotations

import inspect

import websockets
from websockets.asyncio.client import ClientConnection
from websockets.asyncio.connection import Connection

from ingest.connection import JournalingConnection

WRITTEN_FOR = "17.4"
OVERRIDDEN = {
    "process_event": ["self", "event"],
    "data_received": ["self", "data"],
    "eof_received": ["self"],
}


def test_websockets_is_the_version_the_override_was_written_for() -> None:
    assert websockets.__version__ == WRITTEN_FOR, (
        f"websockets {websockets.__version__} is installed, ingest.connection was written "
        f"for {WRITTEN_FOR}: re-check the overridden private methods {sorted(OVERRIDDEN)} "
        "against its source, re-run tests/ingest and ./run bench ingest, then move the pin"
    )


def test_the_overridden_methods_exist_with_the_expected_signatures() -> None:
    for name, parameters in OVERRIDDEN.items():
        base = getattr(Connection, name, None)
        assert callable(base), f"websockets' Connection has no {name}() any more"
        assert list(inspect.signature(base).parameters) == parameters, name
        assert name in vars(JournalingConnection), f"{name} is no longer overridden"
        assert getattr(ClientConnection, name) is not getattr(JournalingConnection, name)


def test_every_received_frame_still_goes_through_process_event() -> None:
    """The override sees every frame only if both stream callbacks feed ``process_event``."""
    for name in ("data_received", "eof_received"):
        source = inspect.getsource(getattr(Connection, name))
        assert "self.process_event(event)" in source, name
        assert "self.protocol.events_received()" in source, name


def test_the_base_process_event_is_what_queues_messages_for_recv() -> None:
    """What the override skips for data frames: the queue ``recv()`` reads from."""
    source = inspect.getsource(Connection.process_event)
    assert "self.recv_messages.put(event)" in source
