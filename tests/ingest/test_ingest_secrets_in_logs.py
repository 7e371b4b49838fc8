"""No log level shows any part of a secret: the real simulator and the real ingest as
processes at ``--log-level DEBUG`` (websockets logs every frame and handshake line there),
and the log filter on exceptions and on secrets the process never loaded."""

from __future__ import annotations

import io
import logging
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from lake.redaction import MIN_FRAGMENT, SecretFilter, forget_secrets, redact, register_secret

REPO_ROOT = Path(__file__).resolve().parents[2]
SESSID = "Zq7Wx2Lm9Pk4Rt8Vn3Bc6Hy1Jd"
AUTHORIZATION = "Token Tk5Gh8Qw2Ze7Ux4Mn9Lp3Ab"
USER_ID = "123456"


def _fragments(secret: str) -> set[str]:
    return {secret[i:i + MIN_FRAGMENT] for i in range(len(secret) - MIN_FRAGMENT + 1)}


def _leaks(text: str) -> list[str]:
    return sorted(f for s in (SESSID, AUTHORIZATION) for f in _fragments(s) if f in text)


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env.update(TRACKIT_SESSID=SESSID, TRACKIT_AUTHORIZATION=AUTHORIZATION,
               PYTHONPATH=str(REPO_ROOT))
    return env


def _simulator(tmp_path: Path) -> tuple[subprocess.Popen[str], str]:
    process = subprocess.Popen(
        [sys.executable, "-m", "trackit", "--log-level", "DEBUG", "simulate", "--port", "0",
         "--vehicles", "3", "--speedup", "60", "--duration", "60"],
        env=_env(), cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    assert process.stdout is not None
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        match = re.search(r"websocket: (ws://\S+)", line)
        if match:
            return process, match.group(1)
        if not line and process.poll() is not None:
            break
    process.kill()
    raise AssertionError(f"the simulator did not start: {process.communicate()}")


def test_debug_logs_of_simulator_and_ingest_show_no_fragment_of_a_secret(tmp_path):
    simulator, url = _simulator(tmp_path)
    try:
        ingest = subprocess.run(
            [sys.executable, "-m", "trackit", "--log-level", "DEBUG", "ingest",
             "--url", url, "--auth-url", url.replace("ws://", "http://") + "/ws/websocketAuth",
             "--user-id", USER_ID, "--data", str(tmp_path / "data"), "--duration", "3",
             "--status-interval", "1"],
            env=_env(), capture_output=True, text=True, timeout=60,
        )
    finally:
        simulator.send_signal(signal.SIGTERM)
        sim_out, sim_err = simulator.communicate(timeout=30)
    assert ingest.returncode == 0, ingest.stderr[-2000:]
    # The run really logged the frames and the auth exchange at DEBUG.
    assert "websockets.client" in ingest.stderr and "> TEXT" in ingest.stderr
    assert "websockets.server" in sim_err and "< TEXT" in sim_err
    assert '"type":"auth"' in ingest.stderr and '"type":"auth"' in sim_err
    assert _leaks(ingest.stderr + ingest.stdout) == []
    assert _leaks(sim_err + sim_out) == []


@pytest.fixture
def captured() -> logging.Logger:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(SecretFilter())
    logger = logging.getLogger("test.redaction")
    logger.addHandler(handler)
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    logger.stream = stream  # type: ignore[attr-defined]
    register_secret(SESSID)
    register_secret(AUTHORIZATION)
    yield logger
    logger.removeHandler(handler)
    forget_secrets()


def test_an_exception_logged_with_its_traceback_is_redacted(captured):
    try:
        raise ValueError(f"server said: bad token {SESSID[3:15]}")
    except ValueError:
        captured.exception("failed with %s", AUTHORIZATION[-10:])
    text = captured.stream.getvalue()  # type: ignore[attr-defined]
    assert "ValueError" in text and "Traceback" in text
    assert _leaks(text) == []


def test_secrets_this_process_never_loaded_are_masked_by_where_they_stand(captured):
    frame = '{"type":"auth","query":{"user_id":1,"SESSID":"AnotherClientsSecret42"}}'
    captured.debug("< TEXT %r [%d bytes]", frame[:40] + "..." + frame[-25:], len(frame))
    captured.debug("> Authorization: Basic dXNlcjpwYXNzd29yZA==")
    captured.debug("form SESSID=OtherSecret99&user=1")
    text = captured.stream.getvalue()  # type: ignore[attr-defined]
    for secret in ("lientsSecret42", "dXNlcjpwYXNz", "OtherSecret99"):
        assert secret not in text
    assert text.count("***") == 3


def test_redact_leaves_text_without_secrets_untouched():
    register_secret(SESSID)
    try:
        line = "connection u123456-20260101T000000-abcdef12 lost (code 1011); reconnecting"
        assert redact(line) == line
        assert redact(f"x{SESSID[2:9]}y") == "x***y"
    finally:
        forget_secrets()
