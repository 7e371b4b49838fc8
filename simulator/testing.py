"""Run a simulator from Python: in the current event loop, or in a background thread.

``start_simulator(config)`` is an async context manager for asyncio code;
``running_simulator(config)`` runs the server in its own thread and event loop, for
synchronous tests and for tests of later stages (ingest, the demo). Both yield a
``RunningSimulator`` with the URLs and credentials a client needs.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import threading
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

from protocol.messages import AUTH_PATH
from simulator.config import SimulatorConfig
from simulator.server import SimulatorServer


@dataclass
class RunningSimulator:
    """Where a running simulator listens and what it accepts."""

    server: SimulatorServer
    host: str
    port: int
    user_id: int
    sessid: str
    authorization: str
    _loop: asyncio.AbstractEventLoop | None = None

    @property
    def ws_url(self) -> str:
        """The WebSocket URL (``ws://host:port``)."""
        return f"ws://{self.host}:{self.port}"

    @property
    def auth_url(self) -> str:
        """The HTTP token-validation URL (``http://host:port/ws/websocketAuth``)."""
        return f"http://{self.host}:{self.port}{AUTH_PATH}"

    def ground_truth(self) -> dict[str, Any]:
        """The ground truth so far (safe to call from any thread)."""
        if self._loop is None:
            return self.server.ground_truth()
        future = asyncio.run_coroutine_threadsafe(_call(self.server.ground_truth), self._loop)
        return future.result(timeout=30)

    def write_ground_truth(self) -> None:
        """Write the ground truth file now (when the config names one)."""
        if self._loop is None:
            self.server.write_ground_truth()
        else:
            asyncio.run_coroutine_threadsafe(
                _call(self.server.write_ground_truth), self._loop).result(timeout=30)


async def _call(function: Any) -> Any:
    return function()


def _describe(server: SimulatorServer, loop: asyncio.AbstractEventLoop | None) -> RunningSimulator:
    credentials = server.config.credentials
    return RunningSimulator(server, server.host, server.port, credentials.user_id,
                            credentials.sessid, credentials.authorization, loop)


@contextlib.asynccontextmanager
async def start_simulator(config: SimulatorConfig | None = None,
                          **overrides: Any) -> AsyncIterator[RunningSimulator]:
    """Serve a simulator in the running event loop for the duration of the block.

    ``overrides`` replace fields of ``config`` (default ``SimulatorConfig(port=0)``: a free
    port), e.g. ``start_simulator(vehicles=5, speedup=600)``.
    """
    config = dataclasses.replace(config or SimulatorConfig(port=0), **overrides)
    server = SimulatorServer(config)
    await server.start()
    try:
        yield _describe(server, None)
    finally:
        await server.stop()


@contextlib.contextmanager
def running_simulator(config: SimulatorConfig | None = None,
                      **overrides: Any) -> Iterator[RunningSimulator]:
    """Serve a simulator from a background thread for the duration of the block."""
    config = dataclasses.replace(config or SimulatorConfig(port=0), **overrides)
    ready = threading.Event()
    holder: dict[str, Any] = {}

    async def main() -> None:
        server = SimulatorServer(config)
        try:
            await server.start()
        except BaseException as exc:
            holder["error"] = exc
            ready.set()
            return
        holder["server"], holder["stop"] = server, asyncio.Event()
        holder["loop"] = asyncio.get_running_loop()
        ready.set()
        await holder["stop"].wait()
        await server.stop()

    thread = threading.Thread(target=asyncio.run, args=(main(),), name="simulator",
                              daemon=True)
    thread.start()
    ready.wait()
    if "error" in holder:
        raise holder["error"]
    loop: asyncio.AbstractEventLoop = holder["loop"]
    try:
        yield _describe(holder["server"], loop)
    finally:
        loop.call_soon_threadsafe(holder["stop"].set)
        thread.join(timeout=30)
