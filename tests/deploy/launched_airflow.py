"""``./run airflow WAY`` as a subprocess of a test: started in its own process group,
watched until ready, driven with the real ``airflow`` CLI, and killed group-wide after."""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil
import sqlalchemy

from trackit.deploy.airflow_settings import AirflowSetup, airflow_argv

REPO = Path(__file__).resolve().parents[2]
DAG_ID = "trackit_warehouse"
TASKS = ("transform", "build", "maintain")
# The DAG's last task needs warehouse.maintenance; where it is missing, the test stops at
# build (maintain fails, as it would for an operator of that checkout).
MAINTENANCE_PRESENT = importlib.util.find_spec("warehouse.maintenance") is not None


def raw_data_dir(data: Path) -> Path:
    """A data dir holding one raw file: every inbound frame example of the manual."""
    spec = importlib.util.spec_from_file_location(
        "transforms_conftest", REPO / "tests" / "transforms" / "conftest.py")
    assert spec is not None and spec.loader is not None
    helpers = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(helpers)
    examples = helpers.manual_examples()
    helpers.write_raw_file(data, [frame for direction, frame in examples.values()
                                  if direction == "in"])
    return data


@dataclass
class LaunchedAirflow:
    """A running ``./run airflow`` and what a test needs to drive it."""

    process: subprocess.Popen[bytes]
    output: Path
    setup: AirflowSetup

    def cli(self, *args: str, timeout: float = 300) -> str:
        """Run the ``airflow`` CLI against this setup; return stdout, fail on an error."""
        done = subprocess.run(airflow_argv(*args), env=self.setup.environment(),
                              cwd=self.setup.home, capture_output=True, text=True,
                              timeout=timeout)
        assert done.returncode == 0, f"airflow {' '.join(args)}: {done.stderr[-3000:]}"
        return done.stdout

    def dag_runs(self) -> list[dict[str, Any]]:
        """``airflow dags list-runs DAG --output json`` (its stdout may start with warnings)."""
        out = self.cli("dags", "list-runs", DAG_ID, "--output", "json")
        return json.loads(next(line for line in out.splitlines() if line.startswith("[")))

    def query(self, sql: str, **params: Any) -> list[tuple[Any, ...]]:
        """Rows of ``sql`` on the metadata database (read by the test, not through Airflow)."""
        engine = sqlalchemy.create_engine(self.setup.sqlalchemy_url)
        try:
            with engine.connect() as connection:
                return [tuple(row) for row in connection.execute(sqlalchemy.text(sql), params)]
        finally:
            engine.dispose()

    def wait_for(self, what: str, timeout: float, condition: Any) -> Any:
        """Poll ``condition()`` until it returns something truthy; fail on timeout or when
        the launcher exits."""
        deadline = time.monotonic() + timeout
        while True:
            value = condition()
            if value:
                return value
            assert self.process.poll() is None, (
                f"./run airflow exited ({self.process.returncode}) waiting for {what}:\n"
                + self.output.read_text()[-4000:])
            assert time.monotonic() < deadline, (
                f"no {what} within {timeout:.0f} s:\n" + self.output.read_text()[-4000:])
            time.sleep(2)

    def task_states(self, run_id: str) -> dict[str, str | None]:
        rows = self.query("select task_id, state from task_instance where dag_id = :dag "
                          "and run_id = :run", dag=DAG_ID, run=run_id)
        return {task: state for task, state in rows}

    def trigger_and_wait(self, run_id: str, timeout: float) -> dict[str, str | None]:
        """Trigger ``run_id`` with the CLI once the DAG is registered, wait until it ends
        (or, without warehouse.maintenance, until build succeeded); its task states."""
        self.wait_for(f"{DAG_ID} registered", timeout, lambda: self.query(
            "select 1 from serialized_dag where dag_id = :dag", dag=DAG_ID))
        self.cli("dags", "trigger", DAG_ID, "--run-id", run_id)

        def finished() -> dict[str, str | None] | None:
            states = self.task_states(run_id)
            state = self.query("select state from dag_run where run_id = :run", run=run_id)
            if state and state[0][0] in ("success", "failed"):
                return states
            if not MAINTENANCE_PRESENT and states.get("build") in ("success", "failed"):
                return states
            return None
        return self.wait_for(f"the end of run {run_id}", timeout, finished)


@contextmanager
def launched_airflow(way: str, setup: AirflowSetup, *extra: str, log: Path,
                     ready_timeout: float = 420,
                     settings: Mapping[str, str] | None = None) -> Iterator[LaunchedAirflow]:
    """``./run airflow WAY --data ... --home ... --port ... EXTRA`` until ready; on exit the
    whole process group gets SIGTERM, then SIGKILL after 60 s, and is checked gone.
    ``settings``: ``AIRFLOW__...`` variables for every component (the caller's own
    ``AIRFLOW*`` variables are dropped)."""
    env = {name: value for name, value in os.environ.items()
           if not name.startswith("AIRFLOW")}
    env["TRACKIT_TZ"] = ""
    # Only the test's own run: without it the scheduler would first run each DAG's latest
    # schedule slot, and trackit_warehouse takes one run at a time.
    env["AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE"] = "False"
    env.update(settings or {})
    with log.open("wb") as out:
        process = subprocess.Popen(
            ["bash", str(REPO / "run"), "airflow", way, "--data", str(setup.data_dir),
             "--home", str(setup.home), "--port", str(setup.api_port), *extra],
            stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
            cwd=REPO, start_new_session=True)
    launched = LaunchedAirflow(process=process, output=log, setup=setup)
    try:
        launched.wait_for("ready", ready_timeout, lambda: "airflow: ready:" in log.read_text())
        yield launched
    finally:
        stop_group(process)


def stop_group(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM the launcher's process group, wait for the launcher, SIGKILL what is left;
    fail if a live process of the group outlives that."""
    group = process.pid
    try:
        os.killpg(group, signal.SIGTERM)
    except ProcessLookupError:
        return
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(60)
    deadline = time.monotonic() + 30
    while members := group_members(group):
        assert time.monotonic() < deadline, f"outlived SIGKILL: {members}"
        with contextlib.suppress(ProcessLookupError):
            os.killpg(group, signal.SIGKILL)
        time.sleep(0.5)
    process.wait(10)


def group_members(group: int) -> list[str]:
    """The live (not zombie) processes of process group ``group``."""
    members = []
    for candidate in psutil.process_iter(["pid", "status", "cmdline"]):
        try:
            if (os.getpgid(candidate.pid) == group
                    and candidate.info["status"] != psutil.STATUS_ZOMBIE):
                members.append(" ".join(candidate.info["cmdline"] or [])[:200])
        except (ProcessLookupError, psutil.Error):
            continue
    return members
