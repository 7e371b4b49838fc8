"""Every warehouse command as an operator runs it, ``--data s3://bucket/prefix``, on real
servers (SeaweedFS, PostgreSQL): ``trackit transform``, ``build``, ``maintain`` and
``sql`` as separate processes with the default SQLite catalog (local, under
``TRACKIT_LOCAL`` or ``./data``) and with ``--catalog postgresql://...``, then the
``trackit_warehouse`` DAG with ``dag.test()`` and ``TRACKIT_DATA=s3://...``. Each gives
the marts of a local run over the same raw files, and no Parquet file of the warehouse
lands on local disk."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from real_servers import REPO, PostgresServer, S3Server, s3_server
from shared_warehouse import (
    CATALOG_USER,
    catalog_url,
    copy_raw,
    mart_rows,
    password_postgres,
    trackit,
    write_raw_lake,
)

from lake.catalog import CATALOG_ENV
from lake.ducklake import open_warehouse
from lake.layout import DataLayout
from lake.object_store import ObjectStoreUrl, S3Settings
from transforms.pipeline import transform_lake
from warehouse.build import build_warehouse

pytestmark = [pytest.mark.distributed, pytest.mark.timeout(1200)]
MartRows = dict[str, list[tuple]]


@pytest.fixture(scope="module")
def servers() -> Iterator[tuple[S3Server, PostgresServer, str]]:
    with s3_server(bucket="lake") as s3, password_postgres() as (pg, url):
        yield s3, pg, url


@pytest.fixture(scope="module")
def raw_lake(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("raw-lake")
    write_raw_lake(folder)
    return folder


@pytest.fixture(scope="module")
def expected(raw_lake: Path, tmp_path_factory: pytest.TempPathFactory) -> MartRows:
    """The marts of a local run (SQLite catalog, local data files) over the raw files."""
    local = copy_raw(raw_lake, tmp_path_factory.mktemp("local-run"))
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv(CATALOG_ENV, raising=False)
        transform_lake(local)
        build_warehouse(local)
        with open_warehouse(local, read_only=True) as con:
            return mart_rows(con)


@pytest.fixture
def aws(servers: tuple[S3Server, PostgresServer, str],
        monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The AWS settings of the test's S3 server, in this process and for the commands."""
    env = servers[0].aws_environment()
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    for key in ("AWS_PROFILE", CATALOG_ENV, "TRACKIT_DATA", "TRACKIT_LOCAL", "TRACKIT_TZ"):
        monkeypatch.delenv(key, raising=False)
    return env


def upload_raw(s3: S3Server, raw_lake: Path, prefix: str) -> None:
    client = S3Settings.from_environment().client()
    for path in sorted((raw_lake / "raw").rglob("*.parquet")):
        client.put_object(Bucket=s3.bucket, Body=path.read_bytes(),
                          Key=f"{prefix}/{path.relative_to(raw_lake).as_posix()}")


def bucket_parquet(s3: S3Server, under: str) -> list[str]:
    client = S3Settings.from_environment().client()
    pages = client.get_paginator("list_objects_v2").paginate(Bucket=s3.bucket, Prefix=under)
    return [item["Key"] for page in pages for item in page.get("Contents", [])
            if item["Key"].endswith(".parquet")]


def local_parquet(*folders: Path) -> list[Path]:
    return [path for folder in folders for path in folder.rglob("*.parquet")]


def run_ok(*args: str, cwd: Path, env: dict[str, str]) -> str:
    done = trackit(*args, cwd=cwd, env=env)
    assert done.returncode == 0, f"trackit {args[0]}: {done.stderr[-3000:]}"
    return done.stdout


def check_commands(s3: S3Server, location: str, prefix: str, *, cwd: Path,
                   env: dict[str, str], extra: tuple[str, ...] = ()) -> str:
    """transform, build, maintain and sql of ``location`` as four processes; the csv
    output of ``trackit sql`` counting the trips."""
    data = ("--data", location, *extra)
    run_ok("transform", *data, cwd=cwd, env=env)
    built = run_ok("build", *data, cwd=cwd, env=env)
    assert "snapshot" in built or "marts" in built, built
    assert bucket_parquet(s3, f"{prefix}/warehouse/data/"), "no data file in the bucket"
    maintained = run_ok("maintain", *data, cwd=cwd, env=env)
    assert maintained.startswith("maintain: "), maintained
    return run_ok("sql", *data, "--format", "csv",
                  "select count(*) as n from marts.trips", cwd=cwd, env=env)


def test_the_commands_with_a_local_sqlite_catalog_and_data_on_s3(
        servers: tuple[S3Server, PostgresServer, str], aws: dict[str, str],
        raw_lake: Path, expected: MartRows, tmp_path: Path) -> None:
    s3 = servers[0]
    prefix = "sqlite-catalog"
    upload_raw(s3, raw_lake, prefix)
    work = tmp_path / "work"  # no TRACKIT_LOCAL: the local part is ./data
    work.mkdir()
    location = f"s3://{s3.bucket}/{prefix}"

    csv = check_commands(s3, location, prefix, cwd=work, env=aws)
    assert csv.splitlines() == ["n", str(len(expected["trips"]))]

    local = work / "data"
    assert (local / "warehouse" / "catalog.sqlite").is_file()
    assert not (local / "warehouse" / "data").exists(), "a local warehouse data folder"
    assert local_parquet(work) == [], "Parquet files on local disk"
    layout = DataLayout(local, remote=ObjectStoreUrl(s3.bucket, prefix))
    with open_warehouse(layout, read_only=True) as con:
        assert mart_rows(con) == expected


