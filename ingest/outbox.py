"""The outbox: how ``trackit send-message`` / ``trackit getio`` hand commands to ingest.

Layout under ``DATA/state/outbox/``::

    pending/<created ns>-<id>.json         queued, oldest first (written atomically)
    inflight/<instance>--<file>            claimed by one ingest (atomic rename: one winner)
    sent/<file>                            sent on the live socket (+ sent_at, seq, connection)
    failed/<file>                          not sent, or refused by the server (+ error)
    getio-ledger.json, getio-ledger.lock   last getio queued per device (rate limit)

A command file is a JSON object: ``id`` (the manual's 25-character command id, also the
``guid`` of a driver message), ``kind`` (``driver_message`` / ``getio``), ``uid``, ``text``,
``user_name`` (optional override) and ``created_at``. Commands are sent at most once: one
found in ``inflight/`` at start-up (the ingest died while sending) goes to ``failed/``.

Queueing refuses what cannot be sent: a data directory where no ingest lives (no
``DATA/state/ingest/<instance>/``), a uid outside 1..2^63-1, blank text, text longer than
the limit. The getio ledger only records when each device last got a getio: an unreadable
one is rebuilt with a warning rather than blocking every getio.
"""

from __future__ import annotations

import logging
import os
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

from ingest.config import DEFAULT_GETIO_INTERVAL_S, DEFAULT_MAX_TEXT_BYTES
from ingest.errors import GetioRateLimitedError, OutboxError
from lake.layout import DataLayout
from lake.locks import hold_lock
from lake.storage import TMP_PREFIX, publishing
from protocol.messages import driver_message_command, getio_command, new_command_id

KIND_DRIVER_MESSAGE = "driver_message"
KIND_GETIO = "getio"
KINDS = (KIND_DRIVER_MESSAGE, KIND_GETIO)
INT64_MAX = 2**63 - 1
_INFLIGHT_SEPARATOR = "--"

log = logging.getLogger("ingest.outbox")


def check_uid(uid: int) -> int:
    """``uid`` if it is a TRACKiT id (1..2^63-1).

    Raises:
        OutboxError: it is not.
    """
    if isinstance(uid, bool) or not isinstance(uid, int) or not 1 <= uid <= INT64_MAX:
        raise OutboxError(f"uid {uid!r} is not a device id (a whole number 1..2^63-1)")
    return uid


