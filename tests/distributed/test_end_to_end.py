"""The whole pipeline on real servers, on loopback: the simulator feeds two ``trackit
ingest`` processes publishing into one raw lake on S3 (SeaweedFS); ``trackit_warehouse``
runs on two Celery workers (``./run airflow celery``: Redis, PostgreSQL for Airflow) with
the DuckLake catalog on another PostgreSQL and its data files on S3; the Celery process
running the transform is SIGKILLed mid-task and Airflow retries it. The marts must equal
those of a local warehouse built from the same raw files, no frame lost or counted twice.
Every server stops afterwards, whatever happened.
"""

from __future__ import annotations

import os
import shutil
import time
from contextlib import ExitStack
from pathlib import Path

import psutil
import pytest
from deploy.launched_airflow import launched_airflow
from end_to_end import (
    MetadataDatabase,
    core_counts,
    download_raw,
    failed_task_logs,
    kill_worker_mid_task,
    raw_frames,
    running_ingest,
    task_log_text,
    tries,
    trigger,
    wait_for_run,
)
from real_servers import (
    REPO,
    free_port,
    loopback_tempdir,
    port_open,
    postgres_server,
    s3_server,
)
from shared_warehouse import mart_rows
from simulator_process import running_simulator

from lake.catalog import CATALOG_ENV
from lake.ducklake import open_warehouse
from lake.layout import LOCAL_ENV, data_layout
from trackit.deploy.airflow_settings import CELERY_EXECUTOR, AirflowSetup
from transforms.pipeline import transform_lake
from warehouse.build import build_warehouse
from warehouse.config import WarehouseConfig

pytestmark = [pytest.mark.distributed, pytest.mark.timeout(1500)]

LAKE = "s3://lake/fleet"
INSTANCES = ("e2e-a", "e2e-b")
INGEST_SECONDS = 20
RUN_ID = "end_to_end"
SECRETS = {"TRACKIT_SESSID": "tjMzwqGgzNdDEyyswn3vZxFbWG",
           "TRACKIT_AUTHORIZATION": "e2e-authorization"}


