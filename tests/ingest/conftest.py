"""A small TRACKiT-like server on loopback for the ingest tests.

Two real servers: an HTTP endpoint for the manual's ``POST /ws/websocketAuth`` (a plain
asyncio HTTP/1.1 responder, since a websockets server rejects POST) and a websockets
server that checks the ``auth`` command, answers it as the manual shows, then sends the
frames a test scripted and records every frame the client sends.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from websockets.asyncio.server import ServerConnection, serve

from ingest.config import IngestConfig
from ingest.credentials import Credentials
from lake.layout import DataLayout
from lake.raw_schema import RAW_SCHEMA
from lake.storage import list_parquet

SESSID = "tjMzwqGgzNdDEyyswn3vZxFbWG"
AUTHORIZATION = "Bearer s3cr3t-authorization-value"
USER_ID = 123456
REPO_ROOT = Path(__file__).resolve().parents[2]


@dataclass
class FakeTrackit:
    """Scripted behaviour and observations of the fake server."""

    frames: list[str | bytes] = field(default_factory=list)
    drop_after: int | None = None
    """Abort the first connection (no close frame) after sending this many frames."""
    keep_open: bool = True
    send_delay_s: float = 0.0
    received: list[str | bytes] = field(default_factory=list)
    auth_commands: list[dict] = field(default_factory=list)
    http_auth_calls: int = 0
    connections: int = 0
    sent_total: int = 0
    ws_port: int = 0
    http_port: int = 0
    live: set[ServerConnection] = field(default_factory=set)
    on_message: Callable[[ServerConnection, str | bytes], None] | None = None

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.ws_port}"

    @property
    def auth_url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}/ws/websocketAuth"

    async def _handler(self, ws: ServerConnection) -> None:
        self.connections += 1
        number = self.connections
        first = await ws.recv()
        command = json.loads(first)
        self.auth_commands.append(command)
        query = command.get("query", {})
        ok = command.get("type") == "auth" and query.get("SESSID") == SESSID and query.get(
            "user_id"
        ) == USER_ID
        await ws.send(json.dumps({"params": {"type": "auth", "success": ok}}))
        if not ok:
            await ws.close(1008, "auth failed")
            return
        self.live.add(ws)
        reader = asyncio.ensure_future(self._read(ws))
        try:
            frames = self.frames if number == 1 else []
            for index, frame in enumerate(frames):
                if number == 1 and self.drop_after is not None and index == self.drop_after:
                    ws.transport.abort()
                    return
                await ws.send(frame)
                self.sent_total += 1
                if self.send_delay_s:
                    await asyncio.sleep(self.send_delay_s)
            if self.keep_open:
                await ws.wait_closed()
        finally:
            self.live.discard(ws)
            reader.cancel()

    async def _read(self, ws: ServerConnection) -> None:
        with contextlib.suppress(Exception):
            async for message in ws:
                self.received.append(message)
                if self.on_message is not None:
                    self.on_message(ws, message)

    async def _http(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            method, path, _ = lines[0].split(" ", 2)
            headers = {
                k.strip().lower(): v.strip()
                for k, v in (line.split(":", 1) for line in lines[1:] if ":" in line)
            }
            body = await reader.readexactly(int(headers.get("content-length", "0")))
            self.http_auth_calls += 1
            form = parse_qs(body.decode())
            ok = (
                method == "POST"
                and path == "/ws/websocketAuth"
                and headers.get("authorization") == AUTHORIZATION
                and form.get("SESSID") == [SESSID]
            )
            status, reply = ("200 OK", b'{"success": true}') if ok else (
                "401 Unauthorized", b'{"success": false}'
            )
            writer.write(
                f"HTTP/1.1 {status}\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(reply)}\r\nConnection: close\r\n\r\n".encode() + reply
            )
            await writer.drain()
        finally:
            writer.close()


@pytest.fixture
async def trackit_server() -> AsyncIterator[FakeTrackit]:
    """A running fake TRACKiT (HTTP auth + WebSocket) on loopback ports."""
    fake = FakeTrackit()
    http = await asyncio.start_server(fake._http, "127.0.0.1", 0)
    fake.http_port = http.sockets[0].getsockname()[1]
    async with serve(fake._handler, "127.0.0.1", 0, compression=None) as ws_server:
        fake.ws_port = next(iter(ws_server.sockets)).getsockname()[1]
        try:
            yield fake
        finally:
            for ws in list(fake.live):
                ws.transport.abort()
            http.close()


@pytest.fixture
def secret_env() -> dict[str, str]:
    """Environment for a ``trackit ingest`` subprocess with the fake server's secrets."""
    env = dict(os.environ)
    env["TRACKIT_SESSID"] = SESSID
    env["TRACKIT_AUTHORIZATION"] = AUTHORIZATION
    env["PYTHONPATH"] = str(REPO_ROOT)
    return env


@pytest.fixture
def trackit_cmd() -> Callable[..., list[str]]:
    """``python -m trackit ARGS`` with the test's interpreter."""
    return lambda *args: [sys.executable, "-m", "trackit", *args]


@pytest.fixture
def ingest_config(tmp_path: Path) -> Callable[..., IngestConfig]:
    """An in-process ingest configuration for ``server``, with fast test timings."""

    def make(server: FakeTrackit, **overrides: Any) -> IngestConfig:
        settings: dict[str, Any] = {
            "data_dir": tmp_path / "data",
            "user_id": USER_ID,
            "credentials": Credentials(sessid=SESSID, authorization=AUTHORIZATION),
            "url": server.url,
            "auth_url": server.auth_url,
            "status_interval_s": 0,
            "backoff_initial_s": 0.05,
            "backoff_cap_s": 0.2,
            "outbox_poll_s": 0.05,
        }
        settings.update(overrides)
        return IngestConfig(**settings)

    return make


@pytest.fixture
def read_raw(tmp_path: Path) -> Callable[..., pa.Table]:
    """All raw-lake rows under ``tmp_path/data`` (or a given data dir), sorted by seq."""

    def read(data_dir: Path | None = None) -> pa.Table:
        files = list_parquet(DataLayout(data_dir or tmp_path / "data").raw)
        if not files:
            return RAW_SCHEMA.empty_table()
        table = pa.concat_tables(pq.read_table(f, schema=RAW_SCHEMA) for f in files)
        return table.sort_by("seq")

    return read


async def wait_for(condition: Callable[[], bool], timeout_s: float = 10.0) -> None:
    """Poll ``condition`` until it holds; fail the test after ``timeout_s``."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.02)


@pytest.fixture
def waiter() -> Callable[..., Any]:
    """:func:`wait_for` as a fixture (test modules must not import conftest)."""
    return wait_for
