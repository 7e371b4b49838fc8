"""Outbound commands: queued by the CLI, sent on the live socket, recorded as ``out``."""

from __future__ import annotations

import asyncio
import json

import orjson

from ingest.outbox import Outbox, queue_getio
from ingest.service import serve
from lake.layout import DataLayout
from protocol.messages import driver_message_command, getio_command


async def _cli(cmd: list[str], env: dict[str, str]) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        *cmd, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await asyncio.wait_for(process.communicate(), 30)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def test_driver_message_is_sent_in_the_manuals_shape_and_recorded_as_out(
    trackit_server, ingest_config, read_raw, waiter, trackit_cmd, secret_env, tmp_path
):
    data = tmp_path / "data"
    stop = asyncio.Event()
    task = asyncio.create_task(serve(ingest_config(trackit_server, user_name="Dispatch"), stop))
    await waiter(lambda: len(trackit_server.live) == 1)
    code, out, err = await _cli(
        trackit_cmd("send-message", "--data", str(data), "--uid", "1001",
                    "--text", "Olá — volte à base"),
        secret_env,
    )
    assert code == 0, err
    guid = out.strip()
    assert len(guid) == 25
    await waiter(lambda: len(trackit_server.received) == 1)
    await waiter(lambda: any(Outbox(DataLayout(data)).sent_dir.glob("*.json")))
    stop.set()
    await task

    received = trackit_server.received[0]
    assert json.loads(received) == driver_message_command(
        1001, "Olá — volte à base", 123456, "Dispatch", guid
    )
    out_rows = [row for row in read_raw().to_pylist() if row["direction"] == "out"]
    assert [row["frame"] for row in out_rows] == [received]
    sent = orjson.loads(next(Outbox(DataLayout(data)).sent_dir.glob("*.json")).read_bytes())
    assert sent["id"] == guid and sent["seq"] == out_rows[0]["seq"]
    assert sent["connection_id"] == out_rows[0]["connection_id"]
    assert not any(Outbox(DataLayout(data)).pending_dir.glob("*.json"))


async def test_getio_is_sent_and_a_second_one_is_refused_naming_the_limit(
    trackit_server, ingest_config, waiter, trackit_cmd, secret_env, tmp_path
):
    data = tmp_path / "data"
    stop = asyncio.Event()
    task = asyncio.create_task(serve(ingest_config(trackit_server), stop))
    await waiter(lambda: len(trackit_server.live) == 1)
    code, out, err = await _cli(
        trackit_cmd("getio", "--data", str(data), "--uid", "1001"), secret_env
    )
    assert code == 0, err
    command_id = out.strip()
    await waiter(lambda: len(trackit_server.received) == 1)

    code, out, err = await _cli(
        trackit_cmd("getio", "--data", str(data), "--uid", "1001"), secret_env
    )
    assert code != 0 and out == ""
    assert "getio for uid 1001 refused: rate limit is one getio per 60 s per device" in err
    assert "next one is allowed at" in err

    code, _, err = await _cli(
        trackit_cmd("getio", "--data", str(data), "--uid", "1002"), secret_env
    )
    assert code == 0, err  # the limit is per device
    await waiter(lambda: len(trackit_server.received) == 2)
    stop.set()
    await task
    assert json.loads(trackit_server.received[0]) == getio_command(1001, command_id)


async def test_ingest_refuses_a_getio_that_bypassed_the_cli_limit(
    trackit_server, ingest_config, waiter, tmp_path
):
    layout = DataLayout(tmp_path / "data")
    stop = asyncio.Event()
    task = asyncio.create_task(serve(ingest_config(trackit_server), stop))
    await waiter(lambda: len(trackit_server.live) == 1)
    queue_getio(layout, 7, min_interval_s=0)
    await waiter(lambda: len(trackit_server.received) == 1)
    queue_getio(layout, 7, min_interval_s=0)
    await waiter(lambda: any(Outbox(layout).failed_dir.glob("*.json")))
    stop.set()
    await task
    failed = orjson.loads(next(Outbox(layout).failed_dir.glob("*.json")).read_bytes())
    assert "at most one per 60 s per device" in failed["error"]
    assert len(trackit_server.received) == 1
