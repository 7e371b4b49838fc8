"""The many-machines layout on real servers: the catalog on PostgreSQL, the warehouse's
data files on S3 (SeaweedFS) under ``s3://bucket/prefix/warehouse/data/``: the same
marts as a local warehouse, nothing on local disk, maintenance there, ``trackit sql``
from an empty folder, and a missing bucket named in one line."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from real_servers import PostgresServer, S3Server, s3_server
from shared_warehouse import copy_raw, mart_rows, password_postgres, trackit, write_raw_lake

from lake.catalog import CATALOG_ENV
from lake.ducklake import open_warehouse
from lake.layout import DataLayout
from lake.object_store import ObjectStoreError, ObjectStoreUrl, S3Settings
from transforms.pipeline import transform_lake
from warehouse.build import build_warehouse
from warehouse.maintenance import maintain_warehouse

pytestmark = [pytest.mark.distributed, pytest.mark.timeout(1200)]
PREFIX = "fleet"


@pytest.fixture(scope="module")
def servers() -> Iterator[tuple[S3Server, PostgresServer, str]]:
    with s3_server(bucket="lake") as s3, password_postgres() as (pg, url):
        yield s3, pg, url


@pytest.fixture
def environment(servers: tuple[S3Server, PostgresServer, str],
                monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    s3, _, url = servers
    env = {**s3.aws_environment(), CATALOG_ENV: url}
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    return env


def upload_raw(s3: S3Server, data: Path) -> None:
    """The raw files also under the bucket's prefix, where an object-store lake has them."""
    client = S3Settings.from_environment().client()
    for path in sorted((data / "raw").rglob("*.parquet")):
        client.put_object(Bucket=s3.bucket, Key=f"{PREFIX}/{path.relative_to(data).as_posix()}",
                          Body=path.read_bytes())


def bucket_files(s3: S3Server, under: str) -> list[str]:
    from pyarrow import fs

    selector = fs.FileSelector(f"{s3.bucket}/{under}", recursive=True, allow_not_found=True)
    return [info.path for info in s3.filesystem().get_file_info(selector)  # type: ignore[attr-defined]
            if info.type == fs.FileType.File and info.path.endswith(".parquet")]


def test_warehouse_data_on_s3_with_a_postgres_catalog(
        servers: tuple[S3Server, PostgresServer, str], environment: dict[str, str],
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    s3, _, _ = servers
    raw = tmp_path / "raw-lake"
    write_raw_lake(raw)
    local = copy_raw(raw, tmp_path / "local")
    with monkeypatch.context() as patch:
        patch.delenv(CATALOG_ENV)
        transform_lake(local)
        build_warehouse(local)
        with open_warehouse(local, read_only=True) as con:
            expected = mart_rows(con)

    root = copy_raw(raw, tmp_path / "machine-a")
    upload_raw(s3, root)
    layout = DataLayout(root, remote=ObjectStoreUrl(s3.bucket, PREFIX))
    transform_lake(layout)
    build_warehouse(layout)
    files = bucket_files(s3, f"{PREFIX}/warehouse/data")
    assert files, "no data file in the bucket"
    assert not list((root / "warehouse").rglob("*.parquet")), "data files on local disk"
    assert not (root / "warehouse" / "catalog.sqlite").exists()
    with open_warehouse(layout, read_only=True) as con:
        assert mart_rows(con) == expected

    summary = maintain_warehouse(layout)
    assert summary.files_before == len(files)
    assert summary.files_after == len(bucket_files(s3, f"{PREFIX}/warehouse/data"))
    with open_warehouse(layout, read_only=True) as con:
        assert mart_rows(con) == expected

    # an analyst's machine: no data dir, the catalog says where the files are
    analyst = tmp_path / "analyst"
    analyst.mkdir()
    done = trackit("sql", "--format", "csv", "select count(*) as n from marts.trips",
                   cwd=analyst, env=environment)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["n", str(len(expected["trips"]))]
    assert list(analyst.iterdir()) == []
    assert s3.secret_key not in done.stderr + done.stdout


def test_a_missing_bucket_is_named_in_one_line_without_the_secret(
        servers: tuple[S3Server, PostgresServer, str], environment: dict[str, str],
        tmp_path: Path) -> None:
    s3, _, _ = servers
    root = tmp_path / "data"
    root.mkdir()
    layout = DataLayout(root, remote=ObjectStoreUrl("no-such-bucket", PREFIX))
    with pytest.raises(ObjectStoreError) as raised:
        build_warehouse(layout)
    message = str(raised.value)
    assert "the bucket no-such-bucket at http://127.0.0.1:" in message
    assert "does not exist" in message
    assert "\n" not in message
    assert s3.secret_key not in message
