"""`trackit transform --data DIR` prints the counts and exits 0; bad input is one line."""

from __future__ import annotations

import re
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
    assert re.fullmatch(r"\d+ rows stored in the warehouse \(load 1\) in \d+\.\ds",
                        out.stdout.splitlines()[-1]), out.stdout
    again = trackit("transform", "--data", str(data_dir), "--quiet")
    assert again.returncode == 0 and "(already done: 1)" in again.stdout
    assert again.stderr == ""
    assert re.fullmatch(r"0 rows stored in the warehouse \(nothing new\) in \d+\.\ds",
                        again.stdout.splitlines()[-1]), again.stdout


def test_each_batch_is_one_load(data_dir: Path, write_raw: RawWriter) -> None:
    for name in ("a", "b", "c"):
        write_raw(list(manual_examples().values()), name=name)
    out = trackit("transform", "--data", str(data_dir), "--batch-frames", "20")
    assert out.returncode == 0, out.stderr
    assert [line.split(":")[1].strip() for line in out.stderr.splitlines()] == [
        "batch 1/3", "batch 2/3", "batch 3/3"]
    assert re.fullmatch(r"\d+ rows stored in the warehouse \(loads 1–3\) in \d+\.\ds",
                        out.stdout.splitlines()[-1]), out.stdout


def test_missing_data_directory_is_a_one_line_error(tmp_path: Path) -> None:
    out = trackit("transform", "--data", str(tmp_path / "nowhere"))
    assert out.returncode == 1
    assert out.stderr.strip().splitlines() == [
        f"trackit: error: data directory {tmp_path / 'nowhere'} does not exist "
            "(check --data / TRACKIT_DATA)"]
