"""Helpers of the distributed end-to-end test: ``trackit ingest`` processes against a
running simulator, the raw lake copied off the bucket, a Celery worker process killed
while it runs a task, and the warehouse's tables read for comparison."""

from __future__ import annotations

import contextlib
import json
import signal
import subprocess
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import psutil
import pyarrow.parquet as pq
import sqlalchemy
from simulator_process import SimulatorUrls

from lake.layout import DataLayout
from lake.object_store import object_store
from schemas.core_tables import CORE_TABLES

DAG_ID = "trackit_warehouse"


@contextmanager
def running_ingest(simulator: SimulatorUrls, data: str, instance: str, *,
                   env: Mapping[str, str], local: Path, log: Path,
                   duration: float) -> Iterator[subprocess.Popen[bytes]]:
    """``trackit ingest --data DATA --instance INSTANCE --duration ...`` with its own
    ``TRACKIT_LOCAL``; killed on exit if it is still running."""
    argv = simulator.ingest_argv(data, "--instance", instance, "--duration", str(duration),
                                 "--roll-seconds", "3", "--status-interval", "0")
    with log.open("wb") as out:
        process = subprocess.Popen(argv, env={**env, "TRACKIT_LOCAL": str(local)},
                                   stdout=out, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL, cwd=local.parent)
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(30)


def download_raw(layout: DataLayout, target: Path) -> list[str]:
    """Every raw object of the lake, copied to ``target/raw/...`` under its own key; the
    keys (relative to the lake's prefix)."""
    assert layout.remote is not None
    store = object_store(layout.remote)
    keys = sorted(item.relative for item in store.list("raw/"))
    for key in keys:
        path = target / key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(store.read(key))
    return keys


def raw_frames(data: Path, keys: list[str]) -> dict[str, int]:
    """Rows (frames) of each downloaded raw file."""
    return {key: pq.ParquetFile(data / key).metadata.num_rows for key in keys}


@dataclass(frozen=True)
class KilledWorker:
    """What was killed: the task's process, the Celery pool process running it, and the
    worker (its main process, left running) they belonged to."""

    task_pid: int
    pool_pid: int
    worker_pid: int
    worker_name: str
    try_number: int


class MetadataDatabase:
    """Quick repeated reads of Airflow's metadata database (one engine, kept open)."""

    def __init__(self, url: str) -> None:
        self.engine = sqlalchemy.create_engine(url)

    def rows(self, sql: str, **params: Any) -> list[tuple[Any, ...]]:
        with self.engine.connect() as connection:
            return [tuple(row) for row in connection.execute(sqlalchemy.text(sql), params)]

    def task(self, run_id: str, task_id: str) -> dict[str, Any] | None:
        rows = self.rows("select state, pid, try_number, hostname, external_executor_id "
                         "from task_instance where dag_id = :dag and run_id = :run and "
                         "task_id = :task", dag=DAG_ID, run=run_id, task=task_id)
        if not rows:
            return None
        return dict(zip(("state", "pid", "try_number", "hostname", "celery_id"), rows[0],
                        strict=True))

    def close(self) -> None:
        self.engine.dispose()


def task_log_text(home: Path, run_id: str, task_id: str, try_number: int) -> str:
    """The task log of one try (empty while it does not exist)."""
    folder = home / "logs" / f"dag_id={DAG_ID}" / f"run_id={run_id}" / f"task_id={task_id}"
    path = folder / f"attempt={try_number}.log"
    return path.read_text(errors="replace") if path.is_file() else ""


def failed_task_logs(home: Path, run_id: str, run_tries: dict[str, list[tuple[int, str]]]
                     ) -> str:
    """The ends of the logs of every failed try (for an assertion's message)."""
    return "\n".join(f"--- {task_id} try {number}:\n"
                     + task_log_text(home, run_id, task_id, number)[-3000:]
                     for task_id, numbered in run_tries.items()
                     for number, state in numbered if state == "failed")


def kill_worker_mid_task(database: MetadataDatabase, home: Path, run_id: str, task_id: str,
                         *, started_line: str, timeout: float) -> KilledWorker:
    """Once ``task_id`` runs and its log shows ``started_line`` (its work has begun),
    SIGKILL the Celery pool process executing it and the task process it forked: the
    worker's process doing the work dies without a word to Airflow, as in an OOM kill.
    The worker's main process stays (it replaces its pool process)."""
    deadline = time.monotonic() + timeout
    while True:
        task = database.task(run_id, task_id)
        if (task and task["state"] == "running" and task["pid"]
                and started_line in task_log_text(home, run_id, task_id, task["try_number"])):
            break
        assert not task or task["state"] not in ("success", "failed"), (
            f"{task_id} ended ({task}) before it could be killed")
        assert time.monotonic() < deadline, f"{task_id} did not start within {timeout} s"
        time.sleep(0.1)
    task_process = psutil.Process(task["pid"])
    pool = task_process.parent()
    assert pool is not None
    worker = pool.parent()
    assert worker is not None
    command = " ".join(worker.cmdline())
    assert "celery worker" in command, f"the task's grandparent is not a worker: {command}"
    name = command.split("--celery-hostname", 1)[1].split()[0].split("@")[0]
    for victim in (pool, task_process):
        with contextlib.suppress(psutil.NoSuchProcess):
            victim.send_signal(signal.SIGKILL)
    psutil.wait_procs([pool, task_process], timeout=10)
    return KilledWorker(task_pid=task_process.pid, pool_pid=pool.pid, worker_pid=worker.pid,
                        worker_name=name, try_number=task["try_number"])


def wait_for_run(database: MetadataDatabase, run_id: str, timeout: float,
                 alive: Any) -> str:
    """The final state of ``run_id`` (``success`` or ``failed``); ``alive()`` is asserted
    between polls (the launcher still running)."""
    deadline = time.monotonic() + timeout
    while True:
        rows = database.rows("select state from dag_run where dag_id = :dag and run_id = :run",
                             dag=DAG_ID, run=run_id)
        if rows and rows[0][0] in ("success", "failed"):
            return str(rows[0][0])
        alive()
        assert time.monotonic() < deadline, f"run {run_id} did not end within {timeout} s"
        time.sleep(2)


def tries(database: MetadataDatabase, run_id: str) -> dict[str, list[tuple[int, str]]]:
    """task → [(try number, state)] over the history and the current try."""
    history = database.rows(
        "select task_id, try_number, state from task_instance_history where dag_id = :dag "
        "and run_id = :run union all select task_id, try_number, state from task_instance "
        "where dag_id = :dag and run_id = :run", dag=DAG_ID, run=run_id)
    result: dict[str, list[tuple[int, str]]] = {}
    for task_id, number, state in sorted(history, key=lambda row: (row[0], row[1])):
        result.setdefault(task_id, []).append((int(number), str(state)))
    return result


def core_counts(con: duckdb.DuckDBPyConnection) -> dict[str, tuple[int, int]]:
    """Per core table: (rows, distinct keys)."""
    counts = {}
    for name, table in CORE_TABLES.items():
        key = ", ".join(table.key)
        rows, keys = con.execute(
            f"select count(*), (select count(*) from (select distinct {key} from "
            f"core.{name})) from core.{name}").fetchone() or (0, 0)
        counts[name] = (int(rows), int(keys))
    return counts


def trigger(cli: Any, run_id: str, data: str) -> None:
    """``airflow dags trigger`` with the data location as the DAG's ``data_dir`` param."""
    cli("dags", "trigger", DAG_ID, "--run-id", run_id, "--conf", json.dumps({"data_dir": data}))
