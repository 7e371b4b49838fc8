"""Vehicle ids come from the seed: two simulated fleets never share a uid or a vid."""

from __future__ import annotations

import itertools
import json

import pytest
from simulator_test_client import START, fleet_frames

from simulator.fleet import Fleet
from simulator.ids import (
    MAX_VEHICLES,
    SEED_LIMIT,
    seed_of_vid,
    vehicle_uid,
    vehicle_vid,
)

SEEDS = [-SEED_LIMIT + 1, -2, -1, 0, 1, 2, 7, 8, 1000, SEED_LIMIT]


def test_ids_of_different_seeds_never_meet() -> None:
    uids = {seed: {vehicle_uid(seed, i) for i in (0, 1, 2, MAX_VEHICLES - 1)} for seed in SEEDS}
    vids = {seed: {vehicle_vid(seed, i) for i in (0, 1, 2, MAX_VEHICLES - 1)} for seed in SEEDS}
    for a, b in itertools.combinations(SEEDS, 2):
        assert not uids[a] & uids[b] and not vids[a] & vids[b]
    for seed in SEEDS:
        assert all(0 < vid < 2**63 for vid in vids[seed] | uids[seed])
        assert {seed_of_vid(vid) for vid in vids[seed]} == {seed}
    assert vehicle_uid(1, 0) == 1001  # the default fleet keeps its uids 1001, 1002, ...


def test_frames_of_two_seeds_share_no_vehicle() -> None:
    def ids(seed: int) -> tuple[set[int], set[int]]:
        uids, vids = set(), set()
        for payload in fleet_frames(seed, 5, 3000):
            frame = json.loads(payload)
            uids.add(frame["uid"])
            params = frame["params"]
            record = params.get("lastRecord") or params.get("record") or {}
            if "vid" in record:
                vids.add(record["vid"])
        return uids, vids

    (uids_1, vids_1), (uids_7, vids_7) = ids(1), ids(7)
    assert len(vids_1) == len(vids_7) == 5 and len(uids_1) == len(uids_7) == 5
    assert not uids_1 & uids_7 and not vids_1 & vids_7


def test_fleets_outside_the_id_blocks_are_refused() -> None:
    with pytest.raises(ValueError, match="seed"):
        Fleet(2, SEED_LIMIT + 1, START)
    with pytest.raises(ValueError, match="vehicles"):
        Fleet(MAX_VEHICLES + 1, 1, START)
    assert seed_of_vid(5_123_456) is None  # not a simulated fleet's vid
