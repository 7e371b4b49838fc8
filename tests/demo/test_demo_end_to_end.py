"""``trackit demo`` end to end, as a new user runs it: simulator, ingest, commands on the live
socket, the real Airflow DAG, the summary; then the daily report and the notebook on the
demo's warehouse, and a second run that adds to the first.

One demo run (about a minute and a half) is shared by the tests of this module.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from lake.ducklake import open_warehouse

REPO = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class DemoRun:
    data: Path
    stdout: str


def run_demo(data: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "trackit", "demo", "--data", str(data), "--vehicles", "6",
         "--speedup", "240", *extra],
        capture_output=True, text=True, timeout=600, cwd=data.parent,
    )


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> DemoRun:
    data = tmp_path_factory.mktemp("demo") / "data"
    done = run_demo(data, "--minutes", "0.5")
    assert done.returncode == 0, (done.stdout + done.stderr)[-4000:]
    return DemoRun(data, done.stdout)


def scalar(data: Path, sql: str) -> object:
    """The one value of ``sql`` on the warehouse of ``data``, read as ``trackit sql`` reads."""
    con = open_warehouse(data, read_only=True)
    try:
        return con.execute(sql).fetchone()[0]  # type: ignore[index]
    finally:
        con.close()


def test_demo_prints_a_summary_of_every_stage(demo: DemoRun) -> None:
    for heading in ("raw lake:", "core tables:", "quarantine:", "trips:", "I/O changes:",
                    "messages:", "DAG trackit_warehouse succeeded", "warehouse:"):
        assert heading in demo.stdout, demo.stdout
    assert "2 frames out" in demo.stdout
    assert "the last build's checks passed" in demo.stdout
    assert 'query it:     ./run trackit sql --data ' in demo.stdout
    assert not (demo.data / "warehouse.duckdb").exists()
    assert not (demo.data / "core").exists()


def test_demo_warehouse_is_a_ducklake_of_checked_snapshots(demo: DemoRun) -> None:
    assert (demo.data / "warehouse" / "catalog.sqlite").is_file()
    assert scalar(demo.data, "select count(*) from meta.checks where not passed") == 0
    assert scalar(demo.data, "select bool_and(passed) from meta.checks") is True
    snapshot = scalar(demo.data, "select id from current_snapshot()")
    assert f"at snapshot {snapshot};" in demo.stdout


def test_demo_warehouse_holds_trips_messages_and_quarantined_faults(demo: DemoRun) -> None:
    assert scalar(demo.data, "select count(*) from marts.trips") > 0
    assert scalar(demo.data, "select count(*) from marts.io_changes") > 0
    # The driver message sent through the live socket has its statuses in the latency mart.
    assert scalar(demo.data, "select count(*) from marts.message_latency "
                             "where guid is not null and not_processed_at is not null") == 1
    # The simulator's malformed frames were quarantined with a reason, not dropped.
    assert scalar(demo.data, "select count(*) from core.quarantine where stage = 'parse'") > 0


def test_demo_trips_agree_with_the_simulators_ground_truth(demo: DemoRun) -> None:
    truth = json.loads((demo.data / "state/demo/ground_truth-run1.json").read_text())
    finished = [t for t in truth["trips"] if not t["open"]]
    line = next(x for x in demo.stdout.splitlines() if x.startswith("trips:"))
    matched = int(line.split(" were found")[0].rsplit(" ", 1)[-1])
    assert finished, "the simulator drove no trip"
    assert matched >= 0.8 * len(finished), line


def summary_figures(stdout: str, pattern: str) -> list[float]:
    """The numbers ``pattern``'s groups capture in the summary line that matches it."""
    found = re.search(pattern, stdout)
    assert found, (pattern, stdout)
    return [float(group.replace(",", "")) for group in found.groups()]


def test_demo_imports_the_simulators_places_before_the_build(demo: DemoRun) -> None:
    assert "trackit places import" in demo.stdout
    places = (demo.data / "state/demo/places.csv").read_text().splitlines()[1:]
    assert scalar(demo.data, "select count(*) from core.places") == len(places) > 0
    assert scalar(demo.data, "select count(*) from marts.place_visits "
                             "where kind = 'named' and not list_contains(flags, 'first')") > 0


def test_demo_idle_agrees_with_the_simulators_ground_truth(demo: DemoRun) -> None:
    found_h, truth_h, within, vehicles = summary_figures(
        demo.stdout, r"idle: +([\d.,]+) h in the marts vs ([\d.,]+) h true .*?; "
                     r"(\d+) of (\d+) vehicles within")
    # The socket shows one record in three (every 30 s), so each idle stretch is measured
    # to a step: the simulator's own check allows 5 %, the summary 10 % or 60 s a vehicle.
    assert vehicles >= 1 and truth_h > 0
    assert abs(found_h - truth_h) <= 0.1 * truth_h
    assert within >= vehicles - 1


