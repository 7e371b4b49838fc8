"""`trackit report`: writes the day's page, one-line errors, exit codes."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from report_html_parser import parse
from report_warehouse_fixture import EMPTY_DAY, REPORT_DAY

from lake.ducklake import writing_warehouse
from trackit.cli import main

REPO = Path(__file__).resolve().parents[2]


def trackit(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "trackit", "report", *args],
        capture_output=True, text=True, cwd=REPO, timeout=120,
        env={**os.environ, "TRACKIT_TZ": "", **(env or {})},
    )


def test_report_goes_to_data_reports_by_default(known_data_dir: Path) -> None:
    done = trackit("--data", str(known_data_dir), "--date", REPORT_DAY.isoformat())
    assert done.returncode == 0, done.stderr
    out = known_data_dir / "reports" / "2026-03-10.html"
    assert done.stdout.strip() == str(out)
    assert 'id="kpi-trips"' in out.read_text(encoding="utf-8")


def test_report_writes_where_out_says_for_the_data_dir_of_trackit_data(
        known_data_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "nested" / "day.html"
    done = trackit("--date", "2026-03-10", "--out", str(out), "--tz", "Europe/Lisbon",
                   env={"TRACKIT_DATA": str(known_data_dir)})
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == str(out)
    assert "in Europe/Lisbon" in out.read_text(encoding="utf-8")


def test_empty_day_exits_zero_with_a_page_saying_so(known_data_dir: Path,
                                                    tmp_path: Path) -> None:
    out = tmp_path / "empty.html"
    done = trackit("--data", str(known_data_dir), "--date", EMPTY_DAY.isoformat(),
                   "--out", str(out))
    assert done.returncode == 0, done.stderr
    assert "No activity recorded" in out.read_text(encoding="utf-8")


def test_missing_warehouse_fails_with_one_line_naming_the_path(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "empty-data"
    assert main(["report", "--data", str(data), "--date", "2026-03-10"]) == 1
    lines = capsys.readouterr().err.strip().splitlines()
    catalog = data / "warehouse" / "catalog.sqlite"
    assert lines == [f"trackit: error: no warehouse at {catalog.absolute()} yet: run "
                     f"`trackit transform` and `trackit build` on {data} first"]
    assert not (data / "reports").exists()
    assert not (data / "warehouse").exists()


def test_a_writer_in_the_middle_of_a_transaction_does_not_block_the_report(
        make_data_dir: Callable[..., Path], tmp_path: Path) -> None:
    data = make_data_dir()
    with writing_warehouse(data) as writer:
        writer.execute("begin transaction")
        writer.execute("delete from marts.trips")
        done = trackit("--data", str(data), "--date", "2026-03-10",
                       "--out", str(tmp_path / "r.html"))
        writer.execute("rollback")
    assert done.returncode == 0, done.stderr
    # the report shows the last committed snapshot, not the writer's uncommitted deletes
    assert parse((tmp_path / "r.html").read_text(encoding="utf-8")).kpis["trips"] == "3"


def test_bad_date_and_zone_are_rejected(known_data_dir: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["report", "--data", str(known_data_dir), "--date", "10/03/2026"])
    assert exited.value.code == 2
    assert "expected a date as YYYY-MM-DD, got '10/03/2026'" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exited:
        main(["report", "--data", str(known_data_dir), "--tz", "Mars/Olympus"])
    assert exited.value.code == 2
    assert "unknown time zone 'Mars/Olympus'" in capsys.readouterr().err


def test_help_exits_zero(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["report", "--help"])
    assert exited.value.code == 0
    out = capsys.readouterr().out
    assert "--date" in out and "--out" in out and "--tz" in out
    assert "--from" in out and "--to" in out and "--vehicle" in out


def test_range_and_vehicles_go_to_their_own_page(known_data_dir: Path, tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "warehouse").symlink_to(known_data_dir / "warehouse")
    done = trackit("--data", str(data), "--from", "2026-03-09", "--to", "2026-03-10",
                   "--vehicle", "101", "--vehicle", "102,101")
    assert done.returncode == 0, done.stderr
    out = data / "reports" / "2026-03-09_2026-03-10_vehicles-101-102.html"
    assert done.stdout.strip() == str(out)
    report = parse(out.read_text(encoding="utf-8"))
    assert report.kpis["trips"] == "5"
    assert sorted(report.tables["vehicle-table"]) == ["101", "102"]


def test_range_options_are_checked_in_one_line(known_data_dir: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    base = ["report", "--data", str(known_data_dir)]
    assert main([*base, "--date", "2026-03-10", "--from", "2026-03-09"]) == 1
    assert capsys.readouterr().err.strip().splitlines() == [
        "trackit: error: give either --date or --from/--to, not both"]
    assert main([*base, "--from", "2026-03-10", "--to", "2026-03-09"]) == 1
    assert capsys.readouterr().err.strip().splitlines() == [
        "trackit: error: --to 2026-03-09 is before --from 2026-03-10"]
    with pytest.raises(SystemExit) as exited:
        main([*base, "--vehicle", "101,abc"])
    assert exited.value.code == 2
    assert "expected vehicle ids (integers, comma separated), got '101,abc'" in (
        capsys.readouterr().err)
