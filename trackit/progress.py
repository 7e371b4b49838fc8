"""A one-line live status for long commands: redrawn in place on a terminal, else throttled.

On a TTY the line is rewritten with a carriage return; in a log or CI (no TTY) a new line is
printed at most every ``every`` seconds so progress stays visible without flooding.
"""

from __future__ import annotations

import shutil
import time
from typing import IO


class StatusLine:
    """Shows the latest progress message on one line of ``out``."""

    def __init__(self, out: IO[str], every: float = 10.0) -> None:
        self.out = out
        self.every = every
        self.tty = bool(getattr(out, "isatty", lambda: False)())
        self._shown = False
        self._last_print = 0.0

    def show(self, text: str) -> None:
        if self.tty:
            width = shutil.get_terminal_size((100, 20)).columns - 1
            self.out.write("\r" + text[:width].ljust(width))
            self.out.flush()
            self._shown = True
        elif time.monotonic() - self._last_print >= self.every:
            self._last_print = time.monotonic()
            print(text, file=self.out, flush=True)

    def clear(self) -> None:
        """Erase the live line before ordinary output is printed."""
        if self._shown:
            width = shutil.get_terminal_size((100, 20)).columns - 1
            self.out.write("\r" + " " * width + "\r")
            self.out.flush()
            self._shown = False
