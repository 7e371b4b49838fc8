"""Errors of the ingest stage that a user can act on.

Their messages are one line and never contain a secret; the command line turns them into
``trackit: error: ...`` and a non-zero exit.
"""

from __future__ import annotations

from datetime import datetime


class IngestError(Exception):
    """A failure of the ingest stage with a message fit to show the user."""


class CredentialsError(IngestError):
    """The SESSID / Authorization secrets are missing or stored unsafely."""


class AuthError(IngestError):
    """Authentication failed: HTTP error, ``success: false``, or the socket closed."""


class JournalLockedError(IngestError):
    """Another ingest process already owns this instance's journal."""


class OutboxError(IngestError):
    """A command could not be queued in the outbox."""


class GetioRateLimitedError(OutboxError):
    """A ``getio`` for this device was queued too recently (DESIGN.md asks to say so)."""

    def __init__(self, uid: int, min_interval_s: float, frees_at: datetime) -> None:
        super().__init__(
            f"getio for uid {uid} refused: rate limit is one getio per {min_interval_s:g} s "
            f"per device; the next one is allowed at {frees_at:%Y-%m-%dT%H:%M:%SZ}"
        )
        self.uid = uid
        self.min_interval_s = min_interval_s
        self.frees_at = frees_at
