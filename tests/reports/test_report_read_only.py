"""`trackit report` reads a warehouse on a read-only file system; an unwritable output is
one line that says what to do."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from report_warehouse_fixture import REPORT_DAY, build_known_warehouse

from trackit.cli import main


@pytest.fixture
def read_only_data(tmp_path: Path) -> Iterator[Path]:
    """A data directory holding the known warehouse, on a tmpfs remounted read-only."""
    if os.geteuid() != 0:
        pytest.skip("needs root to mount a tmpfs")
    mount = tmp_path / "data"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", str(mount)], check=True)
    try:
        build_known_warehouse(mount)
        subprocess.run(["mount", "-o", "remount,ro", str(mount)], check=True)
        yield mount
    finally:
        subprocess.run(["umount", str(mount)], check=True)


def test_a_read_only_data_dir_is_read_when_out_is_elsewhere(
        read_only_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "day.html"
    code = main(["report", "--data", str(read_only_data), "--date", REPORT_DAY.isoformat(),
                 "--out", str(out)])
    assert code == 0, capsys.readouterr().err
    assert 'id="kpi-trips"' in out.read_text(encoding="utf-8")


def test_the_default_output_on_a_read_only_data_dir_is_one_line(
        read_only_data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["report", "--data", str(read_only_data), "--date", REPORT_DAY.isoformat()])
    assert code == 1
    out = read_only_data / "reports" / f"{REPORT_DAY.isoformat()}.html"
    assert capsys.readouterr().err.strip().splitlines() == [
        f"trackit: error: cannot write the report {out}: Read-only file system "
        "(give --out FILE in a writable place)"]


def test_an_output_that_is_a_directory_is_one_line(
        known_data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["report", "--data", str(known_data_dir), "--date", REPORT_DAY.isoformat(),
                 "--out", str(tmp_path)])
    assert code == 1
    assert capsys.readouterr().err.strip().splitlines() == [
        f"trackit: error: cannot write the report {tmp_path}: Is a directory "
        "(give --out FILE in a writable place)"]
