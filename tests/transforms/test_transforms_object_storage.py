"""The transform on a raw lake on S3-compatible object storage (a real SeaweedFS on loopback).

Same raw files on S3 and on a local disk give the same core tables and ledger; a second run
lists only from the lookback before the newest transformed date; a corrupt object is named by
its ``s3://`` URL; the S3 secret never reaches a log line or an error.
"""

from __future__ import annotations

import logging
import re
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from conftest import T0, ledger, manual_examples, warehouse_contents, write_raw_file
from real_servers import S3Server, s3_server

from lake.errors import TrackitError
from lake.layout import DataLayout, data_layout
from lake.object_store import (
    ObjectStore,
    ObjectStoreError,
    ObjectStoreUrl,
    S3Settings,
    object_store,
)
from transforms.pipeline import transform_lake

pytestmark = pytest.mark.distributed

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def s3() -> Iterator[S3Server]:
    with s3_server(bucket="lake") as server:
        yield server


@pytest.fixture
def s3_env(s3: S3Server, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> dict[str, str]:
    """The AWS variables of the test server, set for this process (and returned)."""
    env = {**s3.use_in_this_process(monkeypatch, tmp_path),
           "TRACKIT_LOCAL": str(tmp_path / "local")}
    monkeypatch.setenv("TRACKIT_LOCAL", env["TRACKIT_LOCAL"])
    monkeypatch.delenv("TRACKIT_DATA", raising=False)
    return env


def upload_lake(local: Path, store: ObjectStore) -> list[str]:
    """Every raw file under ``local`` put under the same relative key."""
    keys = []
    for path in sorted((local / "raw").rglob("*.parquet")):
        key = path.relative_to(local).as_posix()
        assert store.put_create_only(key, path.read_bytes())
        keys.append(key)
    return keys


def sample_lake(data: Path) -> None:
    """Three raw files over two days: every manual example, plus duplicates and junk."""
    examples = [frame for frame in manual_examples().values()]
    write_raw_file(data, examples, name="u1-0000000000000001-0000000000000100")
    write_raw_file(data, [*examples[:5], "not json", '{"uid":1,"params":{}}'], name="u2-a",
                   start=T0 + timedelta(hours=1), seq0=500)
    write_raw_file(data, examples[3:9], name="u1-b", start=T0 + timedelta(days=1), seq0=900)


class ListingCalls:
    """The ``ListObjectsV2`` calls one store makes (a boto3 event hook on its client)."""

    def __init__(self, store: ObjectStore) -> None:
        self.params: list[dict[str, object]] = []
        store.client.meta.events.register("before-parameter-build.s3.ListObjectsV2",
                                          self._record)

    def _record(self, params: dict[str, object], **_: object) -> None:
        self.params.append(dict(params))


def test_transform_on_s3_equals_local_and_lists_incrementally(s3_env, tmp_path, data_dir):
    sample_lake(data_dir)
    remote = data_layout("s3://lake/same")
    store = object_store(remote.remote)
    upload_lake(data_dir, store)
    calls = ListingCalls(store)

    local_summary = transform_lake(data_dir)
    remote_summary = transform_lake(remote)
    assert remote.root == tmp_path / "local"
    assert remote_summary.files_processed == local_summary.files_processed == 3
    assert remote_summary.frames == local_summary.frames
    assert warehouse_contents(remote.root) == warehouse_contents(data_dir)
    assert not (remote.root / "raw").exists()  # nothing of the raw lake stays local
    assert not any((remote.root / "state" / "transform" / "staging").rglob("*.parquet"))
    # the first run, with an empty ledger, lists every raw key once
    assert [(c["Prefix"], c.get("StartAfter")) for c in calls.params] == [("same/raw/", None)]

    # a new day arrives: the second run lists from 3 days before the newest date only
    late = tmp_path / "late"
    write_raw_file(late, list(manual_examples().values())[:4], name="u1-c",
                   start=T0 + timedelta(days=2), seq0=2000)
    upload_lake(late, store)
    calls.params.clear()
    second = transform_lake(remote)
    newest = T0 + timedelta(days=1)
    assert [(c["Prefix"], c.get("StartAfter")) for c in calls.params] == [
        ("same/raw/", f"same/raw/date={newest - timedelta(days=4):%Y-%m-%d}~")]
    assert second.files_processed == 1 and second.files_skipped == 3

    calls.params.clear()
    third = transform_lake(remote, lookback_days=0)
    assert [c.get("StartAfter") for c in calls.params] == [
        f"same/raw/date={T0 + timedelta(days=1):%Y-%m-%d}~"]
    assert third.files_processed == 0 and third.files_skipped == 1
    calls.params.clear()
    full = transform_lake(remote, full_listing=True)
    assert [c.get("StartAfter") for c in calls.params] == [None]
    assert full.files_processed == 0 and full.files_skipped == 4


def test_a_corrupt_object_is_named_by_its_s3_url(s3_env, tmp_path):
    local = tmp_path / "lake"
    good = write_raw_file(local, ['{"uid":1,"params":{"type":"connection","status":1}}'],
                          name="u1-good")
    remote = data_layout("s3://lake/corrupt")
    store = object_store(remote.remote)
    upload_lake(local, store)
    key = good.relative_to(local).as_posix().replace("u1-good", "u1-broken")
    store.put_create_only(key, b"PAR1 this is not parquet")
    expected = re.escape(f"cannot read raw file s3://lake/corrupt/{key}")
    with pytest.raises(TrackitError, match=expected):
        transform_lake(remote)
    assert ledger(remote.root) == {}  # nothing of the batch was stored


def test_secrets_stay_out_of_logs_and_errors(s3, s3_env, tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    logging.getLogger("botocore").setLevel(logging.DEBUG)  # as a debugging operator might
    local = tmp_path / "lake"
    write_raw_file(local, ['{"uid":1,"params":{"type":"connection","status":1}}'],
                   name="u1-x")
    remote = data_layout("s3://lake/secrets")
    upload_lake(local, object_store(remote.remote))
    transform_lake(remote)
    # a wrong secret: the error names the location and what to check, not the secret
    wrong = S3Settings(region="us-east-1", endpoint_url=s3.endpoint,
                       access_key_id=s3.access_key, secret_access_key="W" * 40)
    with pytest.raises(ObjectStoreError) as refused:
        list(ObjectStore(ObjectStoreUrl.parse("s3://lake/secrets"), wrong).list("raw/"))
    message = str(refused.value)
    assert "s3://lake/secrets/raw" in message and "AWS_SECRET_ACCESS_KEY" in message
    assert "W" * 12 not in message
    assert caplog.records, "nothing was logged at DEBUG"
    assert s3.secret_key not in caplog.text and s3.secret_key[:8] not in caplog.text
    assert "Signature=" not in caplog.text
    # the command line at DEBUG: the same
    done = subprocess.run([sys.executable, "-m", "trackit", "--log-level", "DEBUG",
                           "transform", "--data", "s3://lake/secrets", "--quiet"],
                          capture_output=True, text=True, cwd=tmp_path, timeout=300,
                          env={**_base_env(), **s3_env})
    assert done.returncode == 0, done.stderr[-2000:]
    for text in (done.stdout, done.stderr):
        assert s3.secret_key not in text and "Signature=" not in text
    assert "already done: 1" in done.stdout


def _base_env() -> dict[str, str]:
    import os

    return {name: value for name, value in os.environ.items() if not name.startswith("AWS_")}


def test_layout_of_an_s3_location(s3_env, tmp_path):
    layout = data_layout("s3://lake/some/prefix")
    assert layout == DataLayout(tmp_path / "local", ObjectStoreUrl("lake", "some/prefix"))
    assert layout.remote is not None and layout.remote.url("raw/x") == \
        "s3://lake/some/prefix/raw/x"
    assert str(layout) == "s3://lake/some/prefix"
