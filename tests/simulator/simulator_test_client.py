"""A plain client of the TRACKiT protocol for the simulator's tests (not the project's ingest).

HTTP with urllib, the socket with websockets, commands built by ``protocol.messages``.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from typing import Any

import websockets
from websockets.asyncio.client import ClientConnection

from protocol.messages import auth_command
from simulator import frames
from simulator.fleet import Fleet

START = 1_700_000_000.0


def post_auth(url: str, sessid: str, authorization: str,
              encoding: str = "multipart") -> tuple[int, dict[str, Any]]:
    """POST the token check the way the manual's example does; (status, JSON body)."""
    if encoding == "multipart":
        boundary = uuid.uuid4().hex
        body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"SESSID\"\r\n\r\n"
                f"{sessid}\r\n--{boundary}--\r\n").encode()
        ctype = f"multipart/form-data; boundary={boundary}"
    else:
        body = urllib.parse.urlencode({"SESSID": sessid}).encode()
        ctype = "application/x-www-form-urlencoded"
    request = urllib.request.Request(
        url, data=body, method="POST",
        headers={"Authorization": authorization, "Content-Type": ctype})
    try:
        with urllib.request.urlopen(request, timeout=10) as reply:
            return reply.status, json.loads(reply.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


async def connect(ws_url: str, user_id: int, sessid: str) -> tuple[ClientConnection, dict]:
    """Open the socket and send ``auth``; returns the connection and the auth reply."""
    # close_timeout: at max speed megabytes are in flight and a polite close waits behind them.
    ws = await websockets.connect(ws_url, max_size=None, compression=None, close_timeout=0.5)
    await ws.send(json.dumps(auth_command(user_id, sessid)))
    reply = json.loads(await asyncio.wait_for(ws.recv(), 10))
    return ws, reply


async def receive(ws: ClientConnection, count: int | None = None,
                  seconds: float = 10.0) -> list[str | bytes]:
    """Frames received until ``count`` of them or ``seconds`` elapse (or the socket closes)."""
    frames: list[str | bytes] = []
    deadline = time.monotonic() + seconds
    while count is None or len(frames) < count:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        try:
            frames.append(await asyncio.wait_for(ws.recv(), remaining))
        except (TimeoutError, websockets.ConnectionClosed):
            break
    return frames


def kind(frame: dict[str, Any]) -> str:
    """``params.type``, with the sub-type for events (``event/io``)."""
    params = frame["params"]
    if params["type"] == "event":
        return f"event/{params['sub-type']}"
    return params["type"]


async def receive_until(ws: ClientConnection, done: Any, seconds: float = 30.0) -> list[dict]:
    """Parsed frames until ``done(frame)`` is true for one (included) or ``seconds`` elapse."""
    frames: list[dict] = []
    deadline = time.monotonic() + seconds
    while (remaining := deadline - time.monotonic()) > 0:
        try:
            frame = json.loads(await asyncio.wait_for(ws.recv(), remaining))
        except (TimeoutError, websockets.ConnectionClosed):
            break
        frames.append(frame)
        if done(frame):
            break
    return frames


def fleet_frames(seed: int, vehicles: int, count: int, start: float = START) -> list[bytes]:
    """The first ``count`` fleet frames, straight from the pure model (no server)."""
    return [frames.dumps(m) for m in itertools.islice(
        Fleet(vehicles, seed, start).messages(), count)]
