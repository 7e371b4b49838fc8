"""``trackit demo`` refuses a data directory that holds another simulated fleet."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from simulator_process import running_simulator, trackit_argv

from lake.errors import TrackitError
from lake.layout import DataLayout
from trackit.demo import FLEET_FILE, DemoState, check_fleet

REPO = Path(__file__).resolve().parents[2]
ENV = {**os.environ, "TRACKIT_SESSID": "tjMzwqGgzNdDEyyswn3vZxFbWG",
       "TRACKIT_AUTHORIZATION": "test-authorization", "PYTHONUNBUFFERED": "1"}


def demo(data: Path, seed: int) -> subprocess.CompletedProcess[str]:
    return subprocess.run(trackit_argv("demo", "--data", str(data), "--seed", str(seed),
                                       "--minutes", "0.1", "--skip-airflow"),
                          capture_output=True, text=True, timeout=120, cwd=REPO, env=ENV)


def ingest_simulated_fleet(data: Path, seed: int) -> None:
    """What the simulator docs show: ``trackit simulate --seed N`` fed to ``trackit ingest``."""
    with running_simulator("--seed", str(seed), "--vehicles", "3", "--speedup", "300",
                           "--ground-truth", str(data / "ground_truth.json"), env=ENV) as sim:
        done = subprocess.run(
            sim.ingest_argv(data, "--duration", "4", "--roll-seconds", "1",
                            "--status-interval", "0"),
            capture_output=True, text=True, env=ENV, timeout=120)
        assert done.returncode == 0, done.stderr[-2000:]
    assert list((data / "raw").rglob("*.parquet"))


def test_demo_refuses_a_data_dir_holding_another_seeds_fleet(tmp_path: Path) -> None:
    data = tmp_path / "data"
    ingest_simulated_fleet(data, seed=1)
    done = demo(data, seed=7)
    assert done.returncode != 0
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
    assert lines[0].startswith(f"trackit: error: {data.resolve()} holds the data of another "
                               "simulated fleet (seed 1; this demo runs seed 7)")
    assert "use another --data, or delete" in lines[0]
    assert not (data / "state" / "demo").exists()  # nothing started, nothing written


def test_demo_refuses_an_earlier_demo_of_another_seed(tmp_path: Path) -> None:
    data = tmp_path / "data"
    (data / "state" / "demo").mkdir(parents=True)
    (data / "state" / "demo" / FLEET_FILE).write_text(json.dumps({"seed": 3}))
    done = demo(data, seed=7)
    assert done.returncode != 0
    assert done.stderr.strip() == (
        f"trackit: error: {data.resolve()} holds the data of another simulated fleet (seed 3; "
        f"this demo runs seed 7); use another --data, or delete {data.resolve()} to start over")


def test_fleet_check_accepts_a_new_dir_and_the_same_fleet(tmp_path: Path) -> None:
    layout = DataLayout(tmp_path / "data")
    state_file = layout.state / "demo" / "runs.json"
    check_fleet(layout, DemoState(state_file), seed=7)  # nothing there yet
    state = DemoState(state_file, [{"run": 1, "seed": 7}])
    check_fleet(layout, state, seed=7)
    with pytest.raises(TrackitError, match=r"seed 7; this demo runs seed 8"):
        check_fleet(layout, state, seed=8)
    (layout.raw / "date=2026-01-01").mkdir(parents=True)
    (layout.raw / "date=2026-01-01" / "frames.parquet").write_bytes(b"PAR1")
    with pytest.raises(TrackitError, match="holds pipeline data that no demo run made"):
        check_fleet(layout, DemoState(state_file), seed=7)


def test_fleet_check_refuses_a_warehouse_no_demo_made(tmp_path: Path) -> None:
    layout = DataLayout(tmp_path / "data")
    layout.warehouse_catalog.parent.mkdir(parents=True)
    layout.warehouse_catalog.write_bytes(b"")
    with pytest.raises(TrackitError, match="holds pipeline data that no demo run made"):
        check_fleet(layout, DemoState(layout.state / "demo" / "runs.json"), seed=7)