def test_demo_overspeed_agrees_with_the_simulators_ground_truth(demo: DemoRun) -> None:
    truth, matched, found, without_truth = summary_figures(
        demo.stdout, r"of the simulator's (\d+) episodes above the limit (\d+) were found "
                     r"in marts.overspeed \((\d+) there, (\d+) without a true one\)")
    # A quarantined (malformed) frame can hide one record above the limit: one episode.
    assert matched >= truth - 1
    assert without_truth <= 1 and found >= matched


def test_demo_silences_agree_with_the_simulators_ground_truth(demo: DemoRun) -> None:
    truth, _, matched = summary_figures(
        demo.stdout, r"of the simulator's (\d+) silences over an hour \((\d+) still silent\) "
                     r"(\d+) were found")
    # Every true silence is over an hour: a hole that long in the periodic records, or a
    # vehicle still silent in marts.vehicle_status.
    assert matched == truth


def test_demo_place_visits_agree_with_the_simulators_ground_truth(demo: DemoRun) -> None:
    truth, matched, _, found, _, _, _, other = summary_figures(
        demo.stdout, r"of the simulator's (\d+) visits to named places (\d+) were found "
                     r"in marts.place_visits \((\d+) more .*?; of its (\d+) visits (\d+) have "
                     r"no true one \((\d+) at discovered places, (\d+) the stay before a "
                     r"first trip, (\d+) other\)")
    # Vehicles park only at named places; a quarantined frame can cost a stop its end.
    assert truth > 0 and matched >= 0.95 * truth
    assert found >= matched and other <= max(1, 0.05 * found)


def test_report_and_notebook_agree_with_the_demo_warehouse(demo: DemoRun) -> None:
    env = {**os.environ, "TRACKIT_REPORT_TEST_DATA": str(demo.data)}
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
         "tests/reports/test_report_daily_matches_marts.py",
         "tests/reports/test_report_notebook.py"],
        capture_output=True, text=True, env=env, cwd=REPO, timeout=600,
    )
    assert done.returncode == 0, done.stdout[-4000:]
    assert " passed" in done.stdout and " failed" not in done.stdout


def test_second_demo_run_continues_the_clock_and_adds_data(demo: DemoRun) -> None:
    before = scalar(demo.data, "select count(*) from core.records")
    done = run_demo(demo.data, "--minutes", "0.25")
    assert done.returncode == 0, (done.stdout + done.stderr)[-4000:]
    runs = json.loads((demo.data / "state/demo/runs.json").read_text())["runs"]
    assert [r["run"] for r in runs] == [1, 2]
    assert runs[1]["simulated_start"] == runs[0]["simulated_end"]
    after = scalar(demo.data, "select count(*) from core.records")
    assert after > before


def test_readme_queries_run_read_only_on_the_demo_warehouse(demo: DemoRun) -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    querying = readme.split("## Querying", 1)[1].split("\n## ", 1)[0]
    block = querying.split("```sql\n", 1)[1].split("```", 1)[0]
    parts = re.split(r"^-- (\d+)\. .*$", block, flags=re.MULTILINE)
    questions = dict(zip(map(int, parts[1::2]), parts[2::2], strict=True))
    assert sorted(questions) == list(range(1, 11))
    # a short demo may see no speeding (5), no night (7: it depends on the wall clock) and
    # no silence of more than an hour (9); every other question has an answer
    may_be_empty = {5, 7, 9}
    con = open_warehouse(demo.data, read_only=True)
    try:
        for number, sql in questions.items():
            rows = con.execute(sql).fetchall()
            assert rows or number in may_be_empty, f"question {number}: no rows\n{sql}"
    finally:
        con.close()


def test_demo_io_changes_agree_with_the_changes_the_simulator_sent(demo: DemoRun) -> None:
    from trackit.demo_summary import load_truth

    sent = load_truth([demo.data / "state/demo/ground_truth-run1.json"])["io_changes"]
    # A second run (another test) may have added data since: count run 1's span only.
    run1_end = json.loads((demo.data / "state/demo/runs.json").read_text())["runs"][0][
        "simulated_end"]
    con = open_warehouse(demo.data, read_only=True)
    try:
        found = con.execute(
            "select count(*) from marts.io_changes "
            "where from_value is not null and changed_at <= ?::timestamptz",
            [run1_end],
        ).fetchone()[0]  # type: ignore[index]
    finally:
        con.close()
    assert len(sent) >= 10
    assert abs(found - len(sent)) <= max(2, 0.05 * len(sent)), (found, len(sent))