def test_the_commands_with_a_postgres_catalog_and_data_on_s3(
        servers: tuple[S3Server, PostgresServer, str], aws: dict[str, str],
        raw_lake: Path, expected: MartRows, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    s3, _, url = servers
    prefix = "postgres-catalog"
    upload_raw(s3, raw_lake, prefix)
    work, state = tmp_path / "work", tmp_path / "state"
    work.mkdir()
    env = {**aws, "TRACKIT_LOCAL": str(state)}
    location = f"s3://{s3.bucket}/{prefix}"

    csv = check_commands(s3, location, prefix, cwd=work, env=env, extra=("--catalog", url))
    assert csv.splitlines() == ["n", str(len(expected["trips"]))]

    assert list(work.iterdir()) == []
    assert not (state / "warehouse" / "catalog.sqlite").exists()
    assert local_parquet(work, state) == [], "Parquet files on local disk"
    monkeypatch.setenv(CATALOG_ENV, url)
    with open_warehouse(DataLayout(state, ObjectStoreUrl(s3.bucket, prefix)),
                        read_only=True) as con:
        assert mart_rows(con) == expected
    assert s3.secret_key not in csv


RUN_DAG = f"""
import sys
from datetime import UTC, datetime
from airflow.dag_processing.dagbag import DagBag
bag = DagBag(dag_folder={str(REPO / "dags" / "trackit_warehouse.py")!r})
assert not bag.import_errors, bag.import_errors
run = bag.get_dag("trackit_warehouse").test(logical_date=datetime(2026, 3, 3, tzinfo=UTC))
states = sorted((ti.task_id, str(ti.state)) for ti in run.get_task_instances())
print("RUN-STATE", run.state, states, flush=True)
"""


def test_the_warehouse_dag_with_trackit_data_on_s3_and_a_postgres_catalog(
        servers: tuple[S3Server, PostgresServer, str], aws: dict[str, str],
        raw_lake: Path, expected: MartRows, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    s3, pg, _ = servers
    pg.psql(f"create database dag_catalog owner {CATALOG_USER}")
    url = catalog_url(pg).rsplit("/", 1)[0] + "/dag_catalog"
    prefix = "dag"
    upload_raw(s3, raw_lake, prefix)
    home, state = tmp_path / "airflow", tmp_path / "state"
    home.mkdir()
    env = {
        **aws, "AIRFLOW_HOME": str(home), "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False", "PYTHONPATH": str(REPO),
        "TRACKIT_DATA": f"s3://{s3.bucket}/{prefix}", "TRACKIT_LOCAL": str(state),
        CATALOG_ENV: url,
    }
    env = {**{k: v for k, v in os.environ.items()
              if k not in ("TRACKIT_TZ", "AWS_PROFILE")}, **env}
    migrated = subprocess.run([sys.executable, "-m", "airflow", "db", "migrate"], env=env,
                              cwd=home, capture_output=True, text=True, timeout=300)
    assert migrated.returncode == 0, migrated.stderr[-3000:]
    done = subprocess.run([sys.executable, "-c", RUN_DAG], env=env, cwd=home,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, (done.stdout + done.stderr)[-4000:]
    line = next(row for row in done.stdout.splitlines() if row.startswith("RUN-STATE"))
    assert line == ("RUN-STATE success [('build', 'success'), ('maintain', 'success'), "
                    "('transform', 'success')]"), line

    assert bucket_parquet(s3, f"{prefix}/warehouse/data/")
    assert local_parquet(home, state) == [], "Parquet files on local disk"
    assert not (state / "warehouse" / "data").exists()
    monkeypatch.setenv(CATALOG_ENV, url)
    with open_warehouse(DataLayout(state, ObjectStoreUrl(s3.bucket, prefix)),
                        read_only=True) as con:
        assert mart_rows(con) == expected


def test_places_imported_on_one_machine_are_built_on_another(
        servers: tuple[S3Server, PostgresServer, str], aws: dict[str, str],
        raw_lake: Path, tmp_path: Path) -> None:
    s3, pg, _ = servers
    pg.psql(f"create database places_catalog owner {CATALOG_USER}")
    url = catalog_url(pg).rsplit("/", 1)[0] + "/places_catalog"
    prefix = "places"
    upload_raw(s3, raw_lake, prefix)
    places = tmp_path / "places.csv"
    places.write_text("name,lat,lon,radius_m\ndepot,50.0,8.0,300\n")
    location = ("--data", f"s3://{s3.bucket}/{prefix}", "--catalog", url)
    machine_a = {**aws, "TRACKIT_LOCAL": str(tmp_path / "a")}
    machine_b = {**aws, "TRACKIT_LOCAL": str(tmp_path / "b")}

    imported = run_ok("places", "import", str(places), *location, cwd=tmp_path, env=machine_a)
    assert f"s3://{s3.bucket}/{prefix}/reference/places.parquet" in imported
    assert bucket_parquet(s3, f"{prefix}/reference/") == [f"{prefix}/reference/places.parquet"]
    run_ok("transform", *location, cwd=tmp_path, env=machine_b)
    run_ok("build", *location, cwd=tmp_path, env=machine_b)
    csv = run_ok("sql", *location, "--format", "csv", "select name from core.places",
                 cwd=tmp_path, env=machine_a)
    assert csv.splitlines() == ["name", "depot"]
    # a build on a third machine keeps them: the set is read from the bucket, not ./data
    run_ok("build", *location, cwd=tmp_path, env={**aws, "TRACKIT_LOCAL": str(tmp_path / "c")})
    assert run_ok("sql", *location, "--format", "csv", "select count(*) as n from core.places",
                  cwd=tmp_path, env=machine_b).splitlines() == ["n", "1"]
