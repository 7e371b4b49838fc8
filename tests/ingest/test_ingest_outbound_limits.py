"""Outbound commands that cannot or must not be sent: refused at ``send-message`` /
``getio`` with one line, refused by the ingest before sending, or refused by the server
(a close with 1009 right after the command) and then shown as rejected in the warehouse."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import orjson
import pytest
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from ingest.config import IngestConfig
from ingest.credentials import Credentials
from ingest.outbox import Outbox, queue_driver_message, queue_getio
from ingest.service import serve as serve_ingest
from lake.ducklake import open_warehouse
from lake.layout import DataLayout
from transforms.pipeline import transform_lake
from warehouse.build import build_warehouse

REPO_ROOT = Path(__file__).resolve().parents[2]
SESSID = "Hh3Jk8Lq2Wz7Xc4Vb9Nm1Pa6S"
AUTHORIZATION = "Token Yu2Io7Pl4Kj9Hg3Fd8Sa1Qw"
USER_ID = 123456


def _trackit(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    env.pop("TRACKIT_DATA", None)
    return subprocess.run([sys.executable, "-m", "trackit", *args], capture_output=True,
                          text=True, env=env, timeout=60)


def _one_error_line(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode != 0 and done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
    return lines[0]


@pytest.fixture
def data(tmp_path: Path) -> Path:
    """A data directory an ingest has run on (its instance folder exists)."""
    (tmp_path / "data" / "state" / "ingest" / "u123456").mkdir(parents=True)
    return tmp_path / "data"


# -- refused at the command line -------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("send-message", "--uid", str(2**63), "--text", "hi"), "between 1 and 2^63-1"),
        (("getio", "--uid", "0"), "between 1 and 2^63-1"),
        (("getio", "--uid", "-5"), "between 1 and 2^63-1"),
        (("getio", "--uid", "1", "--min-interval", "inf"), "finite"),
        (("getio", "--uid", "1", "--min-interval", "nan"), "finite"),
        (("getio", "--uid", "1", "--min-interval", "-1"), "must not be negative"),
        (("send-message", "--uid", "1", "--text", "  \t "), "empty (or only whitespace)"),
        (("send-message", "--uid", "1", "--text", ""), "empty (or only whitespace)"),
        (("send-message", "--uid", "1", "--text", "é" * 2049),
         "4,098 bytes (UTF-8), above the limit of 4,096 bytes"),
        (("send-message", "--uid", "1", "--text", "x" * 11, "--max-text-bytes", "10"),
         "above the limit of 10 bytes"),
        (("send-message", "--uid", "1", "--text", "x", "--max-text-bytes", "0"),
         "--max-text-bytes"),
    ],
)
def test_a_command_that_cannot_be_sent_is_refused_with_one_line(data, args, expected):
    line = _one_error_line(_trackit(args[0], "--data", str(data), *args[1:]))
    assert expected in line
    assert not (data / "state" / "outbox" / "pending").exists()


def test_text_at_the_limit_is_queued(data):
    done = _trackit("send-message", "--data", str(data), "--uid", "1", "--text", "é" * 2048)
    assert done.returncode == 0, done.stderr
    assert len(list((data / "state" / "outbox" / "pending").glob("*.json"))) == 1


@pytest.mark.parametrize("command", [("send-message", "--text", "hi"), ("getio",)])
def test_a_data_directory_without_an_ingest_is_refused_and_not_created(tmp_path, command):
    missing = tmp_path / "typo"
    line = _one_error_line(_trackit(command[0], "--data", str(missing), "--uid", "1",
                                    *command[1:]))
    assert f"no ingest lives in data directory {missing}" in line
    assert "--data / TRACKIT_DATA" in line
    assert not missing.exists()
    # an existing directory where no ingest ever ran is refused too
    missing.mkdir()
    assert "no ingest lives" in _one_error_line(
        _trackit(command[0], "--data", str(missing), "--uid", "1", *command[1:]))
    assert list(missing.iterdir()) == []


def test_a_garbage_getio_ledger_is_rebuilt_with_a_warning_naming_it(data, caplog):
    layout = DataLayout(data)
    ledger = data / "state" / "outbox" / "getio-ledger.json"
    ledger.parent.mkdir(parents=True)
    for garbage in (b"\x00\xffnot json", b"[1, 2]", b'{"1001": "yesterday"}'):
        ledger.write_bytes(garbage)
        with caplog.at_level(logging.WARNING, logger="ingest.outbox"):
            queue_getio(layout, 1001, min_interval_s=0)
        assert f"getio ledger {ledger} is unreadable" in caplog.text
        caplog.clear()
        assert set(orjson.loads(ledger.read_bytes())) == {"1001"}
    # the rebuilt ledger enforces the limit again
    with pytest.raises(Exception, match="rate limit"):
        queue_getio(layout, 1001, min_interval_s=60)


def test_getio_with_a_garbage_ledger_succeeds_from_the_command_line(data):
    ledger = data / "state" / "outbox" / "getio-ledger.json"
    ledger.parent.mkdir(parents=True)
    ledger.write_text("{garbage")
    done = _trackit("getio", "--data", str(data), "--uid", "1001")
    assert done.returncode == 0, done.stderr
    assert f"getio ledger {ledger} is unreadable" in done.stderr
    assert len(done.stdout.strip()) == 25


# -- refused by the ingest before sending -----------------------------------------------


async def test_ingest_refuses_an_oversize_or_blank_command_dropped_by_hand(
    trackit_server, ingest_config, waiter, tmp_path
):
    data = tmp_path / "data"
    layout = DataLayout(data)
    outbox = Outbox(layout)
    huge = queue_driver_message(layout, 1001, "x" * 70_000, max_text_bytes=10**6)
    blank = outbox.pending_dir / "00000000000000000002-BLANK.json"
    blank.write_bytes(orjson.dumps({"id": "BLANK", "kind": "driver_message", "uid": 1001,
                                    "text": "   ", "created_at": ""}))
    too_big_uid = outbox.pending_dir / "00000000000000000003-BIGUID.json"
    too_big_uid.write_bytes(b'{"id": "BIGUID", "kind": "getio", "uid": 99999999999999999999}')
    stop = asyncio.Event()
    task = asyncio.create_task(serve_ingest(ingest_config(trackit_server), stop))
    await waiter(lambda: len(list(outbox.failed_dir.glob("*.json"))) == 3)
    stop.set()
    await task
    errors = {path.name: orjson.loads(path.read_bytes())["error"]
              for path in outbox.failed_dir.glob("*.json")}
    (huge_error,) = [e for name, e in errors.items() if huge.id in name]
    assert "above the ingest's limit of 65,536 bytes; not sent" in huge_error
    assert "empty" in errors[blank.name]
    assert "not a device id" in errors[too_big_uid.name]
    assert trackit_server.received == []


# -- refused by the server: close 1009 right after the command -------------------------


async def _http_ok(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    head = await reader.readuntil(b"\r\n\r\n")
    length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n")
                   if line.lower().startswith(b"content-length:")), 0)
    await reader.readexactly(length)
    writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 16\r\nConnection: close\r\n\r\n"
                 b'{"success":true}')
    await writer.drain()
    writer.close()


async def _small_server(ws: ServerConnection) -> None:
    """Answers the auth command, streams a frame, then reads commands; websockets itself
    closes with 1009 when one is larger than max_size."""
    await ws.recv()
    await ws.send(json.dumps({"params": {"type": "auth", "success": True}}))
    await ws.send(json.dumps({"uid": 1001, "params": {"type": "connection", "status": 1}}))
    with contextlib.suppress(ConnectionClosed):
        async for _ in ws:
            pass


async def test_a_message_the_server_refuses_with_1009_is_failed_and_rejected_in_the_marts(
    tmp_path, waiter
):
    data = tmp_path / "data"
    layout = DataLayout(data)
    http = await asyncio.start_server(_http_ok, "127.0.0.1", 0)
    http_port = http.sockets[0].getsockname()[1]
    async with serve(_small_server, "127.0.0.1", 0, max_size=4096) as ws_server:
        ws_port = next(iter(ws_server.sockets)).getsockname()[1]
        config = IngestConfig(
            data_dir=data, user_id=USER_ID,
            credentials=Credentials(sessid=SESSID, authorization=AUTHORIZATION),
            url=f"ws://127.0.0.1:{ws_port}",
            auth_url=f"http://127.0.0.1:{http_port}/ws/websocketAuth",
            status_interval_s=0, backoff_initial_s=0.05, backoff_cap_s=0.2,
            outbox_poll_s=0.05,
        )
        stop = asyncio.Event()
        task = asyncio.create_task(serve_ingest(config, stop))
        outbox = Outbox(layout)
        await waiter(lambda: (data / "state" / "ingest" / "u123456").exists())
        command = queue_driver_message(layout, 1001, "y" * 10_000, max_text_bytes=20_000)
        await waiter(lambda: len(list(outbox.failed_dir.glob("*.json"))) == 1)
        stop.set()
        await task
    http.close()

    failed = orjson.loads(next(outbox.failed_dir.glob("*.json")).read_bytes())
    assert failed["id"] == command.id
    assert "refused by the server" in failed["error"] and "1009" in failed["error"]
    assert not list(outbox.sent_dir.glob("*.json"))

    transform_lake(data)
    build_warehouse(data)
    con = open_warehouse(data, read_only=True)
    try:
        status, replied_at, connection_id = con.execute(
            "select status, replied_at, connection_id from core.commands where command_id = ?",
            [command.id]).fetchone()
        code, closed_at = con.execute(
            "select code, received_at from core.connection_closes where connection_id = ?",
            [connection_id]).fetchone()
        final_status, error_at, sent_at = con.execute(
            "select final_status, error_at, sent_at from marts.message_latency "
            "where guid = ?", [command.id]).fetchone()
    finally:
        con.close()
    assert (status, code) == ("rejected", 1009)
    assert replied_at == closed_at == error_at
    assert final_status == "rejected" and sent_at <= error_at


# -- close frames in the raw lake --------------------------------------------------------


async def test_a_text_frame_that_looks_like_a_close_record_is_stored_in_base64(
    trackit_server, ingest_config, read_raw, waiter
):
    from ingest.frames import decode_raw_text

    trackit_server.frames = ["close:1009 not really a close", '{"params":{"type":"x"}}']
    stop = asyncio.Event()
    task = asyncio.create_task(serve_ingest(ingest_config(trackit_server), stop))
    await waiter(lambda: trackit_server.sent_total == 2)
    await asyncio.sleep(0.2)
    stop.set()
    await task
    frames = [row["frame"] for row in read_raw().to_pylist()]
    # the auth reply, the two frames; our own clean close adds no close record
    assert len(frames) == 3
    assert frames[1].startswith("base64:")
    assert decode_raw_text(frames[1]) == b"close:1009 not really a close"
    assert not any(frame.startswith("close:") for frame in frames)
