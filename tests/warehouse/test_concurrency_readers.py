"""Reader processes querying through twenty builds see only committed states, in order.

Three processes query the warehouse in a loop (core only, marts only, a join of both; one
of them reconnects for every query) while the test stores an hour of data and builds,
twenty times. Every state a reader sees must be the state of one of the committed
snapshots (the test records each one after its commit), the states a reader sees must
follow the order of the commits (counts never go backwards), and no query may fail.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from reader_loop import QUERIES, observe
from warehouse_cycles import MARTS_BUILT, fleet_rows, store_hour

from lake.ducklake import open_warehouse
from warehouse.build import build_warehouse

CYCLES = 20
READERS = (("records", False), ("trips", False), ("join", True))
READER_SCRIPT = Path(__file__).with_name("reader_loop.py")


def committed_state(data: Path) -> dict[str, tuple[str, ...]]:
    with open_warehouse(data, read_only=True) as con:
        return {query: tuple(observe(con, query)) for query in QUERIES}


def in_commit_order(seen: list[tuple[str, ...]], states: list[tuple[str, ...]]) -> bool:
    """Each observation is a committed state, at or after the previous one's."""
    at = 0
    for observation in seen:
        while at < len(states) and states[at] != observation:
            at += 1
        if at == len(states):
            return False
    return True


@pytest.mark.timeout(1200)
def test_readers_see_only_committed_states_through_twenty_builds(tmp_path: Path) -> None:
    data, stop = tmp_path / "data", tmp_path / "stop"
    data.mkdir()
    rows = fleet_rows()
    store_hour(data, rows, 0)
    build_warehouse(data, marts=MARTS_BUILT)
    states = [committed_state(data)]

    root = Path(__file__).parents[2]
    readers = [subprocess.Popen(
        [sys.executable, str(READER_SCRIPT), str(data), query, str(stop),
         *(["--reopen"] if reopen else [])],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=root,
        env={**os.environ, "PYTHONPATH": str(root)})
        for query, reopen in READERS]
    started = time.monotonic()
    try:
        for hour in range(1, CYCLES + 1):
            store_hour(data, rows, hour)
            states.append(committed_state(data))
            build_warehouse(data, marts=MARTS_BUILT)
            states.append(committed_state(data))
    finally:
        stop.touch()
        outputs = [reader.communicate(timeout=120) for reader in readers]
    print(f"{CYCLES} builds under 3 readers took {time.monotonic() - started:.1f}s")

    records = [int(s["records"][0]) for s in states]
    assert records == sorted(records) and records[0] < records[-1]
    for (query, _), reader, (out, err) in zip(READERS, readers, outputs, strict=True):
        lines = out.splitlines()
        errors = [line for line in lines if line.startswith("ERROR")]
        assert reader.returncode == 0 and not errors, (query, errors, err[-2000:])
        seen = [tuple(json.loads(line)) for line in lines]
        committed = [s[query] for s in states]
        strangers = sorted(set(seen) - set(committed))
        assert not strangers, f"{query}: states never committed: {strangers[:5]}"
        assert in_commit_order(seen, committed), f"{query}: went back to an older state"
        distinct = len(set(seen))
        print(f"reader {query}: {len(seen)} queries, {distinct} distinct committed states")
        assert distinct >= 3, f"{query}: the reader saw too few states to test anything"
