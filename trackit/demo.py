"""``trackit demo``: the whole pipeline, end to end, on one laptop.

Starts the simulator (with a few faults on), runs the real ``trackit ingest`` against it for
a few minutes while simulated hours of fleet activity pass, sends a driver message and a
``getio`` through the live socket, stops ingest cleanly, imports the simulator's named
places (``trackit places import``), runs the real Airflow DAG
``trackit_warehouse`` (``dag.test()`` with ``AIRFLOW_HOME`` under the data directory) and
prints a summary checked against the simulator's ground truth.

Every stage runs as its own process, exactly as a user would start it, so the demo proves
the command line as much as the code. A second run continues the simulated clock where the
previous one stopped and adds to the same lake and warehouse. A data directory holds one
fleet: the demo refuses one that holds another seed's fleet, or data no demo run made.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any

from lake.errors import TrackitError
from lake.layout import DataLayout
from simulator.config import DEMO_AUTHORIZATION, DEMO_SESSID, DEMO_USER_ID
from simulator.places import PLACES_FILE
from trackit.demo_summary import print_summary
from trackit.progress import StatusLine

REPO = Path(__file__).resolve().parents[1]
DAG_FOLDER = REPO / "dags"
WAREHOUSE_DAG = "trackit_warehouse"

# Faults that show the pipeline coping: one dropped connection per run, some malformed and
# duplicated frames, a few late batches of hours-old records.
DEMO_FAULTS = (
    "--malformed-rate", "0.01",
    "--duplicate-rate", "0.01",
    "--unknown-rate", "0.002",
    "--late-rate", "0.002",
)


@dataclass
class DemoSettings:
    """What one ``trackit demo`` run does."""

    data: Path
    minutes: float = 2.0
    speedup: float = 120.0
    vehicles: int = 12
    seed: int = 7
    skip_airflow: bool = False


FLEET_FILE = "fleet.json"
"""``DATA/state/demo/fleet.json``: the seed of the fleet whose data the directory holds."""


@dataclass
class DemoState:
    """What earlier demo runs left behind (``DATA/state/demo/runs.json``)."""

    path: Path
    runs: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def load(cls, path: Path) -> DemoState:
        if not path.exists():
            return cls(path)
        return cls(path, json.loads(path.read_text(encoding="utf-8"))["runs"])

    def next_start(self) -> datetime:
        """The simulated time the next run starts at: where the last one ended, else 6 h ago."""
        if self.runs:
            return datetime.fromisoformat(self.runs[-1]["simulated_end"])
        now = datetime.now(UTC).replace(microsecond=0)
        return now - timedelta(hours=6)

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"runs": self.runs}, indent=2), encoding="utf-8")
        os.replace(tmp, self.path)


def check_fleet(layout: DataLayout, state: DemoState, seed: int) -> None:
    """Refuse a data directory that holds another fleet than the one of ``seed``.

    Two fleets in one lake would merge their vehicles' data; the demo's own earlier runs
    (``fleet.json``, ``runs.json``) name their seed, and a lake without them was made by
    something else (``trackit ingest`` on another simulator, say).
    """
    root = layout.root
    marker = state.path.parent / FLEET_FILE
    seeds = {run.get("seed") for run in state.runs}
    if marker.exists():
        seeds.add(_read_json(marker).get("seed"))
    seeds.discard(None)
    if not seeds and not _holds_pipeline_data(layout):
        return
    if seeds == {seed}:
        return
    fix = f"use another --data, or delete {root} to start over"
    others = sorted(str(other) for other in seeds - {seed}) or _ground_truth_seeds(root, seed)
    if others:
        raise TrackitError(f"{root} holds the data of another simulated fleet (seed "
                           f"{', '.join(others)}; this demo runs seed {seed}); {fix}")
    raise TrackitError(f"{root} holds pipeline data that no demo run made (another fleet's, "
                       f"perhaps); {fix}")


def _read_json(path: Path) -> dict[str, Any]:
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


def _holds_pipeline_data(layout: DataLayout) -> bool:
    if layout.warehouse.exists() or layout.legacy_warehouse_file.exists():
        return True
    return any(next(folder.rglob("*.parquet"), None) is not None
               for folder in (layout.raw, layout.legacy_core) if folder.is_dir())


def _ground_truth_seeds(root: Path, seed: int) -> list[str]:
    """Seeds other than ``seed`` named by simulator ground-truth files at the top of ``root``."""
    seeds = set()
    for path in root.glob("*.json"):
        truth = _read_json(path)
        if "seed" in truth and "vehicles" in truth and truth["seed"] != seed:
            seeds.add(str(truth["seed"]))
    return sorted(seeds)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _trackit(*args: str) -> list[str]:
    return [sys.executable, "-m", "trackit", *args]


def _child_env() -> dict[str, str]:
    """The demo's credentials for its own simulator: never the user's real ones."""
    return {
        **os.environ,
        "TRACKIT_SESSID": DEMO_SESSID,
        "TRACKIT_AUTHORIZATION": DEMO_AUTHORIZATION,
        "PYTHONUNBUFFERED": "1",
    }


def _wait_for_port(port: int, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise TrackitError(f"simulator exited early (code {process.returncode}); see {log}")
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise TrackitError(f"simulator did not listen on port {port} within 30 s; see {log}")


def _stop(process: subprocess.Popen[bytes], timeout: float = 30) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


class Demo:
    """One run of the demo; ``run()`` does everything and prints as it goes."""

    def __init__(self, settings: DemoSettings, out: IO[str] = sys.stdout) -> None:
        self.settings = settings
        self.layout = DataLayout(settings.data.resolve())
        self.demo_dir = self.layout.state / "demo"
        self.state = DemoState.load(self.demo_dir / "runs.json")
        self.run_number = len(self.state.runs) + 1
        self.out = out
        self.status = StatusLine(out)

    def say(self, text: str) -> None:
        self.status.clear()
        print(text, file=self.out, flush=True)

    def run(self) -> int:
        s = self.settings
        check_fleet(self.layout, self.state, s.seed)
        self.demo_dir.mkdir(parents=True, exist_ok=True)
        (self.demo_dir / FLEET_FILE).write_text(json.dumps({"seed": s.seed}), encoding="utf-8")
        start = self.state.next_start()
        seconds = s.minutes * 60
        simulated_end = start + timedelta(seconds=seconds * s.speedup)
        self.say(
            f"trackit demo run {self.run_number}: {s.vehicles} vehicles, {s.minutes:g} min at "
            f"{s.speedup:g}x = simulated {start:%Y-%m-%d %H:%M} → {simulated_end:%H:%M} UTC, "
            f"data in {self.layout.root}"
        )
        ground_truth = self.demo_dir / f"ground_truth-run{self.run_number}.json"
        started_wall = datetime.now(UTC)
        self._stream(start, seconds, ground_truth)
        simulated_end = _simulated_now(ground_truth) or simulated_end
        self.state.runs.append({
            "run": self.run_number,
            "started_at": started_wall.isoformat(),
            "simulated_start": start.isoformat(),
            "simulated_end": simulated_end.isoformat(),
            "seed": s.seed,
            "ground_truth": ground_truth.name,
        })
        self.state.save()
        self._import_places()
        if not s.skip_airflow:
            self._run_dag()
        self.status.clear()
        print_summary(self.layout, [self.demo_dir / r["ground_truth"] for r in self.state.runs],
                      self.out)
        return 0

    def _stream(self, start: datetime, seconds: float, ground_truth: Path) -> None:
        """Simulator + ingest for ``seconds``, with one message and one getio on the way."""
        s = self.settings
        port = _free_port()
        sim_log = self.demo_dir / "simulator.log"
        ingest_log = self.demo_dir / "ingest.log"
        env = _child_env()
        with open(sim_log, "ab") as sim_out, open(ingest_log, "ab") as ingest_out:
            simulator = subprocess.Popen(
                _trackit(
                    "simulate", "--host", "127.0.0.1", "--port", str(port),
                    "--vehicles", str(s.vehicles), "--seed", str(s.seed),
                    "--speedup", str(s.speedup), "--start", start.isoformat(),
                    "--user-id", str(DEMO_USER_ID), "--ground-truth", str(ground_truth),
                    "--drop-every", str(max(20, int(seconds * 0.4))), *DEMO_FAULTS,
                ),
                stdout=sim_out, stderr=subprocess.STDOUT, env=env,
            )
            try:
                _wait_for_port(port, simulator, sim_log)
                self.say(f"  simulator listening on 127.0.0.1:{port} (log: {sim_log})")
                ingest = subprocess.Popen(
                    _trackit(
                        "ingest", "--url", f"ws://127.0.0.1:{port}",
                        "--auth-url", f"http://127.0.0.1:{port}/ws/websocketAuth",
                        "--user-id", str(DEMO_USER_ID), "--data", str(self.layout.root),
                        "--duration", str(seconds), "--roll-seconds", "10",
                        "--status-interval", "5",
                    ),
                    stdout=ingest_out, stderr=subprocess.STDOUT, env=env,
                )
                self.say(f"  ingest running for {seconds:g} s (log: {ingest_log})")
                try:
                    self._watch(ingest, seconds, ground_truth, ingest_log)
                finally:
                    _stop(ingest)
                if ingest.returncode != 0:
                    raise TrackitError(
                        f"ingest exited with code {ingest.returncode}; see {ingest_log}"
                    )
            finally:
                _stop(simulator)
        self.say("  ingest stopped cleanly; simulator stopped")

    def _import_places(self) -> None:
        """``trackit places import`` of the simulator's depots and customers, before the build.

        The places file is the same for every run of a seed; importing it again replaces the
        set by an equal one, so the DAG names the same places as the first time.
        """
        places = self.demo_dir / PLACES_FILE
        if not places.exists():
            return
        done = subprocess.run(
            _trackit("places", "import", str(places), "--data", str(self.layout.root)),
            capture_output=True, text=True, env=_child_env(),
        )
        if done.returncode != 0:
            raise TrackitError(done.stderr.strip().removeprefix("trackit: error: ")
                               or f"trackit places import {places} failed")
        self.say(f"  trackit places import {places} → {done.stdout.strip()}")

    def _watch(self, ingest: subprocess.Popen[bytes], seconds: float, ground_truth: Path,
               ingest_log: Path) -> None:
        """Show a live status line until ingest exits; send the commands a quarter in."""
        began = time.monotonic()
        commands_sent = False
        while ingest.poll() is None:
            elapsed = time.monotonic() - began
            if not commands_sent and elapsed >= seconds * 0.25:
                commands_sent = self._send_commands(ground_truth)
            self.status.show(
                f"  ingest {elapsed:5.0f}/{seconds:.0f} s | {_latest_status(ingest_log)}"
            )
            time.sleep(1)

    def _send_commands(self, ground_truth: Path) -> bool:
        """One driver message and one getio to the first vehicle, through the outbox."""
        try:
            truth = json.loads(ground_truth.read_text(encoding="utf-8"))
            uid = int(truth["vehicles"][0]["uid"])
        except (OSError, ValueError, KeyError, IndexError):
            return False  # the simulator has not written its first ground truth yet
        data = str(self.layout.root)
        for args in (
            ("send-message", "--data", data, "--uid", str(uid),
             "--text", f"Demo run {self.run_number}: please call the office"),
            ("getio", "--data", data, "--uid", str(uid)),
        ):
            done = subprocess.run(_trackit(*args), capture_output=True, text=True,
                                  env=_child_env())
            verdict = done.stdout.strip() or done.stderr.strip()
            self.say(f"  trackit {args[0]} --uid {uid} → {verdict}")
        return True

    def _run_dag(self) -> None:
        """Run the real ``trackit_warehouse`` DAG with ``dag.test()`` under DATA/airflow."""
        airflow_home = self.layout.root / "airflow"
        log = self.demo_dir / "airflow.log"
        env = {
            **os.environ,
            "AIRFLOW_HOME": str(airflow_home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(DAG_FOLDER),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "TRACKIT_DATA": str(self.layout.root),
        }
        with open(log, "ab") as out:
            if not (airflow_home / "airflow.db").exists():
                self.say(f"  preparing Airflow's metadata database in {airflow_home} ...")
                _run_logged([sys.executable, "-m", "airflow", "db", "migrate"], env, out, log,
                            self.status, "airflow db migrate")
            self.say(f"  running Airflow DAG {WAREHOUSE_DAG} with dag.test() (log: {log})")
            _run_logged([sys.executable, "-c", _DAG_TEST], env, out, log, self.status,
                        f"dag {WAREHOUSE_DAG}")
        self.say(f"  DAG {WAREHOUSE_DAG} succeeded: transform, build and maintenance of the "
                 f"warehouse {self.layout.warehouse}")


_DAG_TEST = f"""
import sys
from airflow.dag_processing.dagbag import DagBag
bag = DagBag(dag_folder={str(DAG_FOLDER / (WAREHOUSE_DAG + '.py'))!r})
if bag.import_errors:
    sys.exit(f"DAG import errors: {{bag.import_errors}}")
