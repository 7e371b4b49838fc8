"""The ``trackit_warehouse`` DAG: imports cleanly and lazily, and ``dag.test()`` runs it end
to end on raw files recorded from the simulator through the real ingest.

Airflow runs in subprocesses with their own ``AIRFLOW_HOME`` (a session-wide migrated
SQLite database), so nothing leaks into other tests' Airflow setup.
"""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from airflow_env import REPO, airflow_env
from sample_fleet import DEFAULT_START, FleetSpec, generate, store_core_rows

from lake.ducklake import open_warehouse

DAG_FILE = REPO / "dags" / "trackit_warehouse.py"

INSPECT_DAG = f"""
import json, sys
from airflow.dag_processing.dagbag import DagBag
bag = DagBag(dag_folder={str(DAG_FILE)!r})
dag = bag.dags.get("trackit_warehouse")
print(json.dumps({{
    "import_errors": {{str(k): str(v) for k, v in bag.import_errors.items()}},
    "dag_ids": sorted(bag.dags),
    "max_active_runs": dag.max_active_runs,
    "catchup": dag.catchup,
    "timetable": type(dag.timetable).__name__,
    "cron": dag.timetable.expression,
    "tasks": [t.task_id for t in dag.topological_sort()],
    "retries": {{t.task_id: t.retries for t in dag.tasks}},
    "heavy_modules_imported": sorted(
        m for m in ("duckdb", "warehouse", "transforms", "pandera", "polars", "pyarrow")
        if m in sys.modules),
}}))
"""

# Runs the DAG once per logical date in one process (Airflow's start-up is the slow part);
# sys.argv[2] is a JSON list of Python snippets to execute after each run but the last.
RUN_DAG = f"""
import json, sys
from datetime import UTC, datetime
from airflow.dag_processing.dagbag import DagBag
dag = DagBag(dag_folder={str(DAG_FILE)!r}).get_dag("trackit_warehouse")
between = json.loads(sys.argv[2])
for n, logical in enumerate(sys.argv[3:]):
    run = dag.test(logical_date=datetime.fromisoformat(logical),
                   run_conf={{"data_dir": sys.argv[1]}})
    states = {{ti.task_id: str(ti.state) for ti in run.get_task_instances()}}
    print("RUN-STATE", n, run.state, sorted(states.items()), flush=True)
    if n < len(between):
        exec(between[n])
"""


def inspect_dag(home: Path) -> dict[str, Any]:
    done = subprocess.run([sys.executable, "-c", INSPECT_DAG], capture_output=True, text=True,
                          env=airflow_env(home), cwd=home, timeout=180)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def run_dag(home: Path, data: Path, *logical_dates: str, between: tuple[str, ...] = ()
            ) -> list[str]:
    done = subprocess.run([sys.executable, "-c", RUN_DAG, str(data), json.dumps(between),
                           *logical_dates],
                          capture_output=True, text=True, env=airflow_env(home), cwd=home,
                          timeout=300)
    assert done.returncode == 0, (done.stdout + done.stderr)[-4000:]
    return [line for line in done.stdout.splitlines() if line.startswith("RUN-STATE")]


