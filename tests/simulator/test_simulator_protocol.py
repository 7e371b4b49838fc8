"""The simulator speaks the manual's protocol to a plain websockets client."""

from __future__ import annotations

import asyncio
import json

import pytest
from simulator_test_client import (
    START,
    connect,
    fleet_frames,
    kind,
    post_auth,
    receive,
    receive_until,
)
from websockets.exceptions import ConnectionClosed

from protocol.messages import driver_message_command, getio_command
from simulator import start_simulator
from simulator.ids import vehicle_uid

MANUAL_TYPES = {
    "records", "event/io", "event/event", "connection", "cmd-status", "cmd-parsed",
    "pnd-connection", "pnd-msg", "pnd-msg-prd", "form", "msg-sts", "service-generic",
}


@pytest.mark.parametrize("encoding", ["multipart", "urlencoded"])
async def test_http_token_check_accepts_the_right_credentials(encoding: str) -> None:
    async with start_simulator(vehicles=1, start=START) as sim:
        status, body = await asyncio.to_thread(post_auth, sim.auth_url, sim.sessid,
                                               sim.authorization, encoding)
        assert (status, body) == (200, {"success": True})


async def test_http_token_check_answers_401_to_wrong_credentials() -> None:
    async with start_simulator(vehicles=1, start=START) as sim:
        wrong_header = await asyncio.to_thread(post_auth, sim.auth_url, sim.sessid, "nope")
        wrong_sessid = await asyncio.to_thread(post_auth, sim.auth_url, "x" * 26,
                                               sim.authorization)
        assert wrong_header[0] == wrong_sessid[0] == 401
        assert wrong_header[1]["success"] is False


async def test_http_request_split_across_packets_is_understood() -> None:
    async with start_simulator(vehicles=1, start=START) as sim:
        reader, writer = await asyncio.open_connection(sim.host, sim.port)
        body = f"SESSID={sim.sessid}".encode()
        request = (f"POST /ws/websocketAuth HTTP/1.1\r\nHost: x\r\n"
                   f"Authorization: {sim.authorization}\r\n"
                   "Content-Type: application/x-www-form-urlencoded\r\n"
                   f"Content-Length: {len(body)}\r\n\r\n").encode() + body
        for piece in (request[:2], request[2:30], request[30:]):
            writer.write(piece)
            await writer.drain()
            await asyncio.sleep(0.05)
        reply = await asyncio.wait_for(reader.read(), 5)
        writer.close()
        assert reply.startswith(b"HTTP/1.1 200 OK")
        assert reply.endswith(b'{"success":true}')


async def test_socket_auth_succeeds_with_user_id_and_sessid() -> None:
    async with start_simulator(vehicles=1, start=START) as sim:
        ws, reply = await connect(sim.ws_url, sim.user_id, sim.sessid)
        await ws.close()
        assert reply == {"params": {"type": "auth", "success": True}}


@pytest.mark.parametrize("wrong", ["user_id", "sessid"])
async def test_socket_auth_with_wrong_credentials_fails_then_closes(wrong: str) -> None:
    async with start_simulator(vehicles=1, start=START) as sim:
        user_id = sim.user_id + 1 if wrong == "user_id" else sim.user_id
        sessid = "WRONG" if wrong == "sessid" else sim.sessid
        ws, reply = await connect(sim.ws_url, user_id, sessid)
        assert reply == {"params": {"type": "auth", "success": False}}
        with pytest.raises(ConnectionClosed):
            await asyncio.wait_for(ws.recv(), 5)
        assert ws.close_code == 1008


async def test_commands_before_auth_close_the_socket() -> None:
    async with start_simulator(vehicles=1, start=START) as sim:
        import websockets

        async with websockets.connect(sim.ws_url) as ws:
            await ws.send(json.dumps(getio_command(1001, "A" * 25)))
            with pytest.raises(ConnectionClosed):
                await asyncio.wait_for(ws.recv(), 5)
            assert ws.close_code == 1008


UIDS_SEED_3 = [vehicle_uid(3, index) for index in range(5)]


async def test_client_receives_every_message_type_and_command_replies_in_order() -> None:
    async with start_simulator(vehicles=12, speedup=float("inf"), start=START,
                               seed=3) as sim:
        ws, _ = await connect(sim.ws_url, sim.user_id, sim.sessid)
        for uid in UIDS_SEED_3:  # a device may be silent right now: ask several
            await ws.send(json.dumps(getio_command(uid, f"GETIO{uid:020d}")))
        await ws.send(json.dumps(driver_message_command(
            UIDS_SEED_3[1], "Please call the office", sim.user_id, "John Doe",
            "GUID00000000000000000001")))
        seen: set[str] = set()
        statuses_done = False

        def done(frame: dict) -> bool:
            nonlocal statuses_done
            seen.add(kind(frame))
            if frame["params"]["type"] == "msg-sts" and frame["params"]["txs"] in (2, 4):
                statuses_done = True
            return statuses_done and seen >= MANUAL_TYPES

        frames = await receive_until(ws, done, seconds=60)
        frames += [json.loads(f) for f in await receive(ws, count=20_000, seconds=3)]
        await ws.close()
    assert seen >= MANUAL_TYPES, MANUAL_TYPES - seen

    answered = 0
    for uid in UIDS_SEED_3:
        replies = [f["params"] for f in frames
                   if f["uid"] == uid and f["params"]["type"] in {"cmd-status", "cmd-parsed"}]
        assert replies[0] == {"type": "cmd-status", "id": f"GETIO{uid:020d}",
                              "status": replies[0]["status"]}
        if replies[0]["status"]:
            answered += 1
            assert [r["type"] for r in replies] == ["cmd-status", "cmd-parsed"]
            assert replies[1]["sub-type"] == "getio"
            assert all(set(io) == {"tio", "tlv", "hid", "tmx"}
                       for io in replies[1]["cmd"].values())
        else:
            assert len(replies) == 1  # a silent device: no cmd-parsed
    assert answered >= 1

    statuses = [f["params"] for f in frames if f["params"]["type"] == "msg-sts"]
    first = statuses[0]
    assert first["txs"] == 0
    assert first["content"] == {"type": "msg", "content": {
        "txt": "Please call the office", "user_id": sim.user_id, "user_name": "John Doe",
        "guid": "GUID00000000000000000001"}}
    assert len(first["id"]) == 24
    assert {s["id"] for s in statuses} == {first["id"]}
    codes = [s["txs"] for s in statuses]
    assert codes[:4] in ([0, 1, 3, 4], [0, 1, 2]) and codes[4:] in ([], [5])
    assert all("content" not in s for s in statuses[1:])


