"""Each fault flag does what it says, and none of them loses fleet data."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
from typing import Any

from simulator_test_client import START, connect, fleet_frames, kind, post_auth, receive
from websockets.exceptions import ConnectionClosed

from protocol.messages import InboundType
from simulator import Faults, start_simulator

SEED, VEHICLES = 21, 4
MAX = float("inf")


def split_fleet_and_extras(received: list[str | bytes],
                           expected: list[bytes]) -> tuple[int, list[str | bytes]]:
    """How many of the fleet frames came, in order, and the frames that were extra."""
    position, extras = 0, []
    for frame in received:
        payload = frame.encode() if isinstance(frame, str) else frame
        if position < len(expected) and payload == expected[position]:
            position += 1
        else:
            extras.append(frame)
    return position, extras


def parse(frame: str | bytes) -> dict[str, Any] | None:
    if isinstance(frame, bytes):
        return None
    try:
        return json.loads(frame)
    except ValueError:
        return None


async def run_with(faults: Faults, count: int) -> tuple[list[str | bytes], dict[str, Any]]:
    async with start_simulator(vehicles=VEHICLES, seed=SEED, start=START, speedup=MAX,
                               faults=faults) as sim:
        ws, _ = await connect(sim.ws_url, sim.user_id, sim.sessid)
        received = await receive(ws, count=count, seconds=30)
        await ws.close()
        return received, sim.ground_truth()


async def test_connection_drops_lose_and_repeat_nothing() -> None:
    async with start_simulator(vehicles=VEHICLES, seed=SEED, start=START, speedup=MAX,
                               faults=Faults(drop_every_s=0.4)) as sim:
        received: list[str | bytes] = []
        for _ in range(3):
            ws, reply = await connect(sim.ws_url, sim.user_id, sim.sessid)
            assert reply["params"]["success"] is True
            received += await receive(ws, seconds=15)
            assert ws.close_code == 1006  # dropped without a close frame
            assert ws.protocol.close_rcvd is None
        truth = sim.ground_truth()
    assert truth["faults_injected"]["connection_dropped"] == 3
    expected = fleet_frames(SEED, VEHICLES, len(received))
    assert [f.encode() for f in received] == expected


async def test_malformed_frames_are_added_next_to_the_real_ones() -> None:
    received, truth = await run_with(Faults(malformed_rate=0.3), 3000)
    count, extras = split_fleet_and_extras(received, fleet_frames(SEED, VEHICLES, 3000))
    assert count >= 2000
    assert extras
    unparseable = [f for f in extras if parse(f) is None]
    assert any(isinstance(f, bytes) for f in extras)
    assert any(isinstance(f, str) and f.startswith("<html>") for f in extras)
    assert len(unparseable) >= len(extras) // 2
    injected = {k for k in truth["faults_injected"] if k.startswith("malformed_")}
    assert len(injected) >= 6


async def test_duplicated_frames_repeat_a_frame_verbatim() -> None:
    received, truth = await run_with(Faults(duplicate_rate=0.1), 2000)
    _, extras = split_fleet_and_extras(received, fleet_frames(SEED, VEHICLES, 2000))
    assert extras
    repeats = sum(1 for a, b in itertools.pairwise(received) if a == b)
    assert repeats >= len(extras)
    assert truth["faults_injected"]["duplicated"] >= len(extras)


async def test_unknown_message_types_are_added() -> None:
    received, truth = await run_with(Faults(unknown_rate=0.1), 2000)
    _, extras = split_fleet_and_extras(received, fleet_frames(SEED, VEHICLES, 2000))
    known = {t.value for t in InboundType}
    types = {json.loads(f)["params"]["type"] for f in extras}
    assert types and not types & known
    assert truth["faults_injected"]["unknown_type"] >= len(extras)


async def test_late_and_out_of_order_batches_arrive_with_old_records() -> None:
    received, truth = await run_with(Faults(late_rate=0.05, late_hours=1.0,
                                            reorder_rate=0.05), 6000)
    newest: dict[int, str] = {}
    newest_overall = ""
    late = out_of_order = 0
    for frame in map(json.loads, received):
        if kind(frame) != "records":
            continue
        record = frame["params"]["lastRecord"]
        if record["tmx"] < newest.get(record["vid"], ""):
            out_of_order += 1
        if newest_overall and _hours_between(record["tmx"], newest_overall) >= 0.8:
            late += 1
        newest[record["vid"]] = max(newest.get(record["vid"], ""), record["tmx"])
        newest_overall = max(newest_overall, record["tmx"])
    assert out_of_order > 0
    assert late > 0
    assert truth["faults_injected"]["late"] > 0
    assert truth["faults_injected"]["reordered"] > 0
    fleet = set(fleet_frames(SEED, VEHICLES, 12000))
    assert all(f.encode() in fleet for f in received)


def _hours_between(older: str, newer: str) -> float:
    from simulator.timefmt import parse_iso

    return (parse_iso(newer) - parse_iso(older)) / 3600


async def test_slow_consumer_is_dropped_when_its_queue_overflows() -> None:
    async with start_simulator(vehicles=VEHICLES, seed=SEED, start=START, speedup=MAX,
                               faults=Faults(slow_consumer_bytes=100_000)) as sim:
        ws, _ = await connect(sim.ws_url, sim.user_id, sim.sessid)
        await asyncio.sleep(2.0)  # a consumer that doesn't read
        await receive(ws, seconds=15)
        assert ws.protocol.close_rcvd is None
        truth = sim.ground_truth()
    assert truth["faults_injected"]["slow_consumer_dropped"] == 1


async def test_without_the_fault_a_slow_consumer_is_waited_for() -> None:
    async with start_simulator(vehicles=VEHICLES, seed=SEED, start=START, speedup=MAX) as sim:
        ws, _ = await connect(sim.ws_url, sim.user_id, sim.sessid)
        await asyncio.sleep(1.0)
        received = await receive(ws, count=5000, seconds=20)
        await ws.close()
    assert [f.encode() for f in received] == fleet_frames(SEED, VEHICLES, 5000)


async def test_refuse_auth_refuses_the_first_attempts_then_accepts() -> None:
    async with start_simulator(vehicles=1, start=START, faults=Faults(refuse_auth=1)) as sim:
        first = await asyncio.to_thread(post_auth, sim.auth_url, sim.sessid, sim.authorization)
        second = await asyncio.to_thread(post_auth, sim.auth_url, sim.sessid,
                                         sim.authorization)
        assert (first[0], second[0]) == (401, 200)
        ws, refused = await connect(sim.ws_url, sim.user_id, sim.sessid)
        assert refused == {"params": {"type": "auth", "success": False}}
        with contextlib.suppress(ConnectionClosed):
            await asyncio.wait_for(ws.recv(), 5)
        ws, accepted = await connect(sim.ws_url, sim.user_id, sim.sessid)
        await ws.close()
        assert accepted["params"]["success"] is True


async def test_refuse_auth_minus_one_refuses_forever() -> None:
    async with start_simulator(vehicles=1, start=START, faults=Faults(refuse_auth=-1)) as sim:
        for _ in range(3):
            status, _ = await asyncio.to_thread(post_auth, sim.auth_url, sim.sessid,
                                                sim.authorization)
            ws, reply = await connect(sim.ws_url, sim.user_id, sim.sessid)
            await ws.close()
            assert status == 401 and reply["params"]["success"] is False


def test_every_malformed_text_frame_is_still_valid_utf8() -> None:
    from simulator.faults import FaultInjector, OutFrame
    from simulator.ground_truth import GroundTruth

    injector = FaultInjector(Faults(malformed_rate=1.0), seed=1, truth=GroundTruth(1, START))
    payload = '{"uid":1001,"params":{"type":"pnd-msg","event":{"txt":"não às 15h ÁÉÍ"}}}'.encode()
    for _ in range(300):
        for frame in injector.apply(OutFrame(START, payload, "pnd-msg")):
            if frame.text:
                frame.payload.decode("utf-8")
