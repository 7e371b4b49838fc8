"""The state one ingest instance keeps under ``DATA/state/ingest/<instance>/``.

``lock`` is held with ``flock`` for the life of the process, so two ingests can never share
a journal; ``journal/`` holds the segments; ``seq-high-water`` the last ``seq`` that made it
into the raw lake, so numbers are never reused after the journal is emptied.
"""

from __future__ import annotations

import fcntl
import os
import re
from dataclasses import dataclass
from pathlib import Path

from ingest.errors import IngestError, JournalLockedError
from lake.layout import DataLayout
from lake.storage import publishing

INSTANCE_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")


def default_instance(user_id: int) -> str:
    """The instance name of an ingest for one TRACKiT user id."""
    return f"u{user_id}"


def check_instance(name: str) -> str:
    """``name`` if it is safe in file names (it prefixes every raw file), else an error."""
    if not INSTANCE_PATTERN.fullmatch(name):
        raise IngestError(
            f"invalid instance name {name!r}: use 1-64 letters, digits, '_', '.' or '-'"
        )
    return name


@dataclass(frozen=True)
class InstanceState:
    """Paths of one instance's state."""

    layout: DataLayout
    instance: str

    @property
    def root(self) -> Path:
        return self.layout.state / "ingest" / self.instance

    @property
    def journal(self) -> Path:
        return self.root / "journal"

    @property
    def lock_path(self) -> Path:
        return self.root / "lock"

    @property
    def high_water_path(self) -> Path:
        return self.root / "seq-high-water"

    def acquire_lock(self) -> int:
        """Take the instance's exclusive lock; returns the descriptor that holds it.

        Raises:
            JournalLockedError: another process holds it.
        """
        self.root.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise JournalLockedError(
                f"another ingest is already running as instance {self.instance!r} "
                f"(lock {self.lock_path}); use --instance NAME for a second process"
            ) from None
        return fd

    def read_high_water(self) -> int:
        """The last ``seq`` published to the raw lake, ``0`` if none yet."""
        try:
            return int(self.high_water_path.read_text().strip() or 0)
        except FileNotFoundError:
            return 0

    def write_high_water(self, seq: int) -> None:
        """Durably record that every ``seq`` up to ``seq`` is in the raw lake."""
        if seq <= self.read_high_water():
            return
        with publishing(self.high_water_path) as tmp:
            tmp.write_text(f"{seq}\n")
