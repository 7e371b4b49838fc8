"""A start-up deadline stops building a large fleet or pre-building frames, and nothing else."""

from __future__ import annotations

import itertools
import time

import pytest
from simulator_test_client import START

from simulator.config import SimulatorConfig
from simulator.fleet import DeadlinePassed, Fleet
from simulator.server import SimulatorServer

# Building these vehicles and their first messages takes seconds (about 0.5 ms each).
LARGE_FLEET = 10_000


def test_building_a_large_fleet_stops_at_the_deadline() -> None:
    started = time.monotonic()
    with pytest.raises(DeadlinePassed):
        fleet = Fleet(LARGE_FLEET, seed=1, start=START, deadline=started + 0.3)
        next(fleet.messages())
    assert time.monotonic() - started < 1.5


def test_a_deadline_does_not_change_the_frames_nor_stop_a_built_fleet() -> None:
    deadline = time.monotonic() + 1.0
    fleet = Fleet(4, seed=2, start=START, deadline=deadline)
    stream = fleet.messages()
    first = list(itertools.islice(stream, 50))
    time.sleep(max(0.0, deadline - time.monotonic()) + 0.1)
    later = list(itertools.islice(stream, 50))
    plain = list(itertools.islice(Fleet(4, seed=2, start=START).messages(), 100))
    assert first + later == plain


async def test_prebuilding_stops_at_the_deadline() -> None:
    config = SimulatorConfig(port=0, vehicles=3, start=START, prebuild_frames=10_000_000)
    started = time.monotonic()
    server = SimulatorServer(config, deadline=started + 0.5)
    with pytest.raises(DeadlinePassed):
        await server.start()
    assert time.monotonic() - started < 3
