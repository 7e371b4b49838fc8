"""A published warehouse of the simulated fleet, as ``trackit demo`` makes it, for the tests
of what analysts read (the notebook, README's and warehouse/example_queries.sql's queries).

The real simulator (6 vehicles, seed 1) streams four simulated hours from 03:00 UTC, a
night in Lisbon, to the real ``trackit ingest``; a driver message goes out through the
live socket while vehicles drive; the simulator's ``places.csv`` is imported; the lake is
transformed and built with the Lisbon day. So the warehouse holds night driving, idling,
a speeder above 120 km/h, the device that loses coverage for more than an hour mid-trip
and comes back, drivers sharing vehicles, deliveries and visits to named places.
About 30 s.
"""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

from simulator_process import running_simulator, trackit_argv

from trackit.cli import main as trackit_main
from transforms.pipeline import transform_lake
from warehouse.build import build_warehouse
from warehouse.config import WarehouseConfig

START = "2026-03-02T03:00:00Z"
SPEEDUP = 600
INGEST_SECONDS = 24
MESSAGE_AFTER_S = 6.0
MESSAGE_UID = "1001"
TIMEZONE = "Europe/Lisbon"
ENV = {**os.environ, "TRACKIT_SESSID": "tjMzwqGgzNdDEyyswn3vZxFbWG",
       "TRACKIT_AUTHORIZATION": "test-authorization", "PYTHONUNBUFFERED": "1"}


def _record_lake(root: Path, data: Path) -> None:
    with running_simulator("--vehicles", "6", "--speedup", str(SPEEDUP), "--start", START,
                           "--ground-truth", str(root / "truth.json"), env=ENV, cwd=root) as sim:
        ingest = subprocess.Popen(
            sim.ingest_argv(data, "--duration", str(INGEST_SECONDS), "--roll-seconds", "5",
                            "--status-interval", "0"),
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV, cwd=root)
        time.sleep(MESSAGE_AFTER_S)  # an hour of driving first: the message has a driver
        queued = subprocess.run(
            trackit_argv("send-message", "--data", str(data), "--uid", MESSAGE_UID,
                         "--text", "please call the office"),
            capture_output=True, text=True, env=ENV, cwd=root, timeout=60)
        assert queued.returncode == 0, queued.stderr
        _, ingest_err = ingest.communicate(timeout=120)
        assert ingest.returncode == 0, ingest_err[-2000:]


def build_demo_like_data(root: Path) -> Path:
    """Record, import places, transform and build under ``root``; return the data dir."""
    data = root / "data"
    _record_lake(root, data)
    assert trackit_main(["places", "import", str(root / "places.csv"),
                         "--data", str(data)]) == 0
    transform_lake(data)
    build_warehouse(data, config=WarehouseConfig(timezone=TIMEZONE))
    return data
