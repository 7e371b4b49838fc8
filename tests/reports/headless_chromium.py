"""Headless Chromium driven over the Chrome DevTools protocol (for the report's page tests).

``ensure_chromium`` finds ``/usr/bin/chromium`` and, when it is missing and we are root,
installs the Debian package with apt-get. ``Chromium`` starts the browser on a private
profile with ``--remote-debugging-port=0``, talks CDP to it over a websocket (the
project's ``websockets`` client), opens a page and collects what its console said:
``Runtime.consoleAPICalled`` of level error, ``Runtime.exceptionThrown`` and
``Log.entryAdded`` errors (failed loads, CSP, …).
"""

from __future__ import annotations

import base64
import contextlib
import itertools
import json
import os
import re
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

from websockets.sync.client import ClientConnection, connect

CHROMIUM = Path("/usr/bin/chromium")
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-extensions", "--disable-dev-shm-usage", "--hide-scrollbars",
         "--remote-debugging-port=0", "--remote-allow-origins=*")
DEVTOOLS_LINE = re.compile(r"DevTools listening on (ws://\S+)")


def ensure_chromium() -> Path | str:
    """The Chromium binary, installed when missing and allowed; else why it is not there."""
    if CHROMIUM.exists():
        return CHROMIUM
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        return "headless Chromium is not installed (as root: apt-get install -y chromium)"
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = ["apt-get", "install", "-y", "chromium"]
    done = subprocess.run(install, capture_output=True, text=True, env=env, timeout=900)
    if done.returncode != 0:  # a fresh machine has no package lists yet
        subprocess.run(["apt-get", "update"], capture_output=True, env=env, timeout=600)
        done = subprocess.run(install, capture_output=True, text=True, env=env, timeout=900)
    if done.returncode != 0 or not CHROMIUM.exists():
        return f"apt-get install chromium failed: {(done.stderr or done.stdout)[-500:]}"
    return CHROMIUM


class Chromium:
    """One headless browser and one page of it, spoken to over CDP."""

    def __init__(self, binary: Path, profile: Path, width: int = 1400, height: int = 2000
                 ) -> None:
        self.width, self.height = width, height
        self.console_errors: list[str] = []
        self._ids = itertools.count(1)
        self._ws: ClientConnection | None = None
        self._stack = contextlib.ExitStack()
        self._events: list[dict[str, Any]] = []
        profile.mkdir(parents=True, exist_ok=True)
        self._log = profile / "chromium-stderr.log"
        with self._log.open("w") as log:  # a file, not a pipe nobody would keep draining
            self._process = subprocess.Popen(
                [str(binary), *FLAGS, f"--user-data-dir={profile}",
                 f"--window-size={width},{height}", "about:blank"],
                stdout=subprocess.DEVNULL, stderr=log)
        self._ws = self._stack.enter_context(
            connect(self._devtools_url(), max_size=None, open_timeout=30))
        target = self.call("Target.createTarget", url="about:blank")["targetId"]
        self._session = self.call("Target.attachToTarget", targetId=target,
                                  flatten=True)["sessionId"]
        for domain in ("Page", "Runtime", "Log"):
            self.call(f"{domain}.enable", session=True)
        self.call("Emulation.setDeviceMetricsOverride", session=True, width=width,
                  height=height, deviceScaleFactor=1, mobile=False)

    def _devtools_url(self) -> str:
        deadline = time.monotonic() + 60
        text = ""
        while time.monotonic() < deadline:
            text = self._log.read_text(errors="replace")
            match = DEVTOOLS_LINE.search(text)
            if match:
                return match.group(1)
            if self._process.poll() is not None:
                break
            time.sleep(0.1)
        self.close()
        raise RuntimeError(f"Chromium did not open its DevTools port: {text[-2000:]}")

    def call(self, method: str, session: bool = False, timeout: float = 60,
             **params: Any) -> dict[str, Any]:
        """Send one CDP command and return its result (events seen meanwhile are kept)."""
        message_id = next(self._ids)
        message: dict[str, Any] = {"id": message_id, "method": method, "params": params}
        if session:
            message["sessionId"] = self._session
        assert self._ws is not None
        self._ws.send(json.dumps(message))
        deadline = time.monotonic() + timeout
        while True:
            reply = json.loads(self._ws.recv(timeout=max(deadline - time.monotonic(), 0.1)))
            if reply.get("id") == message_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self._note(reply)

    def _note(self, event: dict[str, Any]) -> None:
        self._events.append(event)
        method, params = event.get("method"), event.get("params", {})
        if method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
            self.console_errors.append(
                "console: " + " ".join(str(a.get("value", a.get("description", "")))
                                       for a in params.get("args", [])))
        elif method == "Runtime.exceptionThrown":
            details = params.get("exceptionDetails", {})
            self.console_errors.append(
                "exception: " + str(details.get("exception", {}).get("description")
                                    or details.get("text")))
        elif method == "Log.entryAdded" and params.get("entry", {}).get("level") == "error":
            entry = params["entry"]
            self.console_errors.append(f"log: {entry.get('text')} {entry.get('url', '')}")

    def wait_for(self, method: str, timeout: float = 60) -> dict[str, Any]:
        """The first event ``method`` (already seen or to come)."""
        for event in self._events:
            if event.get("method") == method:
                return event
        assert self._ws is not None
        deadline = time.monotonic() + timeout
        while True:
            event = json.loads(self._ws.recv(timeout=max(deadline - time.monotonic(), 0.1)))
            self._note(event)
            if event.get("method") == method:
                return event

    def open(self, url: str) -> None:
        """Navigate to ``url`` and wait until the page (and its scripts) have loaded."""
        self._events.clear()
        self.call("Page.navigate", session=True, url=url)
        self.wait_for("Page.loadEventFired")
        self.evaluate("new Promise(done => requestAnimationFrame(() => done(true)))")

    def evaluate(self, expression: str) -> Any:
        """The JSON value of a JavaScript expression in the page (promises awaited)."""
        result = self.call("Runtime.evaluate", session=True, expression=expression,
                           returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def screenshot(self, clip: dict[str, float] | None = None) -> bytes:
        """A PNG of the whole page, or of ``clip`` (page coordinates, CSS pixels)."""
        params: dict[str, Any] = {"format": "png", "captureBeyondViewport": True}
        if clip:
            params["clip"] = {**clip, "scale": 1}
        return base64.b64decode(self.call("Page.captureScreenshot", session=True,
                                          **params)["data"])

    def close(self) -> None:
        try:
            self._stack.close()
        finally:
            self._process.terminate()
            try:
                self._process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait(timeout=20)
