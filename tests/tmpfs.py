"""Small real file systems for the tests of full and read-only disks.

A tmpfs mounted by the test itself is a real file system that runs out of space (ENOSPC)
or refuses writes (EROFS) exactly as a disk does. Mounting needs root: the tests that use
it skip with a reason otherwise.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest


@contextmanager
def mounted_tmpfs(mount: Path, size: str, *, read_only: bool = False) -> Iterator[Path]:
    """Mount a tmpfs of ``size`` (``"3m"``) on ``mount`` (created), unmounted afterwards."""
    if os.geteuid() != 0:
        pytest.skip("needs root to mount a tmpfs")
    mount.mkdir(parents=True, exist_ok=True)
    options = f"ro,size={size}" if read_only else f"size={size}"
    subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(mount)], check=True)
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def fill(disk: Path, leave_bytes: int) -> Path:
    """A file taking all the free space of ``disk`` but ``leave_bytes``; delete it to free."""
    filler = disk / "filler"
    stat = os.statvfs(disk)
    remaining = max(stat.f_bavail * stat.f_frsize - leave_bytes, 0)
    chunk = b"\0" * (1 << 20)
    with open(filler, "wb") as out:
        while remaining > 0:
            remaining -= out.write(chunk[: min(len(chunk), remaining)])
    return filler