async def test_getio_on_an_unknown_device_fails_without_cmd_parsed() -> None:
    async with start_simulator(vehicles=2, speedup=float("inf"), start=START) as sim:
        ws, _ = await connect(sim.ws_url, sim.user_id, sim.sessid)
        await ws.send(json.dumps(getio_command(9999, "NOSUCHDEVICE0000000000000")))
        frames = await receive_until(ws, lambda f: f["uid"] == 9999)
        frames += [json.loads(f) for f in await receive(ws, count=3000, seconds=10)]
        await ws.close()
    replies = [f for f in frames if f["uid"] == 9999]
    assert [f["params"] for f in replies] == [
        {"type": "cmd-status", "id": "NOSUCHDEVICE0000000000000", "status": False}]


async def test_records_frames_have_the_manuals_shape() -> None:
    async with start_simulator(vehicles=3, speedup=float("inf"), start=START) as sim:
        ws, _ = await connect(sim.ws_url, sim.user_id, sim.sessid)
        frames = [json.loads(f) for f in await receive(ws, count=2000, seconds=20)]
        await ws.close()
    record = next(f for f in frames if kind(f) == "records" and "eco" in
                  f["params"]["lastRecord"]["exd"])
    assert list(record) == ["uid", "params"]
    assert list(record["params"]) == ["type", "total", "lastRecord"]
    last = record["params"]["lastRecord"]
    assert list(last) == ["tmx", "vid", "dmx", "loc", "gsp", "hdg", "gkm", "cas", "exd"]
    assert list(last["loc"]) == ["lon", "lat"]
    assert last["tmx"].endswith("Z") and len(last["tmx"]) == 24
    service = next(f for f in frames if kind(f) == "service-generic")["params"]["event"]
    assert list(service["loc"]) == ["lat", "lng"] and service["gkm"] == -1
    assert not service["exd"]["evt"]["tmx"].endswith("Z")
    io = next(f for f in frames if kind(f) == "event/io")["params"]
    assert set(io["record"]["exd"]["tlm"]) == {"tio", "tlv"}
    assert io["event"]["hid"] == io["record"]["_id"]
    assert io["event"]["lng"] == io["record"]["loc"]["lon"]


async def test_every_authenticated_client_gets_the_same_frames() -> None:
    async with start_simulator(vehicles=3, speedup=6000, start=START, seed=2) as sim:
        first, _ = await connect(sim.ws_url, sim.user_id, sim.sessid)
        await asyncio.sleep(0.3)
        second, _ = await connect(sim.ws_url, sim.user_id, sim.sessid)
        a, b = await asyncio.gather(receive(first, seconds=2.0), receive(second, seconds=1.5))
        await first.close()
        await second.close()
    # The second client joined later: it gets the same stream from where it joined.
    fleet = [f.decode() for f in fleet_frames(2, 3, len(a) + 100)]
    assert len(b) > 50
    assert a == fleet[: len(a)]
    joined = fleet.index(b[0])
    assert joined > 0 and b == fleet[joined: joined + len(b)]


async def test_speedup_runs_simulated_time_that_much_faster() -> None:
    async with start_simulator(vehicles=2, speedup=600, start=START) as sim:
        ws, _ = await connect(sim.ws_url, sim.user_id, sim.sessid)
        started = asyncio.get_running_loop().time()
        await receive(ws, seconds=2.0)
        elapsed = asyncio.get_running_loop().time() - started
        simulated = sim.server.clock.now() - START
        await ws.close()
    assert 0.8 * 600 * elapsed <= simulated <= 1.2 * 600 * elapsed + 60


async def test_simulated_time_stands_still_while_nobody_listens() -> None:
    async with start_simulator(vehicles=2, speedup=600, start=START) as sim:
        await asyncio.sleep(0.5)
        assert sim.server.clock.now() == START
        ws, _ = await connect(sim.ws_url, sim.user_id, sim.sessid)
        await receive(ws, seconds=0.5)
        await ws.close()
        await asyncio.sleep(0.2)
        paused_at = sim.server.clock.now()
        await asyncio.sleep(0.5)
        assert sim.server.clock.now() == paused_at > START
