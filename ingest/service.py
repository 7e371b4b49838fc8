"""The running ingest: connect, authenticate, journal, roll, reconnect, send, report.

This is the thin asyncio layer over the pure modules. One process owns one instance
(``DATA/state/ingest/<instance>/``, flock'ed). Start-up recovers the journal into the raw
lake first; then the connection loop keeps a socket open, the journal receives every frame
(see ``ingest.connection``), a worker thread rolls closed segments into Parquet, timers
fsync and age-roll the journal and print the status line, and the outbox poller sends
queued commands on the live socket. ``SIGTERM``/``SIGINT`` or ``duration_s`` end it
cleanly: the journal is rolled and every frame is in the raw lake when :func:`run` returns.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import signal
import time
import uuid
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

import orjson
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidHandshake, InvalidURI, WebSocketException
from websockets.frames import CLOSE_CODE_EXPLANATIONS, CloseCode

from ingest.auth import http_authenticate
from ingest.backoff import Backoff
from ingest.config import REJECTING_CLOSE_CODES, IngestConfig
from ingest.connection import JournalingConnection
from ingest.errors import AuthError, IngestError, storage_error
from ingest.frames import auth_reply_success
from ingest.journal import ClosedSegment, JournalWriter, RecordKind
from ingest.outbox import KIND_GETIO, Outbox, OutboxCommand
from ingest.rawfiles import publish_segment
from ingest.recovery import recover_journal
from ingest.state import InstanceState, check_instance, default_instance
from ingest.status import IngestCounters, status_line
from lake.layout import data_layout
from lake.object_store import ObjectExistsError
from protocol.messages import auth_command

log = logging.getLogger("ingest")


@dataclass(frozen=True)
class IngestSummary:
    """What one run did (also printed by ``trackit ingest`` at exit)."""

    instance: str
    recovered_frames: int
    frames: int
    frames_out: int
    bytes: int
    files_written: int
    reconnects: int
    first_seq: int
    last_seq: int


class _AuthWatcher:
    """Journals frames like the journal itself, and resolves ``reply`` with the first
    ``auth`` reply's ``success``."""

    def __init__(self, journal: JournalWriter, reply: asyncio.Future[bool]) -> None:
        self.journal = journal
        self.reply = reply
        self.flush = journal.flush

    def add(self, kind: int, payload: bytes) -> None:
        self.journal.add(kind, payload)
        if kind == RecordKind.TEXT_IN and not self.reply.done():
            success = auth_reply_success(payload)
            if success is not None:
                self.reply.set_result(success)


@dataclass(frozen=True)
class _SentCommand:
    """The last command sent: the server may still refuse it by closing the socket."""

    path: Path
    command_id: str
    connection_id: str
    sent_monotonic: float


class _ConnectFailure(Exception):
    """One connection attempt failed; the message is the cause, free of secrets."""