def warehouse_rows(data: Path, sql: str) -> list[tuple]:
    con = open_warehouse(data, read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def test_dag_imports_without_errors_and_without_heavy_work(airflow_home: Path) -> None:
    facts = inspect_dag(airflow_home)
    assert facts["import_errors"] == {}
    assert "trackit_warehouse" in facts["dag_ids"]
    assert facts["max_active_runs"] == 1 and facts["catchup"] is False
    assert facts["timetable"] == "CronDataIntervalTimetable"
    assert facts["cron"] == "*/15 * * * *"
    assert facts["tasks"] == ["transform", "build", "maintain"]
    assert facts["retries"]["transform"] == 2 and facts["retries"]["build"] == 0
    assert facts["retries"]["maintain"] == 2
    assert facts["heavy_modules_imported"] == []


def _close(a: datetime, b: datetime, seconds: float) -> bool:
    return abs((a - b).total_seconds()) <= seconds


def _iso(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def test_dag_builds_the_marts_of_the_simulated_fleet(
    airflow_home: Path, simulated_data: Path
) -> None:
    states = run_dag(airflow_home, simulated_data,
                     "2026-03-02T09:00:00+00:00", "2026-03-02T09:15:00+00:00")
    assert [s.split()[2] for s in states] == ["success", "success"], states
    truth = json.loads((simulated_data.parent / "truth.json").read_text())

    # every trip the simulator completed well before its data ended is found, right
    trips = warehouse_rows(simulated_data, "select vid, start_time, end_time, distance_km, "
                                           "distance_source, detection, is_open "
                                           "from marts.trips")
    last_seen = dict(warehouse_rows(simulated_data,
                                    "select vid, max(tmx) from core.records group by vid"))
    silent = [(p["vid"], _iso(p["from"]), _iso(p["until"])) for p in truth["silent_periods"]]
    expected = [
        t for t in truth["trips"]
        if not t["open"] and t["vid"] in last_seen
        and _iso(t["end"]) < last_seen[t["vid"]] - timedelta(minutes=10)
        and not any(v == t["vid"] and s < _iso(t["end"]) + timedelta(minutes=10)
                    and u > _iso(t["start"]) for v, s, u in silent)
    ]
    assert len(expected) >= 8
    for t in expected:
        found = [m for m in trips if m[0] == t["vid"] and _close(m[1], _iso(t["start"]), 2)]
        assert found, f"trip of {t['vid']} at {t['start']} not found"
        _, _, end, km, source, detection, is_open = found[0]
        assert _close(end, _iso(t["end"]), 2) and not is_open
        assert detection == t["detection"] and source == "odometer"
        assert km == pytest.approx(t["odometer_delta_m"] / 1000, abs=0.002)

    # the driver message we sent: linked to the server's id, statuses and final state
    [message] = truth["messages_to_drivers"]
    [row] = warehouse_rows(simulated_data, "select message_id, guid, final_status, "
                                           "seconds_to_read from marts.message_latency "
                                           "where guid is not null")
    assert row[:3] == (message["message_id"], message["guid"], message["final_status"])
    assert row[3] is not None and row[3] > 0

    # every I/O change of the simulator is a row of io_changes (at most 1 s apart)
    changes = warehouse_rows(simulated_data, "select vid, io, changed_at, to_value "
                                             "from marts.io_changes")
    delivered = [
        c for c in truth["io_changes"]
        if _iso(c["emitted"]) < last_seen[c["vid"]]
        and not any(v == c["vid"] and s <= _iso(c["tmx"]) <= u for v, s, u in silent)
    ]
    assert len(delivered) >= 20
    for change in delivered:
        assert any(
            (vid, io, value) == (change["vid"], change["io"], float(change["to_value"]))
            and _close(at, _iso(change["tmx"]), 1)
            for vid, io, at, value in changes
        ), change

    # ... and every change in io_changes is one the simulator made (a record carrying a
    # stale level made the input flip back and forth right after its event)
    made = [(c["vid"], c["io"], _iso(c["tmx"]), float(c["to_value"]))
            for c in truth["io_changes"]]
    seen_changes = warehouse_rows(simulated_data, "select vid, io, changed_at, to_value "
                                                  "from marts.io_changes "
                                                  "where from_value is not null")
    assert len(seen_changes) >= 20
    invented = [
        row for row in seen_changes
        if not any((vid, io, value) == (row[0], row[1], row[3]) and _close(at, row[2], 1)
                   for vid, io, at, value in made)
    ]
    assert invented == []

    # the second run found nothing new: one build, one verdict, no second snapshot of marts
    assert warehouse_rows(simulated_data, "select count(*), bool_and(passed) "
                                          "from meta.checks") == [(1, True)]


def test_a_failed_check_fails_the_dag_run_and_commits_nothing(
    airflow_home: Path, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    store_core_rows(data, generate(FleetSpec(start=DEFAULT_START, hours=12, vehicles=2)))
    # after a good run: a bug doubles the trips' distances, then a new vehicle's data lands
    bug_then_new_data = f"""
import sys
from datetime import timedelta
from pathlib import Path
sys.path.insert(0, {str(Path(__file__).resolve().parents[1])!r})
from lake.ducklake import writing_warehouse
from sample_fleet import DEFAULT_START, FleetSpec, generate, store_core_rows
with writing_warehouse(Path({str(data)!r})) as con:
    con.execute("update marts.trips set distance_km = distance_km * 2")
later = generate(FleetSpec(start=DEFAULT_START + timedelta(days=1), hours=12, vehicles=3))
store_core_rows(Path({str(data)!r}),
                {{k: [r for r in v if r["vid"] == 800002] for k, v in later.items()}})
"""
    first, second = run_dag(airflow_home, data, "2026-03-02T12:00:00+00:00",
                            "2026-03-02T12:15:00+00:00", between=(bug_then_new_data,))
    assert first.split()[2] == "success", first
    assert second.split()[2] == "failed", second
    assert "('build', 'failed')" in second and "('maintain', 'upstream_failed')" in second
    [(vehicles,)] = warehouse_rows(data, "select count(distinct vid) from marts.trips")
    assert vehicles == 2  # readers still see the last checked build
    [(passed, failures)] = warehouse_rows(
        data, "select passed, failures from meta.checks order by checked_at desc limit 1")
    assert passed is False and failures
