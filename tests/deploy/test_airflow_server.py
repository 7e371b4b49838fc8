"""``./run airflow server`` and ``./run airflow celery``: the real scheduler runs a
triggered ``trackit_warehouse`` on a data dir (on this machine with the LocalExecutor, on
two Celery workers with PostgreSQL and Redis), then everything stops with its process
group."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from launched_airflow import (
    MAINTENANCE_PRESENT,
    launched_airflow,
    raw_data_dir,
)
from real_servers import free_port, loopback_tempdir, port_open

from lake.ducklake import open_warehouse
from trackit.deploy.airflow_settings import CELERY_EXECUTOR, LOCAL_EXECUTOR, AirflowSetup


def test_the_scheduler_runs_a_triggered_warehouse_run(tmp_path: Path) -> None:
    data = raw_data_dir(tmp_path / "data")
    setup = AirflowSetup(home=tmp_path / "airflow", data_dir=data, api_port=free_port())
    started = time.monotonic()
    with launched_airflow("server", setup, log=tmp_path / "launcher.log") as airflow:
        print(f"ready after {time.monotonic() - started:.0f} s")
        states = airflow.trigger_and_wait("triggered_by_test", timeout=900)
        print(f"run ended after {time.monotonic() - started:.0f} s: {states}")
        assert states["transform"] == "success", airflow.output.read_text()[-3000:]
        assert states["build"] == "success"
        if MAINTENANCE_PRESENT:
            assert states["maintain"] == "success"
        runs = {run["run_id"]: run["state"] for run in airflow.dag_runs()}
        assert runs == {"triggered_by_test": "success" if MAINTENANCE_PRESENT else runs.get(
            "triggered_by_test")}
        ran_on = airflow.query(
            "select queue, hostname, pid from task_instance where run_id = 'triggered_by_test' "
            "and task_id in ('transform', 'build')")
        assert len(ran_on) == 2
        assert all(queue == "default" and hostname and pid for queue, hostname, pid in ran_on)
        assert "LocalExecutor" in (airflow.setup.home / "logs" / "components" /
                                   "scheduler.log").read_text()
    assert setup.executor == LOCAL_EXECUTOR
    assert not port_open(setup.api_port), "the api-server outlived its process group"
    with open_warehouse(data, read_only=True) as con:
        assert con.sql("select count(*) from core.records").fetchone()[0] > 0
        assert con.sql("select count(*) from marts.vehicle_status").fetchone()[0] > 0


@pytest.mark.distributed
def test_celery_workers_run_a_triggered_warehouse_run(tmp_path: Path) -> None:
    data = raw_data_dir(tmp_path / "data")
    postgres_dir = loopback_tempdir("trackit-celery-pg-")
    postgres_port, redis_port = free_port(), free_port()
    setup = AirflowSetup(home=tmp_path / "airflow", data_dir=data, api_port=free_port(),
                         executor=CELERY_EXECUTOR,
                         database_url=f"postgresql+psycopg2://airflow@127.0.0.1:"
                                      f"{postgres_port}/airflow")
    started = time.monotonic()
    try:
        with launched_airflow("celery", setup, "--workers", "2", "--concurrency", "1",
                              "--postgres-dir", str(postgres_dir / "cluster"),
                              "--postgres-port", str(postgres_port),
                              "--redis-port", str(redis_port),
                              log=tmp_path / "launcher.log") as airflow:
            print(f"ready after {time.monotonic() - started:.0f} s")
            states = airflow.trigger_and_wait("triggered_by_test", timeout=900)
            print(f"run ended after {time.monotonic() - started:.0f} s: {states}")
            assert states["transform"] == "success", airflow.output.read_text()[-3000:]
            assert states["build"] == "success"
            if MAINTENANCE_PRESENT:
                assert states["maintain"] == "success"
            ran = airflow.query(
                "select task_id, queue, external_executor_id from task_instance where "
                "run_id = 'triggered_by_test' and task_id in ('transform', 'build')")
            worker_logs = "".join(
                (setup.home / "logs" / "components" / f"celery-worker-{n}.log").read_text()
                for n in (1, 2))
            for task_id, queue, celery_id in ran:
                assert queue == "default"
                assert celery_id, f"{task_id} has no Celery task id: not run by a worker"
                assert f"[{celery_id}] received" in worker_logs, (task_id, celery_id)
        for port in (setup.api_port, postgres_port, redis_port):
            assert not port_open(port), f"port {port} still open after the launcher stopped"
    finally:
        shutil.rmtree(postgres_dir, ignore_errors=True)
    with open_warehouse(data, read_only=True) as con:
        assert con.sql("select count(*) from marts.vehicle_status").fetchone()[0] > 0


@pytest.mark.parametrize("way", ["laptop", "server"])
def test_a_taken_port_is_a_one_line_error(way: str, tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run(
            [sys.executable, "-m", "trackit.deploy", way, "--data", str(tmp_path / "data"),
             "--port", str(port)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 1
    assert done.stderr.splitlines() == [
        f"trackit: error: port {port} is taken (another Airflow?): stop it or choose another "
        "with --port"], done.stderr


def test_database_url_is_for_the_server_way(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "trackit.deploy", "celery", "--data", str(tmp_path / "data"),
         "--database-url", "postgresql+psycopg2://airflow@127.0.0.1/airflow"],
        capture_output=True, text=True, timeout=120)
    assert done.returncode == 1
    assert done.stderr.startswith("trackit: error: --database-url is for the server way")
    assert len(done.stderr.splitlines()) == 1


def test_a_lake_on_object_storage_reaches_every_component_with_its_local_part(
        tmp_path: Path) -> None:
    setup = AirflowSetup(home=tmp_path / "home", data_dir=tmp_path / "local",
                         remote="s3://fleet-lake/prod")
    settings = setup.environment({})
    assert settings["TRACKIT_DATA"] == "s3://fleet-lake/prod"
    assert settings["TRACKIT_LOCAL"] == str(tmp_path / "local")
    local = AirflowSetup(home=tmp_path / "home", data_dir=tmp_path / "data").environment({})
    assert local["TRACKIT_DATA"] == str(tmp_path / "data") and "TRACKIT_LOCAL" not in local


@pytest.mark.distributed
def test_celery_stops_with_one_line_when_postgres_cannot_listen(tmp_path: Path) -> None:
    postgres_dir = loopback_tempdir("trackit-celery-pg-")
    try:
        with socket.socket() as taken:
            taken.bind(("127.0.0.1", 0))
            taken.listen()
            port = taken.getsockname()[1]
            done = subprocess.run(
                [sys.executable, "-m", "trackit.deploy", "celery", "--data",
                 str(tmp_path / "data"), "--port", str(free_port()), "--postgres-port",
                 str(port), "--postgres-dir", str(postgres_dir / "cluster")],
                capture_output=True, text=True, timeout=300)
    finally:
        shutil.rmtree(postgres_dir, ignore_errors=True)
    assert done.returncode == 1
    error = done.stderr.splitlines()[-1]
    assert error.startswith(f"trackit: error: PostgreSQL on port {port} exited with status "), \
        done.stderr
    assert "postgres.log" in error
    assert "Redis" not in done.stderr  # nothing after the failed server was started
