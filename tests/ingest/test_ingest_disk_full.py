"""A full disk stops ``trackit ingest`` with one clear line; a restart recovers the journal.

The lake lives on a small tmpfs the test mounts (root only).
"""

from __future__ import annotations

import asyncio
import json
import random
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from tmpfs import mounted_tmpfs

from ingest.journal import read_segment, segment_first_seq


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 3 MiB tmpfs, unmounted after the test."""
    with mounted_tmpfs(tmp_path / "disk", "3m") as mount:
        yield mount


async def test_enospc_is_one_line_and_a_restart_recovers_every_journaled_frame(
    small_disk, trackit_server, secret_env, trackit_cmd, read_raw, waiter
):
    data = small_disk / "data"
    rng = random.Random(7)
    # Incompressible frames, so the raw lake fills the disk as fast as the journal.
    trackit_server.frames = [
        json.dumps({"uid": 1, "n": i, "pad": rng.randbytes(150).hex()}) for i in range(20_000)
    ]
    args = [
        "ingest", "--url", trackit_server.url, "--auth-url", trackit_server.auth_url,
        "--user-id", "123456", "--data", str(data), "--status-interval", "0",
    ]
    process = await asyncio.create_subprocess_exec(
        *trackit_cmd(*args, "--roll-mb", "0.25"), env=secret_env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    _, err = await asyncio.wait_for(process.communicate(), 60)
    stderr = err.decode()
    assert process.returncode != 0, stderr
    assert "Traceback" not in stderr
    errors = [line for line in stderr.splitlines() if line.startswith("trackit: error:")]
    assert len(errors) == 1, stderr
    assert "no space left on device" in errors[0]
    assert str(data / "state/ingest/u123456/journal") in errors[0]
    assert f"mounted at {small_disk}" in errors[0]

    def numbers(frames: list[str]) -> set[int]:
        return {json.loads(f)["n"] for f in frames if '"n"' in f}

    journal = data / "state/ingest/u123456/journal"
    journaled = set()
    for path in journal.iterdir():
        read = read_segment(path, segment_first_seq(path.name))
        for run in read.runs:
            journaled |= numbers(run.to_table().column("frame").to_pylist())
    in_lake = numbers(read_raw(data).column("frame").to_pylist())
    assert journaled or in_lake

    # Free space (grow the file system), restart: every journaled frame reaches the lake.
    subprocess.run(["mount", "-o", "remount,size=64m", str(small_disk)], check=True)
    restart = await asyncio.create_subprocess_exec(
        *trackit_cmd(*args, "--duration", "0.3"), env=secret_env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    _, err = await asyncio.wait_for(restart.communicate(), 60)
    assert restart.returncode == 0, err.decode()
    table = read_raw(data)
    assert numbers(table.column("frame").to_pylist()) >= journaled | in_lake
    seqs = table.column("seq").to_pylist()
    assert len(seqs) == len(set(seqs))
    assert not list(journal.glob("*.wal"))
