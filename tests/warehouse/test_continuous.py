"""`trackit run`: a real process following a real raw lake, stopped by signals.

The raw lake is the simulator's, recorded through the real ingest (``simulated_data``).
The process is started with ``--interval 1``; the tests add raw files while it runs, hold
the transform lock to make cycles fail, and remove the data directory to make it stop.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import signal
import subprocess
import threading
import time
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
from simulator_process import trackit_argv

from lake.ducklake import open_warehouse
from lake.errors import TrackitError
from lake.layout import DataLayout
from lake.storage import list_parquet
from warehouse.continuous import MAX_BACKOFF_S, backoff_s

REPO = Path(__file__).resolve().parents[2]


class RunProcess:
    """``trackit run`` in the background; its stderr collected in a file."""

    def __init__(self, data: Path, *args: str) -> None:
        self.log = data.parent / "run.log"
        self._log_file = self.log.open("w")
        self.proc = subprocess.Popen(
            trackit_argv("run", "--data", str(data), *args), stdout=subprocess.DEVNULL,
            stderr=self._log_file, cwd=REPO, env={**os.environ, "PYTHONUNBUFFERED": "1"})

    def text(self) -> str:
        return self.log.read_text()

    def wait_for(self, needle: str, count: int = 1, timeout: float = 180) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            text = self.text()
            if text.count(needle) >= count:
                return text
            assert self.proc.poll() is None, f"trackit run ended early:\n{text}"
            time.sleep(0.2)
        raise AssertionError(f"no {needle!r} x{count} within {timeout}s:\n{self.text()}")

    def stop(self, signum: int = signal.SIGTERM, timeout: float = 180) -> int:
        self.proc.send_signal(signum)
        code = self.proc.wait(timeout=timeout)
        self._log_file.close()
        return code

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self._log_file.close()


class DashboardReader(threading.Thread):
    """Reads marts.vehicle_status every 0.1 s through one read-only connection."""

    def __init__(self, data: Path) -> None:
        super().__init__(daemon=True)
        self.data = data
        self.stop = threading.Event()
        self.reads = 0

    def run(self) -> None:
        con = None
        while not self.stop.wait(0.1):
            try:
                con = con or open_warehouse(self.data, read_only=True)
                con.execute("select count(*) from marts.vehicle_status").fetchall()
                self.reads += 1
            except (TrackitError, duckdb.CatalogException):
                continue  # not built yet
        if con is not None:
            con.close()


def _transformed(data: Path) -> set[str]:
    with open_warehouse(data, read_only=True) as con:
        return {r[0] for r in con.execute("select path from meta.transformed_files").fetchall()}


def _raw_keys(data: Path) -> set[str]:
    return {p.relative_to(data).as_posix() for p in list_parquet(DataLayout(data).raw)}


def _newest_received(data: Path) -> object:
    with open_warehouse(data, read_only=True) as con:
        return con.execute("select max(last_received_at) from marts.vehicle_status").fetchone()[0]


def _newest_record_received(files: list[Path]) -> object:
    """The newest receive time of a records frame among ``files``."""
    newest = None
    for f in files:
        table = pq.read_table(f, columns=["received_at", "frame"]).to_pylist()
        for row in table:
            if '"records"' in row["frame"] and (newest is None or row["received_at"] > newest):
                newest = row["received_at"]
    return newest


def test_run_follows_new_raw_files_and_a_sigterm_finishes_the_cycle(
        simulated_data: Path) -> None:
    raw = sorted(list_parquet(DataLayout(simulated_data).raw))
    held_back = simulated_data.parent / "later"
    later = raw[len(raw) // 2:]
    for f in later:
        target = held_back / f.relative_to(simulated_data)
        target.parent.mkdir(parents=True, exist_ok=True)
        f.rename(target)

    run = RunProcess(simulated_data, "--interval", "1", "--maintenance-every", "2")
    reader = DashboardReader(simulated_data)
    reader.start()
    try:
        run.wait_for("frames from")
        assert _transformed(simulated_data) == _raw_keys(simulated_data)
        assert _newest_received(simulated_data) == _newest_record_received(raw[:len(raw) // 2])

        cycles = run.text().count("frames from")
        for f in later:
            (held_back / f.relative_to(simulated_data)).rename(f)
        run.wait_for("frames from", cycles + 1)  # the next cycle starts after the move
        lock = DataLayout(simulated_data).state / "transform" / "lock"
        deadline = time.monotonic() + 120
        with lock.open("a") as probe:  # a cycle is under way while the lock is held
            while True:
                try:
                    fcntl.flock(probe, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    fcntl.flock(probe, fcntl.LOCK_UN)
                except BlockingIOError:
                    break
                assert time.monotonic() < deadline, run.text()
                time.sleep(0.01)
        code = run.stop(signal.SIGTERM)
    finally:
        reader.stop.set()
        reader.join(timeout=60)
        run.kill()
    text = run.text()
    assert code == 0, text
    assert " failed (" not in text, "a polling reader never makes a cycle fail"
    assert reader.reads > 10
    stopping = text.index("SIGTERM: stopping after the cycle under way")
    assert "cycle " in text[stopping:], "the cycle under way was finished and logged"
    assert "stopped after" in text
    assert "maintenance: data files" in text
    assert "Traceback" not in text
    assert _transformed(simulated_data) == _raw_keys(simulated_data)
    assert _newest_received(simulated_data) == _newest_record_received(raw)


def test_a_failed_cycle_is_one_line_and_retried_with_backoff(simulated_data: Path) -> None:
    from transforms.ledger import transform_lock

    layout = DataLayout(simulated_data)
    with transform_lock(layout):  # another transform holds the lock: cycles fail
        run = RunProcess(simulated_data, "--interval", "1")
        try:
            text = run.wait_for("failed (2 in a row)")
        except BaseException:
            run.kill()
            raise
    try:
        failure = next(line for line in text.splitlines() if "failed (1 in a row)" in line)
        assert "another transform is running" in failure and "next try in 2s" in failure
        assert "next try in 4s" in text
        run.wait_for("frames from")
        code = run.stop(signal.SIGINT)
    finally:
        run.kill()
    assert code == 0
    assert "Traceback" not in run.text()
    assert _transformed(simulated_data) == _raw_keys(simulated_data)


def test_a_vanished_data_dir_ends_the_run_with_one_line(simulated_data: Path) -> None:
    run = RunProcess(simulated_data, "--interval", "1")
    try:
        run.wait_for("frames from")
        shutil.move(simulated_data, simulated_data.with_name("moved"))
        code = run.proc.wait(timeout=180)
    finally:
        run.kill()
    text = run.text()
    assert code == 1, text
    assert f"trackit: error: data directory {simulated_data} does not exist" in text
    assert "Traceback" not in text


def test_once_runs_one_cycle_and_a_missing_dir_is_an_error(tmp_path: Path) -> None:
    data = tmp_path / "data"
    (data / "raw").mkdir(parents=True)
    once = subprocess.run(trackit_argv("run", "--data", str(data), "--once"), cwd=REPO,
                          capture_output=True, text=True, timeout=300)
    assert once.returncode == 0, once.stderr
    assert "cycle 1: 0 frames from 0 raw files" in once.stderr
    missing = subprocess.run(trackit_argv("run", "--data", str(tmp_path / "nope")), cwd=REPO,
                             capture_output=True, text=True, timeout=60)
    assert missing.returncode == 1
    assert missing.stderr.strip().splitlines()[-1] == (
        f"trackit: error: data directory {tmp_path / 'nope'} does not exist "
        "(check --data / TRACKIT_DATA)")


def test_backoff_doubles_up_to_a_ceiling() -> None:
    assert [backoff_s(10, n) for n in (1, 2, 3)] == [20, 40, 80]
    assert backoff_s(10, 50) == MAX_BACKOFF_S
    assert backoff_s(0.1, 1) == 2.0


def test_maintenance_bounds_the_data_files_and_keeps_every_row(simulated_data: Path) -> None:
    from datetime import timedelta

    from transforms.pipeline import transform_lake
    from warehouse.build import build_warehouse
    from warehouse.maintenance import current_data_files, maintain_warehouse

    raw = sorted(list_parquet(DataLayout(simulated_data).raw))
    aside = simulated_data.parent / "aside"
    aside.mkdir()
    for f in raw:
        f.rename(aside / f.name)
    for step in range(4):  # four small transform + build cycles: many small files
        for f in raw[step * len(raw) // 4:(step + 1) * len(raw) // 4]:
            (aside / f.name).rename(f)
        transform_lake(simulated_data)
        build_warehouse(simulated_data)

    def rows() -> dict[str, int]:
        with open_warehouse(simulated_data, read_only=True) as con:
            tables = con.execute("select table_schema || '.' || table_name from "
                                 "information_schema.tables where table_catalog = "
                                 "current_database() and table_schema in ('core', 'marts')"
                                 ).fetchall()
            return {t: con.execute(f"select count(*) from {t}").fetchone()[0]
                    for (t,) in tables}

    def files_on_disk() -> int:
        return sum(1 for p in DataLayout(simulated_data).warehouse_data.rglob("*.parquet"))

    before, disk_before = rows(), files_on_disk()
    with open_warehouse(simulated_data, read_only=True) as con:
        read_before = current_data_files(con)
    summary = maintain_warehouse(simulated_data, retention=timedelta(0), grace=timedelta(0))
    assert summary.files_after < summary.files_before
    assert files_on_disk() == summary.files_after < disk_before
    with open_warehouse(simulated_data, read_only=True) as con:
        assert current_data_files(con) < read_before
    assert rows() == before
