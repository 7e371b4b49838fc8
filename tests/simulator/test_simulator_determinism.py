"""The same seed and start give the same frames, whatever the wall clock or fleet size."""

from __future__ import annotations

import asyncio

from simulator_test_client import START, connect, fleet_frames, receive

from simulator import start_simulator
from simulator.ids import vehicle_uid


def test_same_seed_and_start_give_identical_frames() -> None:
    assert fleet_frames(7, 6, 4000) == fleet_frames(7, 6, 4000)


def test_another_seed_gives_other_frames() -> None:
    assert fleet_frames(7, 6, 500) != fleet_frames(8, 6, 500)


def test_a_vehicle_behaves_the_same_whatever_the_fleet_size() -> None:
    first = f'{{"uid":{vehicle_uid(7, 0)},'.encode()
    small = [f for f in fleet_frames(7, 2, 3000) if f.startswith(first)]
    large = [f for f in fleet_frames(7, 5, 8000) if f.startswith(first)]
    assert small and small == large[: len(small)]


async def test_two_servers_with_the_same_seed_send_the_same_frames() -> None:
    received = []
    for _ in range(2):
        async with start_simulator(vehicles=4, seed=11, start=START,
                                   speedup=float("inf")) as sim:
            ws, _ = await connect(sim.ws_url, sim.user_id, sim.sessid)
            received.append(await receive(ws, count=1500, seconds=30))
            await ws.close()
        await asyncio.sleep(0)
    assert len(received[0]) == 1500
    assert received[0] == received[1]
    assert [f.encode() for f in received[0]] == fleet_frames(11, 4, 1500)
