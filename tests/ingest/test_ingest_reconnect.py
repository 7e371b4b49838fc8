"""The ingest stays connected: it reconnects, re-authenticates and loses nothing."""

from __future__ import annotations

import asyncio
import json
import logging

from ingest.service import serve


async def test_reconnects_after_server_drops_the_connection(
    trackit_server, ingest_config, read_raw, waiter, caplog
):
    frames = [
        json.dumps({"uid": 1, "params": {"type": "connection", "status": i}}) for i in range(6)
    ]
    trackit_server.frames = frames
    trackit_server.drop_after = 3
    stop = asyncio.Event()
    with caplog.at_level(logging.INFO, logger="ingest"):
        task = asyncio.create_task(serve(ingest_config(trackit_server), stop))
        await waiter(lambda: trackit_server.connections >= 2 and len(trackit_server.live) == 1)
        await trackit_server.live.copy().pop().send(frames[5])
        await asyncio.sleep(0.3)
        stop.set()
        summary = await task

    assert summary.reconnects == 1
    assert trackit_server.http_auth_calls == 2
    assert len(trackit_server.auth_commands) == 2  # re-authenticated on the new socket
    lost = [r.getMessage() for r in caplog.records if "lost" in r.getMessage()]
    assert lost and "dropped without a close frame" in lost[0]

    rows = read_raw().to_pylist()
    connections = list(dict.fromkeys(row["connection_id"] for row in rows))
    assert len(connections) == 2
    data = [row["frame"] for row in rows if '"auth"' not in row["frame"]]
    assert data == [*frames[:3], frames[5]]
    seqs = [row["seq"] for row in rows]
    assert seqs == sorted(set(seqs))


async def test_silence_timeout_reconnects(trackit_server, ingest_config, waiter, caplog):
    stop = asyncio.Event()
    with caplog.at_level(logging.WARNING, logger="ingest"):
        task = asyncio.create_task(
            serve(ingest_config(trackit_server, silence_timeout_s=0.3), stop)
        )
        await waiter(lambda: trackit_server.connections >= 2)
        stop.set()
        await task
    assert any("silence timeout" in r.getMessage() for r in caplog.records)
