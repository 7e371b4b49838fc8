"""The outbox: how ``trackit send-message`` / ``trackit getio`` hand commands to ingest.

Layout under ``DATA/state/outbox/``::

    pending/<created ns>-<id>.json         queued, oldest first (written atomically)
    inflight/<instance>--<file>            claimed by one ingest (atomic rename: one winner)
    sent/<file>                            sent on the live socket (+ sent_at, seq, connection)
    failed/<file>                          not sent (+ error)
    getio-ledger.json, getio-ledger.lock   last getio queued per device (rate limit)

A command file is a JSON object: ``id`` (the manual's 25-character command id, also the
``guid`` of a driver message), ``kind`` (``driver_message`` / ``getio``), ``uid``, ``text``,
``user_name`` (optional override) and ``created_at``. Commands are sent at most once: one
found in ``inflight/`` at start-up (the ingest died while sending) goes to ``failed/``.
"""

from __future__ import annotations

import fcntl
import os
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

from ingest.config import DEFAULT_GETIO_INTERVAL_S
from ingest.errors import GetioRateLimitedError, OutboxError
from lake.layout import DataLayout
from lake.storage import TMP_PREFIX, publishing
from protocol.messages import driver_message_command, getio_command, new_command_id

KIND_DRIVER_MESSAGE = "driver_message"
KIND_GETIO = "getio"
_INFLIGHT_SEPARATOR = "--"


@dataclass(frozen=True)
class OutboxCommand:
    """One queued outbound command."""

    id: str
    kind: str
    uid: int
    created_at: str
    text: str | None = None
    user_name: str | None = None

    def to_frame(self, user_id: int, default_user_name: str) -> dict[str, Any]:
        """The manual's frame for this command (``pnd-api`` message or ``api`` getio)."""
        if self.kind == KIND_DRIVER_MESSAGE:
            return driver_message_command(
                self.uid, self.text or "", user_id, self.user_name or default_user_name, self.id
            )
        if self.kind == KIND_GETIO:
            return getio_command(self.uid, self.id)
        raise OutboxError(f"unknown command kind {self.kind!r} in outbox command {self.id}")


def _utc_iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class Outbox:
    """The outbox folders of one data directory."""

    layout: DataLayout

    @property
    def root(self) -> Path:
        return self.layout.state / "outbox"

    @property
    def pending_dir(self) -> Path:
        return self.root / "pending"

    @property
    def inflight_dir(self) -> Path:
        return self.root / "inflight"

    @property
    def sent_dir(self) -> Path:
        return self.root / "sent"

    @property
    def failed_dir(self) -> Path:
        return self.root / "failed"

    def put(self, command: OutboxCommand, created_ns: int) -> Path:
        """Queue ``command`` atomically; returns its pending file."""
        final = self.pending_dir / f"{created_ns:020d}-{command.id}.json"
        with publishing(final) as tmp:
            tmp.write_bytes(orjson.dumps(asdict(command)))
        return final

    def pending(self) -> list[Path]:
        """Queued command files, oldest first."""
        try:
            names = os.listdir(self.pending_dir)
        except FileNotFoundError:
            return []
        return [
            self.pending_dir / name
            for name in sorted(names)
            if name.endswith(".json") and not name.startswith(TMP_PREFIX)
        ]

    def claim(self, pending: Path, instance: str) -> Path | None:
        """Move a pending command to ``inflight/`` for ``instance``; ``None`` if taken."""
        self.inflight_dir.mkdir(parents=True, exist_ok=True)
        claimed = self.inflight_dir / f"{instance}{_INFLIGHT_SEPARATOR}{pending.name}"
        try:
            os.rename(pending, claimed)
        except FileNotFoundError:
            return None
        return claimed

    def inflight(self, instance: str) -> list[Path]:
        """Commands ``instance`` claimed but never finished."""
        prefix = f"{instance}{_INFLIGHT_SEPARATOR}"
        if not self.inflight_dir.exists():
            return []
        return sorted(p for p in self.inflight_dir.iterdir() if p.name.startswith(prefix))

    @staticmethod
    def load(path: Path) -> OutboxCommand:
        """Read a command file.

        Raises:
            OutboxError: the file is not a valid command.
        """
        try:
            data = orjson.loads(path.read_bytes())
            return OutboxCommand(
                id=str(data["id"]), kind=str(data["kind"]), uid=int(data["uid"]),
                created_at=str(data.get("created_at", "")), text=data.get("text"),
                user_name=data.get("user_name"),
            )
        except (OSError, orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            raise OutboxError(f"invalid outbox command {path.name}: {exc}") from None

    def finish(self, inflight: Path, *, sent: bool, **details: Any) -> Path:
        """Move a claimed command to ``sent/`` or ``failed/`` with ``details`` added."""
        try:
            record: dict[str, Any] = orjson.loads(inflight.read_bytes())
        except (OSError, orjson.JSONDecodeError):
            record = {}
        record.update(details)
        name = inflight.name.split(_INFLIGHT_SEPARATOR, 1)[-1]
        final = (self.sent_dir if sent else self.failed_dir) / name
        with publishing(final) as tmp:
            tmp.write_bytes(orjson.dumps(record))
        inflight.unlink(missing_ok=True)
        return final


def queue_driver_message(
    layout: DataLayout, uid: int, text: str, *, user_name: str | None = None,
    now: datetime | None = None,
) -> OutboxCommand:
    """Queue a text message to the driver app of device ``uid``; returns the command.

    Its ``id`` is the ``guid`` of the ``pnd-api`` frame, echoed by the ``msg-sts`` replies.
    """
    if not text:
        raise OutboxError("the message text is empty")
    moment = now or datetime.now(UTC)
    command = OutboxCommand(
        id=new_command_id(), kind=KIND_DRIVER_MESSAGE, uid=uid, created_at=_utc_iso(moment),
        text=text, user_name=user_name,
    )
    Outbox(layout).put(command, _ns(moment))
    return command


def queue_getio(
    layout: DataLayout, uid: int, *, min_interval_s: float = DEFAULT_GETIO_INTERVAL_S,
    now: datetime | None = None,
) -> OutboxCommand:
    """Queue a ``getio`` for device ``uid``, at most one per ``min_interval_s`` per device.

    Raises:
        GetioRateLimitedError: a getio for ``uid`` was queued less than
            ``min_interval_s`` ago.
    """
    outbox = Outbox(layout)
    outbox.root.mkdir(parents=True, exist_ok=True)
    moment = now or datetime.now(UTC)
    lock_fd = os.open(outbox.root / "getio-ledger.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(lock_fd, fcntl.LOCK_EX)
        ledger_path = outbox.root / "getio-ledger.json"
        ledger: dict[str, str] = (
            orjson.loads(ledger_path.read_bytes()) if ledger_path.exists() else {}
        )
        last = ledger.get(str(uid))
        if last is not None:
            frees_at = datetime.fromisoformat(last) + timedelta(seconds=min_interval_s)
            if moment < frees_at:
                raise GetioRateLimitedError(uid, min_interval_s, frees_at.astimezone(UTC))
        command = OutboxCommand(
            id=new_command_id(), kind=KIND_GETIO, uid=uid, created_at=_utc_iso(moment)
        )
        outbox.put(command, _ns(moment))
        ledger[str(uid)] = moment.astimezone(UTC).isoformat()
        with publishing(ledger_path) as tmp:
            tmp.write_bytes(orjson.dumps(ledger))
        return command
    finally:
        os.close(lock_fd)


def _ns(moment: datetime) -> int:
    return int(moment.timestamp() * 1_000_000) * 1000
