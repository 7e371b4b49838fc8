"""`trackit simulate` from the command line: serves, prints demo credentials, writes truth."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import pytest
from simulator_test_client import post_auth

from simulator.config import DEMO_AUTHORIZATION, DEMO_SESSID


def simulate(*args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    base = {k: v for k, v in os.environ.items()
            if k not in ("TRACKIT_SESSID", "TRACKIT_AUTHORIZATION")}
    return subprocess.Popen([sys.executable, "-m", "trackit", "simulate", "--port", "0", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**base, **(env or {})})


def banner(process: subprocess.Popen[str]) -> tuple[str, str]:
    lines = []
    assert process.stdout is not None
    for line in process.stdout:
        lines.append(line)
        if line.strip().startswith("Authorization:"):
            break
    text = "".join(lines)
    url = re.search(r"auth:\s+(http://\S+)", text)
    assert url, text
    return text, url.group(1)


def test_serves_with_demo_credentials_and_writes_the_ground_truth(tmp_path: Path) -> None:
    truth = tmp_path / "truth.json"
    process = simulate("--vehicles", "3", "--speedup", "600", "--duration", "3",
                       "--ground-truth", str(truth), "--ground-truth-every", "0.5",
                       "--start", "2023-11-14T22:13:20Z")
    text, auth_url = banner(process)
    assert DEMO_SESSID in text and DEMO_AUTHORIZATION in text
    assert post_auth(auth_url, DEMO_SESSID, DEMO_AUTHORIZATION)[0] == 200
    process.wait(timeout=30)
    assert process.returncode == 0
    data = json.loads(truth.read_text())
    assert data["seed"] == 1 and len(data["vehicles"]) == 3
    assert data["start"] == "2023-11-14T22:13:20.000Z"


def test_real_credentials_from_the_environment_are_used_and_never_printed() -> None:
    secret_sessid, secret_auth = "S" * 26, "Bearer very-secret-token"
    process = simulate("--duration", "2", "--user-id", "42",
                       env={"TRACKIT_SESSID": secret_sessid,
                            "TRACKIT_AUTHORIZATION": secret_auth})
    text, auth_url = banner(process)
    assert post_auth(auth_url, secret_sessid, secret_auth)[0] == 200
    assert post_auth(auth_url, DEMO_SESSID, DEMO_AUTHORIZATION)[0] == 401
    out, err = process.communicate(timeout=30)
    assert secret_sessid not in text + out + err
    assert secret_auth not in text + out + err
    assert "user_id:   42" in text


def test_duration_holds_while_a_large_fleet_is_being_built() -> None:
    # Building 10,000 vehicles takes seconds and pre-building 3 million frames minutes.
    started = time.monotonic()
    process = simulate("--vehicles", "10000", "--prebuild", "3000000", "--duration", "1")
    try:
        out, err = process.communicate(timeout=60)
    finally:
        process.kill()  # only when it did not stop by itself
    assert process.returncode == 0, err
    assert time.monotonic() - started < 15, "--duration did not hold during start-up"
    assert "--duration ran out while building 10000 vehicles; stopped after 0 frames" in out


@pytest.mark.parametrize("spelling", [["--start", "-10h"], ["--start=-10h"]])
def test_a_start_offset_is_accepted_as_the_docs_spell_it(spelling: list[str],
                                                         tmp_path: Path) -> None:
    truth = tmp_path / "truth.json"
    process = simulate("--vehicles", "2", "--duration", "1", "--ground-truth", str(truth),
                       *spelling)
    _, err = process.communicate(timeout=30)
    assert process.returncode == 0, err
    start = datetime.fromisoformat(json.loads(truth.read_text())["start"])
    assert abs(start.timestamp() - (time.time() - 10 * 3600)) < 60


def test_bad_arguments_fail_with_one_line() -> None:
    for args in (["--vehicles", "0"], ["--start", "yesterday"], ["--duplicate-rate", "2"],
                 ["--drop-every", "0"], ["--late-hours", "-1"], ["--speedup", "0"]):
        started = time.monotonic()
        result = subprocess.run([sys.executable, "-m", "trackit", "simulate", *args],
                                capture_output=True, text=True, timeout=30)
        assert result.returncode != 0
        assert "error: " in result.stderr.strip().splitlines()[-1], result.stderr
        assert time.monotonic() - started < 30


def test_a_busy_port_is_a_clear_error() -> None:
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "trackit", "simulate", "--port", str(port)],
            capture_output=True, text=True, timeout=30)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1].startswith("trackit: error: cannot serve on")
