"""Airflow's components as child processes: started together, stopped together.

Each component writes to its own log file. The supervisor waits until a stop is asked
(SIGINT, SIGTERM, SIGHUP) or a component exits on its own, which is a failure: then the
others are stopped too and the failure names the component and its log. Components stay
in the supervisor's process group, so signalling the group reaches every one of them.
"""

from __future__ import annotations

import signal
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

from lake.errors import TrackitError
from trackit.deploy.local_servers import stop_process

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


@dataclass(frozen=True)
class Component:
    """One long-running program: its name, argv, environment and log file."""

    name: str
    argv: list[str]
    env: dict[str, str]
    log: Path


class Supervisor:
    """Starts components, waits for a stop or a death, stops them all (newest first)."""

    def __init__(self, cwd: Path) -> None:
        self.cwd = cwd
        self.running: list[tuple[Component, subprocess.Popen[bytes]]] = []
        self.stop_asked = threading.Event()

    def start(self, component: Component) -> subprocess.Popen[bytes]:
        component.log.parent.mkdir(parents=True, exist_ok=True)
        with component.log.open("ab") as out:
            process = subprocess.Popen(component.argv, env=component.env, cwd=self.cwd,
                                       stdout=out, stderr=subprocess.STDOUT,
                                       stdin=subprocess.DEVNULL)
        self.running.append((component, process))
        return process

    def check(self) -> None:
        """Raise if a component has exited although no stop was asked."""
        for component, process in self.running:
            if process.poll() is not None and not self.stop_asked.is_set():
                raise TrackitError(f"the {component.name} exited with status "
                                   f"{process.returncode}: see {component.log}")

    def watch_signals(self) -> None:
        """A stop signal sets ``stop_asked`` instead of interrupting the program."""
        def ask_stop(signum: int, frame: FrameType | None) -> None:
            self.stop_asked.set()
        for signum in STOP_SIGNALS:
            signal.signal(signum, ask_stop)

    def wait(self) -> None:
        """Block until a stop is asked; raise if a component exits first."""
        while not self.stop_asked.wait(0.5):
            self.check()

    def sleep(self, seconds: float) -> None:
        """Sleep, but wake up (and raise) when a component dies; return early on a stop."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and not self.stop_asked.wait(0.2):
            self.check()

    def stop_all(self, grace: float = 30.0) -> None:
        """SIGTERM every component (newest first, all at once), kill what outlives
        ``grace`` seconds."""
        for _, process in reversed(self.running):
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + grace
        for _, process in reversed(self.running):
            stop_process(process, grace=max(0.1, deadline - time.monotonic()))
        self.running.clear()
