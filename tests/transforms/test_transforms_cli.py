"""`trackit transform --data DIR` prints the counts and exits 0; bad input is one line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from conftest import RawWriter, manual_examples


def trackit(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "trackit", *args],
                          capture_output=True, text=True, timeout=120)


def test_transform_prints_where_every_frame_landed(data_dir: Path,
                                                   write_raw: RawWriter) -> None:
    write_raw([*manual_examples().values(), "not json"])
    out = trackit("transform", "--data", str(data_dir))
    assert out.returncode == 0, out.stderr
    assert "reconciles" in out.stdout
    assert any(line.split() == ["quarantined", "1"] for line in out.stdout.splitlines())
    assert "records" in out.stdout and "transform: batch 1/1" in out.stderr
    again = trackit("transform", "--data", str(data_dir), "--quiet")
    assert again.returncode == 0 and "(already done: 1)" in again.stdout


def test_missing_data_directory_is_a_one_line_error(tmp_path: Path) -> None:
    out = trackit("transform", "--data", str(tmp_path / "nowhere"))
    assert out.returncode == 1
    assert out.stderr.strip().splitlines() == [
        f"trackit: error: data directory {tmp_path / 'nowhere'} does not exist "
            "(check --data / TRACKIT_DATA)"]
