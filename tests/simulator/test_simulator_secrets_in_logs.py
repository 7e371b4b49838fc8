"""The simulator at ``--log-level DEBUG`` shows no piece of a secret: neither the ones it
accepts nor a wrong one a client sends (which it never loaded), on the socket or over HTTP."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import websockets
from simulator_test_client import post_auth

from protocol.messages import auth_command

REPO_ROOT = Path(__file__).resolve().parents[2]
ACCEPTED_SESSID = "Ac7Ce8Pt2Ed9Se5Ss1Id4Xq3Z"
ACCEPTED_AUTHORIZATION = "Token Gu8Ar2Dd7Ee4Dz9Qv1Lm"
WRONG_SESSID = "Wr0Ng5Se6Ss7Id8Fr9Om1Cl2T"
WRONG_AUTHORIZATION = "Token Wr3Ng4Au5Th6Hd7Rr8"


def _pieces(secret: str) -> set[str]:
    return {secret[i:i + 6] for i in range(len(secret) - 5)}


async def _clients(ws_url: str, auth_url: str) -> None:
    for sessid, authorization in ((ACCEPTED_SESSID, ACCEPTED_AUTHORIZATION),
                                  (WRONG_SESSID, WRONG_AUTHORIZATION)):
        await asyncio.to_thread(post_auth, auth_url, sessid, authorization, "urlencoded")
        async with websockets.connect(ws_url) as ws:
            await ws.send(json.dumps(auth_command(123456, sessid)))
            await ws.recv()


def test_debug_log_of_the_simulator_shows_no_piece_of_any_secret() -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "TRACKIT_SESSID": ACCEPTED_SESSID,
           "TRACKIT_AUTHORIZATION": ACCEPTED_AUTHORIZATION}
    process = subprocess.Popen(
        [sys.executable, "-m", "trackit", "--log-level", "DEBUG", "simulate", "--port", "0",
         "--vehicles", "2", "--duration", "60"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        assert process.stdout is not None
        banner = ""
        for line in process.stdout:
            banner += line
            if "Authorization:" in line:
                break
        ws_url = re.search(r"websocket:\s+(ws://\S+)", banner).group(1)  # type: ignore[union-attr]
        auth_url = re.search(r"auth:\s+(http://\S+)", banner).group(1)  # type: ignore[union-attr]
        asyncio.run(_clients(ws_url, auth_url))
    finally:
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=30)
    assert "< TEXT" in err and '"type":"auth"' in err  # frames were logged at DEBUG
    output = banner + out + err
    for secret in (ACCEPTED_SESSID, ACCEPTED_AUTHORIZATION, WRONG_SESSID, WRONG_AUTHORIZATION):
        assert not [p for p in _pieces(secret) if p in output], secret
