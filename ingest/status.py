"""The periodic one-line status of a running ingest (pure formatting)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class IngestCounters:
    """Running totals of one ingest process."""

    frames: int = 0
    bytes: int = 0
    frames_out: int = 0
    files_written: int = 0
    reconnects: int = 0
    backlog_segments: int = 0
    backlog_bytes: int = 0
    connected: bool = False


def _human_bytes(count: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if count < 1024 or unit == "GiB":
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1024
    return f"{count:.1f} GiB"


def status_line(now: IngestCounters, before: IngestCounters, elapsed_s: float) -> str:
    """``ingest: ...`` with rates over the last ``elapsed_s`` seconds and totals."""
    rate = (now.frames - before.frames) / elapsed_s if elapsed_s > 0 else 0.0
    byte_rate = (now.bytes - before.bytes) / elapsed_s if elapsed_s > 0 else 0.0
    return (
        f"ingest: {'connected' if now.connected else 'DISCONNECTED'}, "
        f"{rate:,.0f} frames/s ({_human_bytes(byte_rate)}/s), "
        f"total {now.frames:,} frames / {_human_bytes(now.bytes)}, "
        f"{now.frames_out} sent, {now.files_written} files written, "
        f"{now.reconnects} reconnects, journal backlog {now.backlog_segments} segments / "
        f"{_human_bytes(now.backlog_bytes)}"
    )
