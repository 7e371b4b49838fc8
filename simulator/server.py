"""The thin asyncio server around the fleet: HTTP auth and the WebSocket on one port.

One listening socket serves both sides of the manual's handshake. A connection whose first
bytes are not ``GET `` is answered as plain HTTP (``POST /ws/websocketAuth``) before
websockets' parser sees it (that parser accepts only GET); everything else is a WebSocket
whose first message must be the ``auth`` command. Authenticated clients share one frame
stream, paced by the simulated clock, written in batches through websockets' Sans-I/O
protocol so one process can feed tens of thousands of frames per second.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import math
import time
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

import orjson
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.protocol import State

from lake.redaction import register_secret
from protocol.messages import CommandType, InboundType
from simulator.clock import SimClock
from simulator.commands import BadCommand, CommandDesk, auth_accepted, parse_command
from simulator.config import SimulatorConfig
from simulator.faults import FaultInjector, OutFrame
from simulator.fleet import Fleet, check_deadline
from simulator.ground_truth import GroundTruth
from simulator.http_auth import BadRequest, HttpRequest, auth_response, response
from simulator.stream import PREBUILD_CHUNK, FrameStream
from simulator.timefmt import iso_utc

logger = logging.getLogger("simulator")

AUTH_OK = orjson.dumps({"params": {"type": InboundType.AUTH.value, "success": True}})
AUTH_FAILED = orjson.dumps({"params": {"type": InboundType.AUTH.value, "success": False}})
AUTH_TIMEOUT_S = 30.0
BATCH_FRAMES = 2000
IDLE_TICK_S = 0.05


class TrackitConnection(ServerConnection):
    """A websockets server connection that also answers plain HTTP requests.

    websockets' handshake parser rejects anything but GET before ``process_request`` runs,
    so the first bytes are sniffed here: a request that doesn't start with ``GET `` is
    buffered, answered by ``simulator.http_auth`` and closed; the waiting handshake then
    sees the connection lost and ends quietly.
    """

    def __init__(self, *args: Any, simulator: SimulatorServer, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.simulator = simulator
        self._sniffed: bytes | None = b""
        self._http = False

    def data_received(self, data: bytes) -> None:
        if self._sniffed is None:
            super().data_received(data)
            return
        self._sniffed += data
        if not self._http:
            if len(self._sniffed) < 4 and b"GET ".startswith(self._sniffed):
                return
            if self._sniffed.startswith(b"GET "):
                buffered, self._sniffed = self._sniffed, None
                super().data_received(buffered)
                return
            self._http = True
        self._answer_http()

    def _answer_http(self) -> None:
        assert self._sniffed is not None
        try:
            needed = HttpRequest.needed_bytes(self._sniffed)
            if needed is None or len(self._sniffed) < needed:
                return
            request = HttpRequest.parse(self._sniffed[:needed])
        except BadRequest as exc:
            reply = response(HTTPStatus.BAD_REQUEST, {"success": False, "error": str(exc)})
        else:
            reply = auth_response(request, self.simulator.config.credentials,
                                  refuse=self.simulator.refuse_next_auth("http"))
            logger.info("HTTP %s %s -> %s", request.method, request.path,
                        reply.split(b" ", 2)[1].decode())
        self._sniffed = b""
        self.transport.write(reply)
        self.transport.close()


@dataclass(eq=False)
class _Client:
    conn: ServerConnection
    number: int
    authenticated_at: float = field(default_factory=time.monotonic)


class SimulatorServer:
    """A TRACKiT-compatible server for one simulated fleet.

    ``await start()`` binds and serves; ``host``/``port`` then tell where; ``await stop()``
    closes everything and writes the ground truth. ``ground_truth()`` is the truth so far.
    Building the fleet and pre-building frames (in ``__init__`` and ``start``) raise
    ``simulator.fleet.DeadlinePassed`` once ``deadline`` (a ``time.monotonic()`` value)
    has passed.
    """

    def __init__(self, config: SimulatorConfig, deadline: float | None = None) -> None:
        self.config = config
        # websockets' debug log shows the auth frames it receives: mask the accepted secrets.
        register_secret(config.credentials.sessid)
        register_secret(config.credentials.authorization)
        self.deadline = deadline
        start = config.start_time()
        self.truth = GroundTruth(config.seed, start)
        self.fleet = Fleet(config.vehicles, config.seed, start, self.truth, deadline)
        self.clock = SimClock(start, config.speedup)
        injector = (FaultInjector(config.faults, config.seed, self.truth)
                    if config.faults.any_stream_fault else None)
        self.stream = FrameStream(self.fleet.messages(), injector)
        self.desk = CommandDesk(self.fleet, config.delays, self.truth, config.seed)
        self.clients: set[_Client] = set()
        self._wake = asyncio.Event()
        self._auth_attempts = {"http": 0, "socket": 0}
        self._server: Server | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._connections = 0
        self.host = config.host
        self.port = config.port

    # Life cycle -------------------------------------------------------------------------

    async def start(self) -> None:
        """Pre-build frames if asked, bind the port and start serving."""
        if self.config.prebuild_frames:
            started = time.perf_counter()
            remaining = self.config.prebuild_frames
            while remaining > 0:
                check_deadline(self.deadline)
                self.stream.prebuild(min(remaining, PREBUILD_CHUNK))
                remaining -= PREBUILD_CHUNK
            logger.info("pre-built %d frames in %.1f s", self.config.prebuild_frames,
                        time.perf_counter() - started)
        self._server = await serve(
            self._session, self.config.host, self.config.port,
            create_connection=functools.partial(TrackitConnection, simulator=self),
            compression=None, max_queue=64, write_limit=2**20, close_timeout=2,
        )
        sockname = self._server.sockets[0].getsockname()
        self.host, self.port = sockname[0], sockname[1]
        self._tasks.append(asyncio.create_task(self._pump(), name="simulator-pump"))
        if self.config.ground_truth_path is not None:
            self._tasks.append(asyncio.create_task(self._write_truth_periodically(),
                                                   name="simulator-ground-truth"))
        for task in self._tasks:
            task.add_done_callback(_report_crash)

    async def stop(self) -> None:
        """Stop serving, close every connection and write the final ground truth."""
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        self.write_ground_truth()

    def ground_truth(self) -> dict[str, Any]:
        """What happened up to the current simulated time (see ``GroundTruth.snapshot``)."""
        return self.truth.snapshot(self.clock.now())

    def write_ground_truth(self) -> None:
        """Write the ground truth file now (when one was configured)."""
        if self.config.ground_truth_path is not None:
            self.truth.write(self.config.ground_truth_path, self.clock.now())

    async def _write_truth_periodically(self) -> None:
        while True:
            await asyncio.sleep(self.config.ground_truth_every_s)
            self.write_ground_truth()

    # Authentication ---------------------------------------------------------------------

    def refuse_next_auth(self, side: str) -> bool:
        """Whether the refuse-auth fault refuses this attempt (``side``: http or socket)."""
        self._auth_attempts[side] += 1
        limit = self.config.faults.refuse_auth
        refused = limit < 0 or self._auth_attempts[side] <= limit
        if refused:
            self.truth.faults[f"refused_auth_{side}"] += 1
        return refused

    async def _session(self, conn: ServerConnection) -> None:
        self._connections += 1
        number = self._connections
        try:
            first = await asyncio.wait_for(conn.recv(), AUTH_TIMEOUT_S)
            command = parse_command(first)
        except (TimeoutError, BadCommand):
            await conn.close(1008, "authenticate first")
            return
        except ConnectionClosed:
            return
        if command["type"] != CommandType.AUTH:
            await conn.close(1008, "authenticate first")
            return
        refused = self.refuse_next_auth("socket")
        if refused or not auth_accepted(command, self.config.credentials):
            self.truth.connections["auth_refused"] += 1
            logger.info("connection %d: auth refused", number)
            with contextlib.suppress(ConnectionClosed):
                await conn.send(AUTH_FAILED, text=True)
                await conn.close(1008, "authentication failed")
            return
        await conn.send(AUTH_OK, text=True)
        client = _Client(conn, number)
        self.clients.add(client)
        self.truth.connections["authenticated"] += 1
        logger.info("connection %d: authenticated", number)
        self.clock.resume()
        self._wake.set()
        dropper = None
        if self.config.faults.drop_every_s:
            dropper = asyncio.create_task(self._drop_later(client))
        try:
            async for text in conn:
                self._on_command(client, text)
        except ConnectionClosed:
            pass
        finally:
            if dropper is not None:
                dropper.cancel()
            self._forget(client)

    def _forget(self, client: _Client) -> None:
        if client in self.clients:
            self.clients.discard(client)
            if not self.clients:
                self.clock.pause()

    # Commands ---------------------------------------------------------------------------

    def _on_command(self, client: _Client, text: str | bytes) -> None:
        try:
            command = parse_command(text)
            if command["type"] == CommandType.AUTH:
                logger.info("connection %d: ignoring a second auth", client.number)
                return
            replies = self.desk.handle(command, self.clock.now())
        except BadCommand as exc:
            self.truth.connections["bad_commands"] += 1
            logger.warning("connection %d: ignoring a command: %s", client.number, exc)
            return
        self.truth.connections[f"commands_{command['type']}"] += 1
        self.stream.add_replies(replies)
        self._wake.set()

    # Faults on the connection -----------------------------------------------------------

    async def _drop_later(self, client: _Client) -> None:
        assert self.config.faults.drop_every_s is not None
        await asyncio.sleep(self.config.faults.drop_every_s)
        self._forget(client)
        transport = client.conn.transport
        deadline = time.monotonic() + 5.0
        while transport.get_write_buffer_size() and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        self.truth.faults["connection_dropped"] += 1
        logger.info("connection %d: dropped (fault)", client.number)
        transport.close()

    # Sending ----------------------------------------------------------------------------

    async def _pump(self) -> None:
        clock, stream = self.clock, self.stream
        max_speed = math.isinf(self.config.speedup)
        while True:
            if not self.clients:
                self._wake.clear()
                await self._wake.wait()
                continue
            if max_speed:
                batch = stream.take_until(math.inf, BATCH_FRAMES)
                if batch:
                    clock.advance_to(batch[-1].emit)
            else:
                batch = stream.take_until(clock.now(), BATCH_FRAMES)
            if batch:
                await self._broadcast(batch)
                await asyncio.sleep(0)  # let commands and new clients in between batches
                continue
            self._wake.clear()
            delay = min(IDLE_TICK_S, clock.wall_seconds_until(stream.next_emit()))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), delay)

    async def _broadcast(self, batch: list[OutFrame]) -> None:
        limit = self.config.faults.slow_consumer_bytes
        for client in list(self.clients):
            conn = client.conn
            if conn.protocol.state is not State.OPEN:
                self._forget(client)
                continue
            try:
                if limit is None:
                    async with conn.send_context():
                        _write(conn, batch)
                else:
                    _write(conn, batch)
                    conn.send_data()
                    if conn.transport.get_write_buffer_size() > limit:
                        self._forget(client)
                        self.truth.faults["slow_consumer_dropped"] += 1
                        logger.info("connection %d: dropped as a slow consumer", client.number)
                        conn.transport.abort()
            except ConnectionClosed:
                self._forget(client)
        self._count(batch)

    def _count(self, batch: list[OutFrame]) -> None:
        sent = self.truth.frames_sent
        for frame in batch:
            sent[frame.kind] += 1
            if frame.meta is not None:
                message = self.truth.sent_messages.get(frame.meta[0])
                if message is not None:
                    message["statuses_wall"][str(frame.meta[1])] = iso_utc(time.time())


def _write(conn: ServerConnection, batch: list[OutFrame]) -> None:
    # One write per batch; safe beside websockets' own writes (pings, close) because both
    # only ever append whole frames to the same transport, in the event loop's order.
    conn.transport.write(b"".join([frame.wire() for frame in batch]))


def _report_crash(task: asyncio.Task[None]) -> None:
    """Log a background task that died, so a stalled simulator says why."""
    if not task.cancelled() and task.exception() is not None:
        logger.error("%s crashed; the simulator stopped sending", task.get_name(),
                     exc_info=task.exception())
