"""Exclusive locks on a lock file under the data directory (``flock``), one recipe for all.

A lock is a file opened and ``flock``-ed exclusively; the kernel releases it when the
descriptor is closed or the process dies, so a killed holder never leaves a stale lock.
``wait_s`` says what to do when another process holds it:

* ``0``: refuse at once;
* a positive number: retry until that many seconds have passed, then refuse;
* ``None``: wait as long as it takes (for locks held only for a moment).

Refusing raises ``error(busy_message)`` (a ``TrackitError``): a one-line message naming
the lock and what the operator should do. Lock files are created readable and writable
by their owner only (``0o600``); they hold nothing.
"""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from lake.errors import TrackitError

LOCK_FILE_MODE = 0o600
_RETRY_EVERY_S = 0.2


def acquire_lock(
    path: Path, *, wait_s: float | None, busy_message: str,
    error: type[TrackitError] = TrackitError,
) -> int:
    """Take the exclusive lock on ``path`` (created if missing); returns the holding fd.

    The caller closes the descriptor to release the lock (or uses :func:`hold_lock`).

    Raises:
        error: another process holds the lock (after ``wait_s``, see the module).
        OSError: the lock file cannot be created or opened.
    """
    fd = os.open(path, os.O_RDWR | os.O_CREAT, LOCK_FILE_MODE)
    try:
        if wait_s is None:
            fcntl.flock(fd, fcntl.LOCK_EX)
            return fd
        deadline = time.monotonic() + wait_s
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return fd
            except BlockingIOError:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise error(busy_message) from None
                time.sleep(min(_RETRY_EVERY_S, left))
    except BaseException:
        os.close(fd)
        raise


@contextmanager
def hold_lock(
    path: Path, *, wait_s: float | None, busy_message: str,
    error: type[TrackitError] = TrackitError,
) -> Iterator[None]:
    """Hold the exclusive lock on ``path`` for the ``with`` block (see :func:`acquire_lock`)."""
    fd = acquire_lock(path, wait_s=wait_s, busy_message=busy_message, error=error)
    try:
        yield
    finally:
        os.close(fd)