def test_simulator_to_marts_on_celery_workers_with_a_worker_killed(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    started = time.monotonic()

    def elapsed() -> str:
        return f"{time.monotonic() - started:4.0f} s"

    airflow_postgres = loopback_tempdir("trackit-e2e-pg-")
    with ExitStack() as servers:
        servers.callback(shutil.rmtree, airflow_postgres, ignore_errors=True)
        s3 = servers.enter_context(s3_server(bucket="lake"))
        catalog = servers.enter_context(postgres_server(database="catalog"))
        catalog_url = catalog.url("postgresql")
        workers_local = tmp_path / "workers-local"
        s3.use_in_this_process(monkeypatch, tmp_path)
        monkeypatch.setenv(CATALOG_ENV, catalog_url)
        monkeypatch.setenv(LOCAL_ENV, str(workers_local))
        monkeypatch.delenv("TRACKIT_DATA", raising=False)
        print(f"{elapsed()} S3 on {s3.endpoint}, catalog on {catalog_url}")

        process_env = {**os.environ, **SECRETS, "PYTHONPATH": str(REPO),
                       "PYTHONUNBUFFERED": "1"}
        feed = servers.enter_context(ExitStack())
        simulator = feed.enter_context(running_simulator(
            "--vehicles", "3", "--speedup", "60", env=process_env, cwd=tmp_path))
        ingests = []
        for instance in INSTANCES:
            local = tmp_path / f"{instance}-local"
            local.mkdir()
            ingests.append(feed.enter_context(running_ingest(
                simulator, LAKE, instance, env=process_env, local=local,
                log=tmp_path / f"{instance}.log", duration=INGEST_SECONDS)))

        airflow_data = tmp_path / "airflow-data"
        airflow_data.mkdir()
        postgres_port, redis_port = free_port(), free_port()
        setup = AirflowSetup(home=tmp_path / "airflow", data_dir=airflow_data,
                             api_port=free_port(), executor=CELERY_EXECUTOR,
                             database_url=f"postgresql+psycopg2://airflow@127.0.0.1:"
                                          f"{postgres_port}/airflow")
        airflow = servers.enter_context(launched_airflow(
            "celery", setup, "--workers", "2", "--concurrency", "1",
            "--postgres-dir", str(airflow_postgres / "cluster"),
            "--postgres-port", str(postgres_port), "--redis-port", str(redis_port),
            log=tmp_path / "launcher.log",
            # a task whose worker vanished without a word is failed after 60 s at most
            settings={"AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": "60"}))
        print(f"{elapsed()} Airflow with two Celery workers ready")

        for instance, ingest in zip(INSTANCES, ingests, strict=True):
            code = ingest.wait(INGEST_SECONDS + 120)
            log = (tmp_path / f"{instance}.log").read_text()
            assert code == 0, f"ingest {instance} exited {code}: {log[-2000:]}"
            assert s3.secret_key not in log
        feed.close()  # the simulator
        print(f"{elapsed()} both ingests done")

        database = MetadataDatabase(airflow.setup.sqlalchemy_url)
        servers.callback(database.close)
        airflow.wait_for("trackit_warehouse registered", 300, lambda: database.rows(
            "select 1 from serialized_dag where dag_id = 'trackit_warehouse'"))
        trigger(airflow.cli, RUN_ID, LAKE)
        killed = kill_worker_mid_task(database, setup.home, RUN_ID, "transform",
                                      started_line="for data interval", timeout=600)
        print(f"{elapsed()} killed {killed}")
        time.sleep(3)
        assert psutil.pid_exists(killed.worker_pid), "the worker's main process died too"

        def launcher_alive() -> None:
            assert airflow.process.poll() is None, airflow.output.read_text()[-3000:]
        state = wait_for_run(database, RUN_ID, timeout=900, alive=launcher_alive)
        run_tries = tries(database, RUN_ID)
        print(f"{elapsed()} run {state}: {run_tries}")
        assert state == "success", failed_task_logs(setup.home, RUN_ID, run_tries)
        transform_tries = run_tries["transform"]
        assert transform_tries[0][0] == killed.try_number
        assert transform_tries[0][1] in ("failed", "up_for_retry"), transform_tries
        assert transform_tries[-1] == (killed.try_number + 1, "success"), transform_tries
        assert [state for _, state in run_tries["build"]] == ["success"]
        assert [state for _, state in run_tries["maintain"]] == ["success"]
        assert "transform" in task_log_text(setup.home, RUN_ID, "transform",
                                            killed.try_number + 1)

        # the distributed warehouse, read from the catalog and the bucket
        layout = data_layout(LAKE)
        keys = download_raw(layout, tmp_path / "local")
        for instance in INSTANCES:
            assert any(f"/{instance}-" in key for key in keys), (instance, keys)
        frames = raw_frames(tmp_path / "local", keys)
        with open_warehouse(layout, read_only=True) as con:
            distributed_marts = mart_rows(con)
            distributed_core = core_counts(con)
            ledger = dict(con.execute(
                "select path, frames from meta.transformed_files").fetchall())
        assert ledger == frames, "meta.transformed_files is not every raw object once"
        for table, (rows, distinct_keys) in distributed_core.items():
            assert rows == distinct_keys, f"core.{table} holds a key twice"
        assert distributed_core["records"][0] > 0
        assert sum(len(rows) for rows in distributed_marts.values()) > 0

    for port in (setup.api_port, postgres_port, redis_port, s3.port, catalog.port):
        assert not port_open(port), f"port {port} still open after the test's servers stopped"
    print(f"{elapsed()} servers stopped")

    # a local warehouse (plain data dir, SQLite catalog) from the same raw files
    local = tmp_path / "local"
    with monkeypatch.context() as patch:
        patch.delenv(CATALOG_ENV)
        transform_lake(local)
        build_warehouse(local, config=WarehouseConfig(timezone="UTC"))
        with open_warehouse(local, read_only=True) as con:
            local_marts = mart_rows(con)
            local_core = core_counts(con)
    assert distributed_core == local_core
    assert distributed_marts.keys() == local_marts.keys()
    for mart, rows in local_marts.items():
        assert distributed_marts[mart] == rows, f"marts.{mart} differs from a local build"
    print(f"{elapsed()} marts equal a local build: "
          f"{ {name: len(rows) for name, rows in local_marts.items()} }")
