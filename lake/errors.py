"""The error type every stage raises for a failure the user can act on.

It lives here, at the bottom of the import graph, so that every stage can raise it without
importing anything above it. The command line prints its message as one line
(``trackit: error: ...``) and exits non-zero; it must never contain a secret (SESSID,
Authorization).
"""

from __future__ import annotations


class TrackitError(Exception):
    """A failure with a message fit to show the user as it is."""

    exit_code: int = 1