def check_message_text(text: str, max_bytes: int = DEFAULT_MAX_TEXT_BYTES) -> str:
    """``text`` if a driver's app can be sent it: not blank, at most ``max_bytes`` UTF-8.

    Raises:
        OutboxError: it is empty or whitespace only, or too long.
    """
    if not isinstance(text, str) or not text.strip():
        raise OutboxError("the message text is empty (or only whitespace): nothing to send")
    size = len(text.encode("utf-8", "surrogatepass"))
    if size > max_bytes:
        raise OutboxError(
            f"the message text is {size:,} bytes (UTF-8), above the limit of {max_bytes:,} "
            "bytes: shorten it (or raise --max-text-bytes)"
        )
    return text


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
            command = OutboxCommand(
                id=str(data["id"]), kind=str(data["kind"]), uid=data["uid"],
                created_at=str(data.get("created_at", "")), text=data.get("text"),
                user_name=data.get("user_name"),
            )
        except (OSError, orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            raise OutboxError(f"invalid outbox command {path.name}: {exc}") from None
        if command.kind not in KINDS:
            raise OutboxError(
                f"invalid outbox command {path.name}: unknown kind {command.kind!r}"
            )
        try:
            check_uid(command.uid)
            if command.kind == KIND_DRIVER_MESSAGE:
                # the text's length is the ingest's frame limit to judge, not the CLI's
                check_message_text(command.text, max_bytes=INT64_MAX)  # type: ignore[arg-type]
        except OutboxError as exc:
            raise OutboxError(f"invalid outbox command {path.name}: {exc}") from None
        return command

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

    def reject(self, sent: Path, **details: Any) -> Path:
        """Move a command from ``sent/`` to ``failed/`` (the server refused it after the
        send), with ``details`` added."""
        try:
            record: dict[str, Any] = orjson.loads(sent.read_bytes())
        except (OSError, orjson.JSONDecodeError):
            record = {}
        record.update(details)
        final = self.failed_dir / sent.name
        with publishing(final) as tmp:
            tmp.write_bytes(orjson.dumps(record))
        sent.unlink(missing_ok=True)
        return final


def require_ingest(layout: DataLayout) -> None:
    """Refuse to queue into a data directory where no ingest ever ran (a mistyped --data).

    Raises:
        OutboxError: ``DATA/state/ingest/`` holds no instance folder.
    """
    ingest_state = layout.state / "ingest"
    try:
        instances = [entry for entry in os.scandir(ingest_state) if entry.is_dir()]
    except (FileNotFoundError, NotADirectoryError):
        instances = []
    if not instances:
        raise OutboxError(
            f"no ingest lives in data directory {layout.root} (no {ingest_state}/<instance>/): "
            "check --data / TRACKIT_DATA, or start trackit ingest on it first; "
            "nothing was queued"
        )


def queue_driver_message(
    layout: DataLayout, uid: int, text: str, *, user_name: str | None = None,
    max_text_bytes: int = DEFAULT_MAX_TEXT_BYTES, now: datetime | None = None,
) -> OutboxCommand:
    """Queue a text message to the driver app of device ``uid``; returns the command.

    Its ``id`` is the ``guid`` of the ``pnd-api`` frame, echoed by the ``msg-sts`` replies.

    Raises:
        OutboxError: ``uid`` is not a device id, or the text is blank or too long.
    """
    check_uid(uid)
    check_message_text(text, max_text_bytes)
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
    check_uid(uid)
    outbox = Outbox(layout)
    outbox.root.mkdir(parents=True, exist_ok=True)
    moment = now or datetime.now(UTC)
    ledger_lock = outbox.root / "getio-ledger.lock"
    with hold_lock(ledger_lock, wait_s=None, busy_message=f"{ledger_lock} is held"):
        ledger_path = outbox.root / "getio-ledger.json"
        ledger = _read_ledger(ledger_path)
        last = ledger.get(str(uid))
        if last is not None:
            frees_at = last + timedelta(seconds=min_interval_s)
            if moment < frees_at:
                raise GetioRateLimitedError(uid, min_interval_s, frees_at.astimezone(UTC))
        command = OutboxCommand(
            id=new_command_id(), kind=KIND_GETIO, uid=uid, created_at=_utc_iso(moment)
        )
        outbox.put(command, _ns(moment))
        ledger[str(uid)] = moment.astimezone(UTC)
        with publishing(ledger_path) as tmp:
            tmp.write_bytes(orjson.dumps({k: v.isoformat() for k, v in ledger.items()}))
        return command


def _read_ledger(path: Path) -> dict[str, datetime]:
    """The getio ledger (device → last getio queued); empty, with a warning, if garbage.

    It is only a rate-limit record: losing it at worst lets one getio per device through
    early (and the ingest keeps its own per-device limit).
    """
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return {}
    try:
        data = orjson.loads(raw)
        if not isinstance(data, dict):
            raise ValueError(f"a JSON {type(data).__name__}, not an object")
        ledger = {str(uid): datetime.fromisoformat(at) for uid, at in data.items()}
        if any(at.tzinfo is None for at in ledger.values()):
            raise ValueError("a time without a time zone")
        return ledger
    except (orjson.JSONDecodeError, ValueError, TypeError) as exc:
        log.warning(
            "getio ledger %s is unreadable (%s); rebuilding it: it only records the last "
            "getio per device, so each device's rate limit starts afresh", path,
            str(exc).splitlines()[0] if str(exc) else type(exc).__name__,
        )
        return {}


def _ns(moment: datetime) -> int:
    return int(moment.timestamp() * 1_000_000) * 1000
