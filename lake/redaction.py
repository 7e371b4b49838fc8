"""Keep secrets (SESSID, Authorization) out of every log line, whatever logger wrote it.

A process registers each secret the moment it loads one (:func:`register_secret`). The
command line installs :class:`SecretFilter` on the root logger's handlers, so every record
of every library (websockets' frame and handshake debug lines included) passes through it:
a record whose rendered message, traceback or stack shows any fragment of a secret of
``MIN_FRAGMENT`` characters or more (websockets cuts long frames in the middle, so a log
line may hold only part of a secret) gets that fragment replaced by ``***``.

Secrets a process never loaded (a server logging what a client sent) are caught by where
they stand: the value of a ``SESSID`` / ``Authorization`` field or header, and everything
after ``"query"`` in an ``auth`` command, even one cut short.

It lives in ``lake`` (the bottom of the import graph) because ingest, the simulator and
the command line all use it.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import threading
import traceback
from types import TracebackType
from urllib.parse import quote, quote_plus

MIN_FRAGMENT = 6
MASK = "***"

# A SESSID / Authorization value as a JSON field, form field or HTTP header.
_SECRET_FIELD = re.compile(
    r"""(?i)((?:"|\b)(?:sessid|authorization)"?\s*[:=]\s*"?)([^"&\r\n,;}']+)"""
)
# The auth command (its query holds SESSID), also when a log line cut it in the middle.
_AUTH_COMMAND = re.compile(r"""("type"\s*:\s*"auth"\s*,\s*"query"\s*:)[^']*""")

_fragments: set[str] = set()
_lock = threading.Lock()


def _spellings(secret: str) -> set[str]:
    """The ways a secret may be written in a log line: as is, JSON-escaped, URL-encoded."""
    return {secret, json.dumps(secret)[1:-1], quote(secret, safe=""), quote_plus(secret)}


def register_secret(secret: str) -> None:
    """Treat every fragment of ``secret`` of ``MIN_FRAGMENT`` characters as secret.

    A secret shorter than that is masked whole. Safe to call several times.
    """
    if not secret:
        return
    found: set[str] = set()
    for spelling in _spellings(secret):
        if len(spelling) <= MIN_FRAGMENT:
            found.add(spelling)
            continue
        found.update(spelling[i:i + MIN_FRAGMENT] for i in range(len(spelling) - MIN_FRAGMENT + 1))
    with _lock:
        _fragments.update(found)


def forget_secrets() -> None:
    """Drop every registered secret (tests that register throw-away secrets)."""
    with _lock:
        _fragments.clear()


def _shows_fragment(text: str) -> bool:
    return bool(_fragments) and any(fragment in text for fragment in tuple(_fragments))


def contains_secret(text: str) -> bool:
    """True when ``text`` shows a fragment of a registered secret, or a secret field."""
    return (_shows_fragment(text) or _SECRET_FIELD.search(text) is not None
            or _AUTH_COMMAND.search(text) is not None)


def redact(text: str) -> str:
    """``text`` with secret fields masked and every stretch made of secret fragments
    replaced by ``***``."""
    text = _AUTH_COMMAND.sub(lambda m: m.group(1) + MASK, text)
    text = _SECRET_FIELD.sub(lambda m: m.group(1) + MASK, text)
    if not _shows_fragment(text):
        return text
    covered = [False] * len(text)
    for fragment in tuple(_fragments):
        start = text.find(fragment)
        while start >= 0:
            for i in range(start, start + len(fragment)):
                covered[i] = True
            start = text.find(fragment, start + 1)
    out: list[str] = []
    i = 0
    while i < len(text):
        if covered[i]:
            while i < len(text) and covered[i]:
                i += 1
            out.append(MASK)
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


class SecretFilter(logging.Filter):
    """Rewrites a record that would show a secret; never drops a record."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string: let the handler report it as usual
            return True
        if contains_secret(message):
            record.msg, record.args = redact(message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = "".join(traceback.format_exception(*record.exc_info)).rstrip("\n")
        if record.exc_text and contains_secret(record.exc_text):
            record.exc_text = redact(record.exc_text)
        if record.stack_info and contains_secret(record.stack_info):
            record.stack_info = redact(record.stack_info)
        return True


def install_log_filter(logger: logging.Logger | None = None) -> None:
    """Put a :class:`SecretFilter` on every handler of ``logger`` (default: the root).

    Also makes uncaught exceptions (main thread and other threads) print redacted.
    """
    target = logger or logging.getLogger()
    for handler in target.handlers:
        if not any(isinstance(f, SecretFilter) for f in handler.filters):
            handler.addFilter(SecretFilter())
    sys.excepthook = _redacting_excepthook
    threading.excepthook = _redacting_thread_excepthook


def _redacting_excepthook(
    kind: type[BaseException], value: BaseException, tb: TracebackType | None
) -> None:
    sys.stderr.write(redact("".join(traceback.format_exception(kind, value, tb))))


def _redacting_thread_excepthook(args: threading.ExceptHookArgs) -> None:
    if args.exc_type is SystemExit:
        return
    name = args.thread.name if args.thread is not None else "?"
    text = "".join(traceback.format_exception(args.exc_type, args.exc_value, args.exc_traceback))
    sys.stderr.write(redact(f"Exception in thread {name}:\n{text}"))
