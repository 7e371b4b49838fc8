"""Errors of the ingest stage that a user can act on.

Their messages are one line and never contain a secret; the command line turns them into
``trackit: error: ...`` and a non-zero exit.
"""

from __future__ import annotations

import errno
import os
from datetime import datetime
from pathlib import Path

from lake.errors import TrackitError

_DISK_FULL = frozenset({errno.ENOSPC, errno.EDQUOT})


class IngestError(TrackitError):
    """A failure of the ingest stage with a message fit to show the user."""


class CredentialsError(IngestError):
    """The SESSID / Authorization secrets are missing or stored unsafely."""


class AuthError(IngestError):
    """Authentication failed: HTTP error, ``success: false``, or the socket closed."""


class JournalLockedError(IngestError):
    """Another ingest process already owns this instance's journal."""


class StorageError(IngestError):
    """The journal, the raw lake or the instance state cannot be written."""


def storage_error(path: Path, doing: str, exc: OSError) -> StorageError:
    """A one-line :class:`StorageError` for ``exc`` raised while ``doing`` something in ``path``.

    A full disk (or quota) names the file system holding ``path`` and what to do; other
    errors name the path and the system's reason.
    """
    if exc.errno in _DISK_FULL:
        return StorageError(
            f"no space left on device: {doing} in {path} (file system mounted at "
            f"{_mount_point(path)}); free space there and restart ingest: every frame "
            "already journaled is recovered at start"
        )
    reason = exc.strerror or str(exc)
    return StorageError(f"error {doing} in {path}: {reason}; fix that and restart ingest")


def _mount_point(path: Path) -> Path:
    """The mount point of the file system holding ``path`` (or its nearest existing parent)."""
    path = path.absolute()
    while not path.exists() and path != path.parent:
        path = path.parent
    while not os.path.ismount(path) and path != path.parent:
        path = path.parent
    return path


class OutboxError(IngestError):
    """A command could not be queued in the outbox."""


class GetioRateLimitedError(OutboxError):
    """A ``getio`` for this device was queued too recently (and says so)."""

    def __init__(self, uid: int, min_interval_s: float, frees_at: datetime) -> None:
        super().__init__(
            f"getio for uid {uid} refused: rate limit is one getio per {min_interval_s:g} s "
            f"per device; the next one is allowed at {frees_at:%Y-%m-%dT%H:%M:%SZ}"
        )
        self.uid = uid
        self.min_interval_s = min_interval_s
        self.frees_at = frees_at
