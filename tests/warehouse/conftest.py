"""Session fixtures of the warehouse tests: a raw lake recorded from the real simulator
through the real ingest, and an Airflow home with a migrated metadata database.

Both are expensive (tens of seconds), so each is made once per session and copied or
reused by the tests that need it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from airflow_env import airflow_env
from simulator_process import running_simulator, trackit_argv

SIM_START = "2026-03-02T07:00:00Z"
SIM_SPEEDUP = "300"
INGEST_SECONDS = "20"


@pytest.fixture(scope="session")
def simulated_lake(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``DATA/raw`` + ``truth.json`` of ~100 simulated minutes, 5 vehicles, one message."""
    root = tmp_path_factory.mktemp("simulated")
    data = root / "data"
    env = {**os.environ, "TRACKIT_SESSID": "tjMzwqGgzNdDEyyswn3vZxFbWG",
           "TRACKIT_AUTHORIZATION": "test-authorization", "PYTHONUNBUFFERED": "1"}
    with running_simulator("--vehicles", "5", "--speedup", SIM_SPEEDUP, "--start", SIM_START,
                           "--ground-truth", str(root / "truth.json"), env=env, cwd=root) as sim:
        ingest = subprocess.Popen(
            sim.ingest_argv(data, "--duration", INGEST_SECONDS, "--roll-seconds", "5",
                            "--status-interval", "0"),
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=root)
        # send-message queues only where an ingest lives
        deadline = time.monotonic() + 30
        while not (data / "state" / "ingest").is_dir() and time.monotonic() < deadline:
            time.sleep(0.05)
        queued = subprocess.run(
            trackit_argv("send-message", "--data", str(data), "--uid", "1001", "--text",
                         "please call the office"),
            capture_output=True, text=True, env=env, cwd=root, timeout=60)
        assert queued.returncode == 0, queued.stderr
        _, ingest_err = ingest.communicate(timeout=120)
        assert ingest.returncode == 0, ingest_err[-2000:]
    assert list((data / "raw").rglob("*.parquet"))
    return root


@pytest.fixture
def simulated_data(simulated_lake: Path, tmp_path: Path) -> Path:
    """A private copy of the simulated data dir (raw lake only) and its truth.json."""
    shutil.copytree(simulated_lake / "data" / "raw", tmp_path / "data" / "raw")
    shutil.copy(simulated_lake / "truth.json", tmp_path / "truth.json")
    return tmp_path / "data"


@pytest.fixture(scope="session")
def airflow_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """An AIRFLOW_HOME with a migrated SQLite metadata DB (``airflow db migrate``, ~7 s)."""
    home = tmp_path_factory.mktemp("airflow")
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "airflow", "db", "migrate"],
                          capture_output=True, text=True, env=airflow_env(home), cwd=home,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    print(f"airflow db migrate took {time.monotonic() - started:.1f}s")
    yield home