class IngestService:
    """One ingest process; see the module docstring. Use :func:`serve` or :func:`run`."""

    def __init__(self, config: IngestConfig) -> None:
        self.layout = data_layout(config.data_dir)
        instance = check_instance(config.instance or default_instance(
            config.user_id, shared_lake=self.layout.remote is not None))
        self.config = replace(config, instance=instance)
        self.state = InstanceState(self.layout, instance)
        self.outbox = Outbox(self.layout)
        self.counters = IngestCounters()
        self.backoff = Backoff(initial_s=config.backoff_initial_s, cap_s=config.backoff_cap_s)
        self._stop = asyncio.Event()
        self._fatal: IngestError | None = None
        self._roller = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ingest-roll")
        self._journal: JournalWriter | None = None
        self._live: JournalingConnection | None = None
        self._connection_id = ""
        self._last_getio: dict[int, float] = {}
        self._last_sent: _SentCommand | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def instance(self) -> str:
        assert self.config.instance is not None
        return self.config.instance

    def stop(self) -> None:
        """Ask the service to finish cleanly (safe from signal handlers)."""
        self._stop.set()

    async def serve(self) -> IngestSummary:
        """Run until stopped; returns the summary.

        Raises:
            IngestError: the first connection failed (auth, HTTP, closed socket), the
                instance is locked, or the journal cannot be written.
        """
        self._loop = asyncio.get_running_loop()
        lock_fd = self.state.acquire_lock()
        try:
            try:
                recovered = await asyncio.to_thread(recover_journal, self.state)
            except OSError as exc:
                raise storage_error(self.state.root, "recovering the journal", exc) from None
            self._fail_interrupted_commands()
            first_seq = recovered.next_seq
            try:
                self._journal = JournalWriter(
                    self.state.journal, first_seq, self.config.roll_bytes,
                    self._on_segment_closed,
                )
            except OSError as exc:
                raise storage_error(self.state.journal, "opening the journal", exc) from None
            log.info(
                "ingest instance %s: next seq %d, journal %s",
                self.instance, first_seq, self.state.journal,
            )
            timers = [
                asyncio.create_task(self._age_roller()),
                asyncio.create_task(self._fsyncer()),
                asyncio.create_task(self._status_reporter()),
                asyncio.create_task(self._outbox_poller()),
            ]
            if self.config.duration_s is not None:
                self._loop.call_later(self.config.duration_s, self._stop.set)
            try:
                await self._connection_loop()
            finally:
                for task in timers:
                    task.cancel()
                await asyncio.gather(*timers, return_exceptions=True)
                try:
                    self._journal.close()
                except OSError as exc:
                    self._journal_failed(exc)
                await asyncio.to_thread(self._roller.shutdown, wait=True)
                await asyncio.sleep(0)  # let the last roll's accounting callback run
                self._update_counters()
            if self._fatal is not None:
                raise self._fatal
            return IngestSummary(
                instance=self.instance,
                recovered_frames=recovered.frames,
                frames=self.counters.frames,
                frames_out=self.counters.frames_out,
                bytes=self.counters.bytes,
                files_written=self.counters.files_written + len(recovered.files),
                reconnects=self.counters.reconnects,
                first_seq=first_seq,
                last_seq=self._journal.next_seq - 1,
            )
        finally:
            os.close(lock_fd)

    # -- connection ---------------------------------------------------------------------

    async def _connection_loop(self) -> None:
        first = True
        while not self._stop.is_set():
            try:
                ws = await self._connect_and_authenticate()
            except _ConnectFailure as exc:
                if first:
                    raise AuthError(str(exc)) from None
                delay = self.backoff.next_delay()
                log.warning("reconnect failed (%s); next attempt in %.2f s", exc, delay)
                await self._sleep_unless_stopped(delay)
                continue
            if not first:
                log.info("reconnected as connection %s", self._connection_id)
            first = False
            connected_at = time.monotonic()
            cause = await self._hold(ws)
            if self._fatal is not None:
                return
            if cause is None:
                return
            self.counters.reconnects += 1
            if time.monotonic() - connected_at >= self.config.stable_after_s:
                self.backoff.reset()
            delay = self.backoff.next_delay()
            log.warning(
                "connection %s lost (%s); reconnecting in %.2f s",
                self._connection_id, cause, delay,
            )
            await self._sleep_unless_stopped(delay)

    async def _connect_and_authenticate(self) -> JournalingConnection:
        config, journal = self.config, self._journal
        assert journal is not None
        credentials = config.credentials
        try:
            await asyncio.to_thread(
                http_authenticate, config.auth_url, credentials, config.open_timeout_s
            )
        except AuthError as exc:
            raise _ConnectFailure(str(exc)) from None
        self._connection_id = (
            f"{self.instance}-{datetime.now(UTC):%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}"
        )
        reply: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        try:
            journal.start_connection(self._connection_id)
        except OSError as exc:
            raise storage_error(self.state.journal, "writing the journal", exc) from None
        try:
            ws = await connect(
                config.url,
                create_connection=functools.partial(  # type: ignore[arg-type]
                    JournalingConnection, sink=_AuthWatcher(journal, reply)
                ),
                open_timeout=config.open_timeout_s,
                ping_interval=config.ping_interval_s,
                ping_timeout=config.ping_timeout_s,
                max_size=config.max_message_bytes,
            )
        except (OSError, TimeoutError, InvalidHandshake, InvalidURI, WebSocketException) as exc:
            raise _ConnectFailure(
                credentials.redact(f"cannot connect to {config.url}: {exc}")
            ) from None
        assert isinstance(ws, JournalingConnection)
        try:
            await ws.send(orjson.dumps(auth_command(config.user_id, credentials.sessid)).decode())
            closed = asyncio.ensure_future(ws.wait_closed())
            done, _ = await asyncio.wait(
                {reply, closed}, timeout=config.auth_timeout_s,
                return_when=asyncio.FIRST_COMPLETED,
            )
            closed.cancel()
            if reply in done:
                if not reply.result():
                    raise _ConnectFailure(
                        "authentication refused by server (auth success=false) "
                        "— check TRACKIT_SESSID / --user-id"
                    )
            elif closed in done:
                raise _ConnectFailure(credentials.redact(
                    "server closed the socket before answering the auth command "
                    f"({_close_cause(ws)})"
                ))
            else:
                raise _ConnectFailure(
                    f"no auth reply from {config.url} within {config.auth_timeout_s:g} s"
                )
        except _ConnectFailure:
            await _abort(ws)
            raise
        except WebSocketException as exc:
            await _abort(ws)
            raise _ConnectFailure(credentials.redact(
                f"socket closed during authentication: {exc}"
            )) from None
        ws.sink = journal
        self._live = ws
        self.counters.connected = True
        log.info("connected to %s as connection %s", config.url, self._connection_id)
        return ws

    async def _hold(self, ws: JournalingConnection) -> str | None:
        """Wait until the connection ends; its cause, or ``None`` when asked to stop."""
        closed = asyncio.ensure_future(ws.wait_closed())
        stopping = asyncio.ensure_future(self._stop.wait())
        silent = asyncio.ensure_future(self._silence_watch())
        try:
            done, _ = await asyncio.wait(
                {closed, stopping, silent}, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            self._live = None
            self.counters.connected = False
            for task in (closed, stopping, silent):
                task.cancel()
        if ws.sink_error is not None:
            self._journal_failed(ws.sink_error)
            return None
        if closed in done:
            self._reject_last_command(ws)
            return self.config.credentials.redact(_close_cause(ws))
        if silent in done:
            await _abort(ws)
            return f"no frame for {self.config.silence_timeout_s:g} s (silence timeout)"
        with contextlib.suppress(Exception):
            await asyncio.wait_for(ws.close(), timeout=5)
        return None

    async def _silence_watch(self) -> None:
        timeout = self.config.silence_timeout_s
        if timeout <= 0:
            await asyncio.Event().wait()
        assert self._journal is not None
        last_seq, last_change = self._journal.next_seq, time.monotonic()
        while True:
            await asyncio.sleep(min(timeout / 4, 5.0))
            now = time.monotonic()
            if self._journal.next_seq != last_seq:
                last_seq, last_change = self._journal.next_seq, now
            elif now - last_change >= timeout:
                return

    def _journal_failed(self, exc: OSError) -> None:
        """The journal cannot be written: stop, and end with a one-line error."""
        if self._fatal is None:
            self._fatal = storage_error(self.state.journal, "writing the journal", exc)
        self._stop.set()

    async def _sleep_unless_stopped(self, delay: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stop.wait(), timeout=delay)

    # -- rolling ------------------------------------------------------------------------

    def _on_segment_closed(self, closed: ClosedSegment) -> None:
        self.counters.backlog_segments += 1
        self.counters.backlog_bytes += closed.size
        future = self._roller.submit(self._roll, closed)
        future.add_done_callback(functools.partial(self._rolled, closed))

    def _roll(self, closed: ClosedSegment) -> int:
        """Worker thread: segment → Parquet files → high-water mark → delete segment."""
        try:
            os.fsync(closed.fd)
        finally:
            os.close(closed.fd)
        files = publish_segment(self.layout, self.instance, closed.columns)
        self.state.write_high_water(closed.columns.last_seq)
        closed.path.unlink()
        return len(files)

    def _rolled(self, closed: ClosedSegment, future: Future[int]) -> None:
        def account() -> None:
            self.counters.backlog_segments -= 1
            self.counters.backlog_bytes -= closed.size
            error = future.exception()
            if error is None:
                self.counters.files_written += future.result()
            elif isinstance(error, ObjectExistsError):
                # Another process publishes under this instance's names: stop, never overwrite.
                log.error("rolling %s into the raw lake failed: %s", closed.path.name, error)
                if self._fatal is None:
                    self._fatal = IngestError(str(error))
                self._stop.set()
            else:
                # The segment stays in the journal; the next start recovers it.
                log.error("rolling %s into the raw lake failed: %s", closed.path.name, error)

        assert self._loop is not None
        if self._loop.is_closed():
            return
        try:
            self._loop.call_soon_threadsafe(account)
        except RuntimeError:
            account()

    async def _age_roller(self) -> None:
        assert self._journal is not None
        journal = self._journal
        while True:
            await asyncio.sleep(min(1.0, self.config.roll_seconds / 4))
            opened = journal.first_frame_at
            if opened and time.monotonic() - opened >= self.config.roll_seconds:
                try:
                    journal.rotate()
                except OSError as exc:
                    self._journal_failed(exc)
                    return

    async def _fsyncer(self) -> None:
        assert self._journal is not None
        while True:
            await asyncio.sleep(self.config.fsync_interval_s)
            try:
                fd = self._journal.dup_fd()
                await asyncio.to_thread(_fsync_and_close, fd)
            except OSError as exc:
                self._journal_failed(exc)
                return

    # -- status -------------------------------------------------------------------------

    def _update_counters(self) -> None:
        assert self._journal is not None
        self.counters.frames = self._journal.frames_written
        self.counters.bytes = self._journal.bytes_written

    async def _status_reporter(self) -> None:
        interval = self.config.status_interval_s
        if interval <= 0:
            return
        before, then = replace(self.counters), time.monotonic()
        while True:
            await asyncio.sleep(interval)
            self._update_counters()
            now = time.monotonic()
            log.info("%s", status_line(self.counters, before, now - then))
            before, then = replace(self.counters), now

    # -- outbox -------------------------------------------------------------------------

    def _fail_interrupted_commands(self) -> None:
        for inflight in self.outbox.inflight(self.instance):
            self.outbox.finish(
                inflight, sent=False,
                error="ingest stopped while sending; it may or may not have been sent",
            )

    async def _outbox_poller(self) -> None:
        while True:
            await asyncio.sleep(self.config.outbox_poll_s)
            if self._live is None:
                continue
            for pending in self.outbox.pending():
                ws = self._live
                if ws is None:
                    break
                inflight = self.outbox.claim(pending, self.instance)
                if inflight is not None:
                    await self._send_command(ws, inflight)

    async def _send_command(self, ws: JournalingConnection, path: Path) -> None:
        journal, outbox = self._journal, self.outbox
        assert journal is not None
        try:
            command = outbox.load(path)
            self._check_getio_rate(command)
            frame = orjson.dumps(command.to_frame(self.config.user_id, self.config.user_name))
            if len(frame) > self.config.max_command_bytes:
                raise IngestError(
                    f"its frame is {len(frame):,} bytes, above the ingest's limit of "
                    f"{self.config.max_command_bytes:,} bytes; not sent"
                )
        except (IngestError, orjson.JSONEncodeError) as exc:
            outbox.finish(path, sent=False, error=str(exc))
            log.warning("outbox command %s refused: %s", path.name, exc)
            return
        try:
            journal.flush()
            journal.add(RecordKind.TEXT_OUT, frame)
            seq = journal.next_seq - 1
            journal.flush()
        except OSError as exc:
            self._journal_failed(exc)
            with contextlib.suppress(OSError):  # else the next start fails it
                outbox.finish(path, sent=False, error=f"journal not writable: {exc}")
            return
        sent_at = datetime.now(UTC).isoformat()
        try:
            await ws.send(frame.decode())
        except WebSocketException as exc:
            outbox.finish(path, sent=False, error=f"socket closed while sending: {exc}",
                          seq=seq, connection_id=self._connection_id)
            log.warning("outbox command %s not sent: %s", command.id, exc)
            return
        self.counters.frames_out += 1
        sent = outbox.finish(path, sent=True, sent_at=sent_at, seq=seq,
                             connection_id=self._connection_id)
        self._last_sent = _SentCommand(sent, command.id, self._connection_id, time.monotonic())
        log.info("sent %s command %s to uid %d (seq %d)", command.kind, command.id,
                 command.uid, seq)

    def _reject_last_command(self, ws: JournalingConnection) -> None:
        """Move the last command sent to ``failed/`` when the server closed the socket
        with a refusing code (1007, 1008, 1009) right after it."""
        last, self._last_sent = self._last_sent, None
        code = ws.close_code
        if (
            last is None or code not in REJECTING_CLOSE_CODES
            or last.connection_id != self._connection_id
            or time.monotonic() - last.sent_monotonic > self.config.rejection_window_s
        ):
            return
        error = self.config.credentials.redact(
            f"refused by the server: it closed the socket right after the command "
            f"({_close_cause(ws)})"
        )
        self.outbox.reject(last.path, error=error, rejected_at=datetime.now(UTC).isoformat())
        log.warning("outbox command %s %s", last.command_id, error)

    def _check_getio_rate(self, command: OutboxCommand) -> None:
        if command.kind != KIND_GETIO:
            return
        now = time.monotonic()
        last = self._last_getio.get(command.uid)
        interval = self.config.getio_interval_s
        if last is not None and now - last < interval:
            raise IngestError(
                f"getio for uid {command.uid} refused by ingest: at most one per "
                f"{interval:g} s per device ({interval - (now - last):.0f} s left)"
            )
        self._last_getio[command.uid] = now


def _close_cause(ws: JournalingConnection) -> str:
    code = ws.close_code
    if code is None or code == CloseCode.ABNORMAL_CLOSURE:
        return "connection dropped without a close frame"
    explanation = CLOSE_CODE_EXPLANATIONS.get(code, "unknown code")
    reason = f": {ws.close_reason}" if ws.close_reason else ""
    return f"closed by the server with code {code} ({explanation}){reason}"


async def _abort(ws: JournalingConnection) -> None:
    if ws.transport is not None:
        ws.transport.abort()
    with contextlib.suppress(Exception):
        await asyncio.wait_for(ws.wait_closed(), timeout=1)


def _fsync_and_close(fd: int) -> None:
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


async def serve(config: IngestConfig, stop: asyncio.Event | None = None) -> IngestSummary:
    """Run an ingest in the current event loop until ``stop`` is set (or forever).

    Raises:
        IngestError: see :meth:`IngestService.serve`.
    """
    service = IngestService(config)
    if stop is not None:
        stopper = asyncio.ensure_future(stop.wait())
        stopper.add_done_callback(lambda _: service.stop())
    try:
        return await service.serve()
    finally:
        if stop is not None:
            stopper.cancel()


def run(config: IngestConfig) -> IngestSummary:
    """Run an ingest process: ``SIGTERM``/``SIGINT`` and ``duration_s`` end it cleanly.

    Raises:
        IngestError: see :meth:`IngestService.serve`.
    """

    async def main() -> IngestSummary:
        service = IngestService(config)
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, service.stop)
        return await service.serve()

    return asyncio.run(main())
