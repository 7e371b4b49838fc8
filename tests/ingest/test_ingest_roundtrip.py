"""Every frame the server sends lands in the raw lake byte for byte, once, in order."""

from __future__ import annotations

import asyncio
import base64
import json

import pyarrow.parquet as pq

from ingest.service import serve
from lake.layout import DataLayout
from lake.raw_schema import BINARY_PREFIX, RAW_SCHEMA
from lake.storage import list_parquet

RECORDS = json.dumps({
    "uid": 1001,
    "params": {"type": "records", "total": 1, "lastRecord": {
        "tmx": "2022-04-02T09:50:03.574Z", "vid": 826403, "loc": {"lon": -9.01, "lat": 38.57},
    }},
})
TEXT_FRAMES = [
    RECORDS,
    '{"uid":1001,"params":{"type":"pnd-msg","event":{"txt":"Olá, condução às 9h — 🚚 ✓"}}}',
    '{"uid": 1001, "params": {"type": "connection", "status": 1,}}',  # trailing comma
    '{"uid":1001,"params":{"type":"form"}}}}',  # stray closing braces
    "not json at all",
    '{"uid":1001,"params":{"type":"brand-new-type","x":[1,2,3]}}',
    "  {\"spaces\" :  \"kept exactly\" }\n",
    "",
]
BINARY_FRAME = b"\x00\x01\xfe\xffbinary payload"


async def test_frames_round_trip_byte_identical(trackit_server, ingest_config, read_raw, waiter):
    trackit_server.frames = [*TEXT_FRAMES, BINARY_FRAME]
    stop = asyncio.Event()
    task = asyncio.create_task(serve(ingest_config(trackit_server), stop))
    await waiter(lambda: trackit_server.sent_total == len(trackit_server.frames))
    await asyncio.sleep(0.3)
    stop.set()
    summary = await task

    table = read_raw()
    assert table.schema == RAW_SCHEMA
    rows = table.to_pylist()
    frames = [row["frame"] for row in rows]
    # The server's auth reply is kept, first, and the auth command (SESSID) never is.
    assert json.loads(frames[0]) == {"params": {"type": "auth", "success": True}}
    assert frames[1:] == [*TEXT_FRAMES, BINARY_PREFIX + base64.b64encode(BINARY_FRAME).decode()]
    assert all(row["direction"] == "in" for row in rows)
    assert len({row["connection_id"] for row in rows}) == 1
    seqs = [row["seq"] for row in rows]
    assert seqs == list(range(seqs[0], seqs[0] + len(rows)))
    assert summary.frames == len(rows)
    assert not any("SESSID" in frame for frame in frames)


async def test_raw_files_are_hive_partitioned_and_named_by_instance_and_seq(
    trackit_server, ingest_config, tmp_path, waiter
):
    trackit_server.frames = [RECORDS] * 5
    stop = asyncio.Event()
    task = asyncio.create_task(serve(ingest_config(trackit_server, instance="fleet-a"), stop))
    await waiter(lambda: trackit_server.sent_total == 5)
    await asyncio.sleep(0.2)
    stop.set()
    await task

    files = list_parquet(DataLayout(tmp_path / "data").raw)
    assert len(files) == 1
    path = files[0]
    assert path.parent.name.startswith("hour=") and path.parent.parent.name.startswith("date=")
    table = pq.read_table(path)
    first, last = table.column("seq")[0].as_py(), table.column("seq")[-1].as_py()
    assert path.name == f"fleet-a-{first:016d}-{last:016d}.parquet"
    assert not list((tmp_path / "data/state/ingest/fleet-a/journal").glob("*.wal"))
