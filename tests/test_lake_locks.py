"""``lake.locks``: the one lock recipe, contended by a second real process."""

from __future__ import annotations

import os
import re
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from ingest.errors import JournalLockedError
from ingest.outbox import queue_getio
from ingest.state import InstanceState
from lake.ducklake import writing_warehouse
from lake.errors import TrackitError
from lake.layout import DataLayout
from lake.locks import acquire_lock, hold_lock
from transforms.ledger import ledger_dir, transform_lock

REPO = Path(__file__).resolve().parents[1]

_HOLDER = """
import sys
from pathlib import Path
from lake.locks import hold_lock
with hold_lock(Path(sys.argv[1]), wait_s=0, busy_message="busy"):
    print("held", flush=True)
    sys.stdin.readline()
"""


@contextmanager
def held_by_other_process(path: Path) -> Iterator[subprocess.Popen[str]]:
    """``path`` locked by another process until the block ends."""
    path.parent.mkdir(parents=True, exist_ok=True)
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLDER, str(path)], cwd=REPO, text=True,
        stdin=subprocess.PIPE, stdout=subprocess.PIPE,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "held\n"
        yield holder
    finally:
        if holder.poll() is None:
            assert holder.stdin is not None
            holder.stdin.close()
        holder.wait(timeout=10)


def test_no_wait_refuses_at_once_with_the_message(tmp_path: Path) -> None:
    lock = tmp_path / "lock"
    with held_by_other_process(lock):
        started = time.monotonic()
        with pytest.raises(TrackitError, match=r"^someone else has it$"), \
                hold_lock(lock, wait_s=0, busy_message="someone else has it"):
            pass
        assert time.monotonic() - started < 0.5


def test_timeout_waits_then_refuses_with_the_message(tmp_path: Path) -> None:
    lock = tmp_path / "lock"
    with held_by_other_process(lock):
        started = time.monotonic()
        with pytest.raises(JournalLockedError, match=r"^held elsewhere; retry$"), \
                hold_lock(lock, wait_s=0.6, busy_message="held elsewhere; retry",
                          error=JournalLockedError):
            pass
        assert 0.6 <= time.monotonic() - started < 2.0


def test_timeout_takes_the_lock_released_in_time(tmp_path: Path) -> None:
    lock = tmp_path / "lock"
    with held_by_other_process(lock) as holder:
        assert holder.stdin is not None
        threading.Timer(0.3, holder.stdin.close).start()
        with hold_lock(lock, wait_s=10, busy_message="busy"):
            assert holder.wait(timeout=5) == 0


def test_blocking_waits_for_the_holder(tmp_path: Path) -> None:
    lock = tmp_path / "lock"
    with held_by_other_process(lock) as holder:
        assert holder.stdin is not None
        threading.Timer(0.5, holder.stdin.close).start()
        started = time.monotonic()
        with hold_lock(lock, wait_s=None, busy_message="unused"):
            assert time.monotonic() - started >= 0.4
            assert holder.wait(timeout=5) == 0


def test_released_when_the_block_ends_and_on_error(tmp_path: Path) -> None:
    lock = tmp_path / "lock"
    with pytest.raises(ValueError), hold_lock(lock, wait_s=0, busy_message="busy"):
        raise ValueError("inside")
    with held_by_other_process(lock):  # would fail to print "held" if still locked
        pass


def test_a_killed_holder_leaves_no_stale_lock(tmp_path: Path) -> None:
    lock = tmp_path / "lock"
    with held_by_other_process(lock) as holder:
        holder.kill()
        holder.wait(timeout=5)
        fd = acquire_lock(lock, wait_s=0, busy_message="busy")
        os.close(fd)


def test_lock_file_is_private_to_its_owner(tmp_path: Path) -> None:
    previous = os.umask(0)
    try:
        with hold_lock(tmp_path / "lock", wait_s=0, busy_message="busy"):
            pass
    finally:
        os.umask(previous)
    assert stat.S_IMODE((tmp_path / "lock").stat().st_mode) == 0o600


def test_a_missing_folder_is_an_os_error_and_leaks_nothing(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        acquire_lock(tmp_path / "absent" / "lock", wait_s=0, busy_message="busy")


# -- each site keeps its behaviour --------------------------------------------------------

def test_ingest_instance_refuses_a_second_process(tmp_path: Path) -> None:
    state = InstanceState(DataLayout(tmp_path), "u1")
    with held_by_other_process(state.lock_path), \
            pytest.raises(JournalLockedError, match=r"instance 'u1'.*--instance NAME"):
        state.acquire_lock()


def test_transform_refuses_while_another_runs(tmp_path: Path) -> None:
    layout = DataLayout(tmp_path)
    busy = re.escape(f"another transform is running on {tmp_path}")
    with held_by_other_process(ledger_dir(layout) / "lock"), \
            pytest.raises(TrackitError, match=busy), \
            transform_lock(layout):
        pass


def test_a_warehouse_writer_waits_then_names_the_lock(tmp_path: Path) -> None:
    path = DataLayout(tmp_path).state / "warehouse" / "writer.lock"
    busy = re.escape(f"another transform or build has been writing the warehouse of "
                     f"{tmp_path} for 0s (lock {path}); try again later")
    with held_by_other_process(path):
        started = time.monotonic()
        with pytest.raises(TrackitError, match=busy), \
                writing_warehouse(tmp_path, wait_s=0.5):
            pass
        assert time.monotonic() - started >= 0.5
    assert not DataLayout(tmp_path).warehouse_catalog.exists()  # refused before opening


def test_getio_waits_for_the_ledger_lock(tmp_path: Path) -> None:
    layout = DataLayout(tmp_path)
    InstanceState(layout, "u1").root.mkdir(parents=True)
    ledger_lock = layout.state / "outbox" / "getio-ledger.lock"
    with held_by_other_process(ledger_lock) as holder:
        assert holder.stdin is not None
        threading.Timer(0.5, holder.stdin.close).start()
        started = time.monotonic()
        command = queue_getio(layout, 7)
        assert time.monotonic() - started >= 0.4
    assert command.uid == 7
