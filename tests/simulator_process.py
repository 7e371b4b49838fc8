"""``trackit simulate`` as a real process on a free loopback port, for end-to-end tests."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path


def trackit_argv(*args: str) -> list[str]:
    """The command line of ``trackit ARGS`` in this interpreter."""
    return [sys.executable, "-m", "trackit", *args]


@dataclass(frozen=True)
class SimulatorUrls:
    """Where a running simulator listens."""

    ws_url: str

    @property
    def auth_url(self) -> str:
        return self.ws_url.replace("ws://", "http://") + "/ws/websocketAuth"

    def ingest_argv(self, data: Path, *args: str) -> list[str]:
        """``trackit ingest`` against this simulator into ``data`` (the demo user id)."""
        return trackit_argv("ingest", "--url", self.ws_url, "--auth-url", self.auth_url,
                            "--user-id", "123456", "--data", str(data), *args)


@contextmanager
def running_simulator(*args: str, env: Mapping[str, str],
                      cwd: Path | None = None) -> Iterator[SimulatorUrls]:
    """Start ``trackit simulate --port 0 ARGS``; stopped (ground truth written) on exit."""
    sim = subprocess.Popen(trackit_argv("simulate", "--port", "0", *args),
                           stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                           env=dict(env), cwd=cwd)
    try:
        assert sim.stdout is not None
        ws_url = ""
        deadline = time.monotonic() + 60
        while not ws_url and time.monotonic() < deadline:
            line = sim.stdout.readline()
            if "websocket:" in line:
                ws_url = line.split("websocket:")[1].strip()
        assert ws_url, "the simulator did not start"
        yield SimulatorUrls(ws_url)
    finally:
        sim.terminate()  # writes the ground truth (and places.csv) on exit
        sim.wait(timeout=30)
