"""The state one ingest instance keeps under ``DATA/state/ingest/<instance>/``.

``lock`` is held with ``flock`` for the life of the process, so two ingests can never share
a journal; ``journal/`` holds the segments; ``damaged/`` keeps segments that had damaged
ranges, as they were found; ``seq-high-water`` the highest ``seq`` ever handed out that left
the journal (published to the raw lake, or kept in ``damaged/``), so numbers are never
reused after the journal is emptied.
"""

from __future__ import annotations

import os
import re
import socket
from dataclasses import dataclass
from pathlib import Path

from ingest.errors import IngestError, JournalLockedError, storage_error
from lake.layout import DataLayout
from lake.locks import acquire_lock
from lake.storage import fsync_dir, publishing

_SEQ_LIMIT = 2**63

INSTANCE_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")


def default_instance(user_id: int, *, shared_lake: bool = False) -> str:
    """The instance name of an ingest for one TRACKiT user id.

    ``shared_lake`` (a lake on object storage, which ingests of several hosts may share):
    ``u<user id>-<host name>``, so two hosts of the same account never share a name.
    """
    if not shared_lake:
        return f"u{user_id}"
    host = re.sub(r"[^A-Za-z0-9_.-]+", "-", socket.gethostname()).strip("-.") or "host"
    return f"u{user_id}-{host}"[:64].rstrip("-.")


def check_instance(name: str) -> str:
    """``name`` if it is safe in file names (it prefixes every raw file), else an error."""
    if not INSTANCE_PATTERN.fullmatch(name):
        raise IngestError(
            f"invalid instance name {name!r}: use 1-64 letters, digits, '_', '.' or '-'"
        )
    return name


@dataclass(frozen=True)
class HighWaterMark:
    """The recorded high-water mark: ``seq`` (``0`` if none), or why it cannot be trusted.

    ``problem`` is ``None`` for a valid number, else ``"missing"``, ``"empty"``,
    ``"negative (-5)"`` or ``"not a number ('garbage')"``.
    """

    seq: int
    problem: str | None = None


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

    @property
    def damaged(self) -> Path:
        return self.root / "damaged"

    def acquire_lock(self) -> int:
        """Take the instance's exclusive lock; returns the descriptor that holds it.

        Raises:
            JournalLockedError: another process holds it.
        """
        busy = (f"another ingest is already running as instance {self.instance!r} "
                f"(lock {self.lock_path}); use --instance NAME for a second process")
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            return acquire_lock(self.lock_path, wait_s=0, busy_message=busy,
                                error=JournalLockedError)
        except OSError as exc:
            raise storage_error(self.root, "creating the lock file", exc) from None

    def load_high_water(self) -> HighWaterMark:
        """The recorded high-water mark, with the reason when it cannot be trusted."""
        try:
            text = self.high_water_path.read_text(errors="replace").strip()
        except FileNotFoundError:
            return HighWaterMark(0, "missing")
        if not text:
            return HighWaterMark(0, "empty")
        try:
            seq = int(text)
        except ValueError:
            return HighWaterMark(0, f"not a number ({text[:40]!r})")
        if seq < 0:
            return HighWaterMark(0, f"negative ({seq})")
        if seq >= _SEQ_LIMIT:
            return HighWaterMark(0, f"out of range ({text[:40]})")
        return HighWaterMark(seq)

    def read_high_water(self) -> int:
        """The recorded high-water mark, ``0`` if there is none or it is unreadable."""
        return self.load_high_water().seq

    def write_high_water(self, seq: int) -> None:
        """Durably record that no ``seq`` up to ``seq`` may be handed out again."""
        if seq <= self.read_high_water():
            return
        self.reset_high_water(seq)

    def reset_high_water(self, seq: int) -> None:
        """Durably replace the high-water mark by ``seq``, whatever the file held."""
        with publishing(self.high_water_path) as tmp:
            tmp.write_text(f"{seq}\n")

    def move_aside(self, segment: Path) -> Path:
        """Move a journal segment into ``damaged/`` (durably, never overwriting); its new path."""
        self.damaged.mkdir(parents=True, exist_ok=True)
        target = self.damaged / segment.name
        copy = 0
        while target.exists():
            copy += 1
            target = self.damaged / f"{segment.name}.{copy}"
        os.rename(segment, target)
        fsync_dir(self.damaged)
        fsync_dir(segment.parent)
        return target
