"""The simulated fleet: N seeded vehicles merged into one stream ordered by server time.

Pure and deterministic: the same seed, start time and vehicle count give the same messages,
whatever the wall clock says. Vehicle ``i`` behaves the same whatever the fleet size. Uids
and vids come from the seed (``ids``), so two fleets never share a vehicle.
"""

from __future__ import annotations

import heapq
import random
import time
from collections.abc import Iterator

from simulator.ground_truth import GroundTruth
from simulator.ids import MAX_VEHICLES, fleet_block
from simulator.messages import Message
from simulator.places import fleet_places
from simulator.roads import RoadNetwork
from simulator.vehicle import Vehicle, VehicleProfile


class DeadlinePassed(Exception):
    """The wall-clock deadline passed before the fleet was ready to send its first frame."""


def check_deadline(deadline: float | None) -> None:
    """Raise ``DeadlinePassed`` when ``deadline`` (a ``time.monotonic()`` value) has passed."""
    if deadline is not None and time.monotonic() >= deadline:
        raise DeadlinePassed


class Fleet:
    """The vehicles of one simulation and the merged stream of their messages.

    ``deadline`` (a ``time.monotonic()`` value) bounds the wall time of building the
    vehicles and their first messages, which grows with the fleet (seconds for thousands):
    past it, construction or the first ``next()`` of ``messages()`` raises
    ``DeadlinePassed``. It never changes what the fleet sends.
    """

    def __init__(self, vehicles: int, seed: int, start: float,
                 truth: GroundTruth | None = None, deadline: float | None = None) -> None:
        if not 1 <= vehicles <= MAX_VEHICLES:
            raise ValueError(f"a fleet has 1 to {MAX_VEHICLES} vehicles")
        fleet_block(seed)  # refuses a seed outside the id blocks
        self.seed = seed
        self.start = start
        self.truth = truth if truth is not None else GroundTruth(seed, start)
        self.roads = RoadNetwork.build(random.Random(f"{seed}/roads"))
        self.places = fleet_places(self.roads)
        self.truth.places = self.places
        by_node = {place.node: place for place in self.places}
        self.vehicles: list[Vehicle] = []
        self._deadline = deadline
        for index in range(vehicles):
            check_deadline(deadline)
            rng = random.Random(f"{seed}/vehicle/{index}")
            profile = VehicleProfile.make(seed, index, rng, self.roads)
            self.vehicles.append(Vehicle(profile, self.roads, rng, start, self.truth, by_node))
        self.by_uid = {vehicle.profile.uid: vehicle for vehicle in self.vehicles}

    def messages(self) -> Iterator[Message]:
        """All vehicles' messages, forever, ordered by ``emit`` (ties by vehicle index)."""
        # heapq.merge(key=...) does the same with more bookkeeping per item; this is the
        # hottest loop of a live run.
        streams = [vehicle.messages() for vehicle in self.vehicles]
        heap = []
        deadline, self._deadline = self._deadline, None
        for index, stream in enumerate(streams):
            check_deadline(deadline)
            first = next(stream)
            heap.append((first.emit, index, first))
        heapq.heapify(heap)
        replace = heapq.heapreplace
        while True:
            _, index, message = heap[0]
            yield message
            following = next(streams[index])
            replace(heap, (following.emit, index, following))

    def io_levels(self, uid: int, t: float) -> dict[int, int] | None:
        """Input levels of device ``uid`` at ``t``; None if unknown or silent."""
        vehicle = self.by_uid.get(uid)
        return None if vehicle is None else vehicle.io_levels_at(t)