run = bag.get_dag({WAREHOUSE_DAG!r}).test()
print("DAG-RUN-STATE", run.state)
sys.exit(0 if str(run.state) == "success" else 1)
"""


def _run_logged(command: list[str], env: dict[str, str], out: IO[bytes], log: Path,
                status: StatusLine, what: str) -> None:
    """Run ``command`` with its output in ``log``, a ticking status line meanwhile."""
    began = time.monotonic()
    process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env)
    while process.poll() is None:
        status.show(f"  {what}: {time.monotonic() - began:4.0f} s")
        time.sleep(0.5)
    if process.returncode != 0:
        raise TrackitError(f"{what} failed (exit {process.returncode}); see {log}")


def _simulated_now(ground_truth: Path) -> datetime | None:
    """The simulator's clock when it stopped (it pauses while no client is connected)."""
    try:
        now = json.loads(ground_truth.read_text(encoding="utf-8"))["now"]
    except (OSError, ValueError, KeyError):
        return None
    return datetime.fromtimestamp(float(now), UTC).replace(microsecond=0)


def _latest_status(log: Path) -> str:
    """The figures of ingest's latest status line, e.g. ``1234 frames, 1 reconnects``."""
    try:
        with open(log, "rb") as fh:
            fh.seek(max(0, fh.seek(0, os.SEEK_END) - 4096))
            tail = fh.read().decode("utf-8", "replace").splitlines()
    except OSError:
        return "starting"
    for line in reversed(tail):
        if "total " in line and "frames" in line:
            return line.split("ingest: ", 2)[-1].strip()
    return "connecting"
