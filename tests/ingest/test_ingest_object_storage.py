"""The ingest into a raw lake on S3-compatible object storage (a real SeaweedFS on loopback).

Every frame is published by a create-only PUT while the journal stays on the local disk;
two ingests into one lake never collide; a writer with other bytes under a taken key gets
a clear error and the object stays as it was.
"""

from __future__ import annotations

import asyncio
import io
import os
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from real_servers import S3Server, s3_server

from ingest.rawfiles import published_seqs
from ingest.service import serve
from lake.layout import DataLayout, data_layout
from lake.object_store import ObjectExistsError, object_store
from lake.raw_schema import RAW_SCHEMA
from lake.storage import publish_parquet

pytestmark = pytest.mark.distributed

REPO = Path(__file__).resolve().parents[2]
FRAMES = [f'{{"uid":{1000 + i},"params":{{"type":"connection","status":1}}}}' for i in range(40)]


@pytest.fixture(scope="module")
def s3() -> Iterator[S3Server]:
    with s3_server(bucket="lake") as server:
        yield server


@pytest.fixture
def s3_env(s3: S3Server, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> dict[str, str]:
    env = {**s3.use_in_this_process(monkeypatch, tmp_path),
           "TRACKIT_LOCAL": str(tmp_path / "local")}
    monkeypatch.setenv("TRACKIT_LOCAL", env["TRACKIT_LOCAL"])
    monkeypatch.delenv("TRACKIT_DATA", raising=False)
    return env


def remote_rows(layout: DataLayout, instance: str | None = None) -> tuple[list[str], pa.Table]:
    """The raw keys of the lake on S3 (of ``instance``, if given) and their rows by seq."""
    assert layout.remote is not None
    store = object_store(layout.remote)
    keys = [o.relative for o in store.list("raw/")
            if instance is None or o.relative.rsplit("/", 1)[-1].startswith(f"{instance}-")]
    tables = [pq.read_table(io.BytesIO(store.read(key)), schema=RAW_SCHEMA) for key in keys]
    table = pa.concat_tables(tables) if tables else RAW_SCHEMA.empty_table()
    return keys, table.sort_by("seq")


async def test_ingest_publishes_every_frame_to_s3_like_a_local_run(
        s3_env, trackit_server, ingest_config, read_raw, waiter, tmp_path):
    trackit_server.frames = FRAMES
    runs = {}
    for where in ("local", "s3"):
        data = tmp_path / "data" if where == "local" else data_layout("s3://lake/one")
        stop = asyncio.Event()
        trackit_server.connections = 0  # the scripted frames go to a first connection
        task = asyncio.create_task(serve(ingest_config(trackit_server, data_dir=data,
                                                       roll_seconds=0.3), stop))
        sent_before = trackit_server.sent_total
        await waiter(lambda before=sent_before: trackit_server.sent_total - before == len(FRAMES))
        await asyncio.sleep(0.8)  # at least one age roll while running
        stop.set()
        runs[where] = await task

    local = read_raw()
    layout = data_layout("s3://lake/one")
    host_instance = f"u123456-{socket.gethostname()}"
    assert runs["local"].instance == "u123456"
    assert runs["s3"].instance.startswith("u123456-") and host_instance.startswith(
        runs["s3"].instance)
    keys, remote = remote_rows(layout)
    assert keys and all(k.startswith("raw/date=") and f"/{runs['s3'].instance}-" in k
                        for k in keys)
    # the same frames, numbered the same way, as the local run wrote
    assert remote.column("frame").to_pylist() == local.column("frame").to_pylist()
    assert remote.column("seq").to_pylist() == list(range(1, remote.num_rows + 1))
    assert remote.column("seq").to_pylist() == local.column("seq").to_pylist()
    assert runs["s3"].files_written == len(keys)
    # the journal and state stay local; the raw lake is not written locally
    state = layout.root / "state" / "ingest" / runs["s3"].instance
    assert (state / "seq-high-water").read_text().strip() == str(remote.num_rows)
    assert (state / "journal").is_dir() and not any((state / "journal").iterdir())
    assert not (layout.root / "raw").exists()
    # recovery learns what the lake holds from the hour prefixes it lists
    held = published_seqs(layout, runs["s3"].instance)
    assert held.max_seq == remote.num_rows


async def test_two_ingests_share_one_s3_lake_without_collisions(
        s3_env, trackit_server, ingest_config, waiter, tmp_path):
    trackit_server.frames = FRAMES
    layout = data_layout("s3://lake/shared")
    stop = asyncio.Event()
    tasks = []
    for number, name in enumerate(("host-a", "host-b"), start=1):
        trackit_server.connections = 0  # the scripted frames go to a first connection
        tasks.append(asyncio.create_task(serve(ingest_config(
            trackit_server, data_dir=layout, instance=name, roll_seconds=0.3), stop)))
        await waiter(lambda n=number: trackit_server.sent_total == n * len(FRAMES))
    await asyncio.sleep(0.8)
    stop.set()
    summaries = await asyncio.gather(*tasks)
    assert {s.instance for s in summaries} == {"host-a", "host-b"}
    all_keys, _ = remote_rows(layout)
    for name in ("host-a", "host-b"):
        _, rows = remote_rows(layout, name)
        # each instance has its own seq space, complete from 1
        assert rows.column("seq").to_pylist() == list(range(1, rows.num_rows + 1))
        assert rows.num_rows == len(FRAMES) + 1  # + the auth reply
        assert (layout.root / "state" / "ingest" / name / "seq-high-water").is_file()
    assert len(all_keys) == len(set(all_keys))

    # a third writer with other bytes under a taken key: refused, object unchanged
    store = object_store(layout.remote)
    taken = next(k for k in all_keys if "/host-a-" in k)
    before = store.read(taken)
    other = pq.read_table(io.BytesIO(before)).slice(0, 1)
    with pytest.raises(ObjectExistsError) as refused:
        publish_parquet(other, layout, taken,
                        owner_hint="two ingest processes share the instance name 'host-a'; "
                        "give each its own --instance")
    assert f"s3://lake/shared/{taken}" in str(refused.value)
    assert "--instance" in str(refused.value)
    assert store.read(taken) == before
    # the very same bytes again (a roll repeated after a crash) are accepted
    assert store.put_create_only(taken, before) is False


def test_trackit_ingest_against_the_simulator_into_s3(s3_env, tmp_path):
    from simulator_process import running_simulator

    env = {**{k: v for k, v in os.environ.items() if not k.startswith("AWS_")}, **s3_env,
           "TRACKIT_SESSID": "tjMzwqGgzNdDEyyswn3vZxFbWG",
           "TRACKIT_AUTHORIZATION": "test-authorization", "PYTHONPATH": str(REPO),
           "PYTHONUNBUFFERED": "1"}
    with running_simulator("--vehicles", "3", "--speedup", "60", env=env, cwd=tmp_path) as sim:
        done = subprocess.run(
            sim.ingest_argv("s3://lake/sim", "--duration", "6", "--roll-seconds", "2",
                            "--status-interval", "0", "--instance", "sim-a"),
            capture_output=True, text=True, env=env, cwd=tmp_path, timeout=180)
    assert done.returncode == 0, done.stderr[-2000:]
    assert s3_env["AWS_SECRET_ACCESS_KEY"] not in done.stderr + done.stdout
    layout = data_layout("s3://lake/sim")
    keys, rows = remote_rows(layout, "sim-a")
    assert keys and all(key.startswith("raw/date=") for key in keys)
    assert rows.num_rows > 3
    assert rows.column("seq").to_pylist() == list(range(1, rows.num_rows + 1))
    assert f"{rows.num_rows:,} frames journaled" in done.stdout or \
        f"seq 1..{rows.num_rows}" in done.stdout
    journal = Path(s3_env["TRACKIT_LOCAL"]) / "state" / "ingest" / "sim-a" / "journal"
    assert journal.is_dir() and not any(journal.iterdir())
