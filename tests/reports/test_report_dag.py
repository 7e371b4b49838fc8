"""The ``trackit_daily_report`` DAG: imports cleanly and lazily, and a real run writes
yesterday's report under ``$TRACKIT_DATA/reports/``.

Airflow runs in subprocesses with their own ``AIRFLOW_HOME`` (a fresh SQLite metadata
database), so nothing here depends on, or leaks into, other tests' Airflow setup.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from airflow_env import airflow_env

REPO = Path(__file__).resolve().parents[2]
DAG_FILE = REPO / "dags" / "trackit_daily_report.py"

INSPECT_DAG = f"""
import json, sys
from airflow.dag_processing.dagbag import DagBag
bag = DagBag(dag_folder={str(DAG_FILE)!r})
dag = bag.dags.get("trackit_daily_report")
print(json.dumps({{
    "import_errors": {{str(k): str(v) for k, v in bag.import_errors.items()}},
    "dag_ids": sorted(bag.dags),
    "max_active_runs": dag and dag.max_active_runs,
    "catchup": dag and dag.catchup,
    "timetable": dag and type(dag.timetable).__name__,
    "tasks": dag and [t.task_id for t in dag.tasks],
    "retries": dag and [t.retries for t in dag.tasks],
    "heavy_modules_imported": sorted(
        m for m in ("reports", "reports.daily", "lake.storage", "matplotlib")
        if m in sys.modules),
}}))
"""

RUN_DAG = f"""
from datetime import UTC, datetime
from airflow.dag_processing.dagbag import DagBag
from airflow.utils.db import initdb
initdb()  # a fresh SQLite metadata database in this AIRFLOW_HOME
dag = DagBag(dag_folder={str(DAG_FILE)!r}).get_dag("trackit_daily_report")
# A run at 00:30 on the 11th covers [10th 00:30, 11th 00:30): the report of the 10th.
run = dag.test(logical_date=datetime(2026, 3, 11, 0, 30, tzinfo=UTC))
print("RUN-STATE", run.state)
"""



def test_dag_imports_without_errors_and_without_heavy_work(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-c", INSPECT_DAG], capture_output=True, text=True,
                          env=airflow_env(tmp_path / "airflow"), cwd=tmp_path, timeout=180)
    assert done.returncode == 0, done.stderr[-3000:]
    facts = json.loads(done.stdout.strip().splitlines()[-1])
    assert facts["import_errors"] == {}
    assert facts["dag_ids"] == ["trackit_daily_report"]
    assert facts["max_active_runs"] == 1
    assert facts["catchup"] is False
    assert facts["timetable"] == "CronDataIntervalTimetable"
    assert facts["tasks"] == ["write_report"]
    assert facts["retries"] == [3]
    assert facts["heavy_modules_imported"] == []


def test_dag_run_writes_the_report_of_its_data_interval(
        make_data_dir: Callable[..., Path], tmp_path: Path) -> None:
    data = make_data_dir()
    env = airflow_env(tmp_path / "airflow", TRACKIT_DATA=str(data))
    done = subprocess.run([sys.executable, "-c", RUN_DAG], capture_output=True, text=True,
                          env=env, cwd=tmp_path, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "RUN-STATE success" in done.stdout, (done.stdout + done.stderr)[-3000:]
    report = data / "reports" / "2026-03-10.html"
    page = report.read_text(encoding="utf-8")
    assert '<div class="kpi" id="kpi-trips"><div class="value">3</div>' in page
    assert [p.name for p in report.parent.iterdir()] == ["2026-03-10.html"]
